import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';

export interface RSIOptions {
  readonly period: number;
}

export interface RSISnapshot extends IndicatorSnapshotBase {
  readonly type: 'RSI';
  readonly version: 1;
  readonly period: number;
  /** Inputs seen, capped at period + 1. */
  readonly count: number;
  /** The previous input (absent before the first). */
  readonly previous?: number;
  /** Sums of gains/losses while warming up, Wilder averages afterwards. */
  readonly gain: number;
  readonly loss: number;
}

/**
 * Wilder's Relative Strength Index. The first averages are the simple means of the first `period`
 * gains and losses (so the first value comes with input period + 1); afterwards
 * avg = (previous avg × (period − 1) + current) / period. RSI = 100 × avgGain / (avgGain + avgLoss),
 * i.e. 100 − 100 / (1 + RS); 100 when there were no losses, 50 when there was no movement at all.
 */
export class RSI implements Indicator<number, number, RSISnapshot> {
  readonly type = 'RSI' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private count = 0;
  private previous = 0;
  private gain = 0;
  private loss = 0;
  private current: number | undefined = undefined;

  constructor(options: RSIOptions) {
    this.period = checkPeriod('RSI', 'period', options?.period);
    this.requiredInputs = this.period + 1;
  }

  get value(): number | undefined {
    return this.current;
  }

  get isStable(): boolean {
    return this.current !== undefined;
  }

  update(price: number): number | undefined {
    if (!Number.isFinite(price)) rejectNumber('RSI', 'value', price);
    const c = this.count;
    if (c === 0) {
      this.previous = price;
      this.count = 1;
      return undefined;
    }
    const change = price - this.previous;
    this.previous = price;
    const g = Math.max(change, 0);
    const l = Math.max(-change, 0);
    const p = this.period;
    if (c > p) {
      this.gain = (this.gain * (p - 1) + g) / p;
      this.loss = (this.loss * (p - 1) + l) / p;
    } else {
      this.gain += g;
      this.loss += l;
      this.count = c + 1;
      if (c < p) return undefined;
      this.gain /= p;
      this.loss /= p;
    }
    const rsi = rsiOf(this.gain, this.loss);
    this.current = rsi;
    return rsi;
  }

  snapshot(): RSISnapshot {
    const s = {
      type: 'RSI',
      version: 1,
      period: this.period,
      count: this.count,
      gain: this.gain,
      loss: this.loss,
    };
    return (this.count === 0 ? s : { ...s, previous: this.previous }) as RSISnapshot;
  }

  static restore(snapshot: unknown): RSI {
    const r = new SnapshotReader('RSI', snapshot, 1);
    const rsi = new RSI({ period: r.int('period', 1, MAX_PERIOD) });
    rsi.count = r.int('count', 0, rsi.period + 1);
    if (rsi.count > 0) rsi.previous = r.number('previous');
    rsi.gain = r.number('gain');
    rsi.loss = r.number('loss');
    if (rsi.gain < 0) r.fail('gain', `must not be negative, got ${rsi.gain}`);
    if (rsi.loss < 0) r.fail('loss', `must not be negative, got ${rsi.loss}`);
    if (rsi.count > rsi.period) rsi.current = rsiOf(rsi.gain, rsi.loss);
    return rsi;
  }
}

function rsiOf(gain: number, loss: number): number {
  const total = gain + loss;
  return total === 0 ? 50 : (100 * gain) / total;
}
