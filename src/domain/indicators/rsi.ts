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
  private readonly weight: number;
  private readonly decay: number;
  private count = 0;
  private previous = 0;
  private gain = 0;
  private loss = 0;
  /** The latest value; a double field that never holds undefined, so stores never allocate. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: RSIOptions) {
    this.period = checkPeriod('RSI', 'period', options?.period);
    this.requiredInputs = this.period + 1;
    this.weight = 1 / this.period;
    this.decay = 1 - this.weight;
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
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
    // gain = max(change, 0), loss = max(−change, 0), computed without a branch (the sign of a
    // price change is unpredictable) and exactly: change + |change| is 2·change or 0.
    const g = 0.5 * (change + Math.abs(change));
    const l = g - change;
    const p = this.period;
    if (c > p) {
      // (avg·(p − 1) + x) / p, as avg·(1 − 1/p) + x/p: no division on the loop-carried chain.
      const gain = this.gain * this.decay + g * this.weight;
      const loss = this.loss * this.decay + l * this.weight;
      this.gain = gain;
      this.loss = loss;
      const total = gain + loss;
      const rsi = total === 0 ? 50 : (100 * gain) / total;
      this.cur = rsi;
      return rsi;
    } else {
      this.gain += g;
      this.loss += l;
      this.count = c + 1;
      if (c < p) return undefined;
      this.gain /= p;
      this.loss /= p;
    }
    this.cur = rsiOf(this.gain, this.loss);
    this.ready = true;
    return this.cur;
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
    if (rsi.count > rsi.period) {
      rsi.cur = rsiOf(rsi.gain, rsi.loss);
      rsi.ready = true;
    }
    return rsi;
  }
}

function rsiOf(gain: number, loss: number): number {
  const total = gain + loss;
  return total === 0 ? 50 : (100 * gain) / total;
}
