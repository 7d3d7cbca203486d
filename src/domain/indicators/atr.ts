import {
  checkHighLowClose,
  checkPeriod,
  type HighLowClose,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  SnapshotReader,
} from './contract.ts';

export interface ATROptions {
  readonly period: number;
}

export interface ATRSnapshot extends IndicatorSnapshotBase {
  readonly type: 'ATR';
  readonly version: 1;
  readonly period: number;
  /** Inputs seen, capped at period. */
  readonly count: number;
  /** The previous close (absent before the first input). */
  readonly previousClose?: number;
  /** The sum of true ranges while warming up, the ATR afterwards. */
  readonly acc: number;
}

/**
 * Wilder's Average True Range. True range = max(high − low, |high − previous close|,
 * |low − previous close|); for the very first candle it is high − low. The first ATR is the mean
 * of the first `period` true ranges, then ATR = (previous ATR × (period − 1) + TR) / period.
 */
export class ATR implements Indicator<HighLowClose, number, ATRSnapshot> {
  readonly type = 'ATR' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private count = 0;
  private previousClose = 0;
  private acc = 0;
  private current: number | undefined = undefined;

  constructor(options: ATROptions) {
    this.period = checkPeriod('ATR', 'period', options?.period);
    this.requiredInputs = this.period;
  }

  get value(): number | undefined {
    return this.current;
  }

  get isStable(): boolean {
    return this.current !== undefined;
  }

  update(candle: HighLowClose): number | undefined {
    checkHighLowClose('ATR', candle);
    const { high, low, close } = candle;
    let tr = high - low;
    const c = this.count;
    if (c > 0) {
      const pc = this.previousClose;
      const up = high - pc;
      const down = pc - low;
      if (up > tr) tr = up;
      if (down > tr) tr = down;
    }
    this.previousClose = close;
    const p = this.period;
    if (c === p) {
      this.acc = (this.acc * (p - 1) + tr) / p;
    } else {
      this.acc += tr;
      this.count = c + 1;
      if (c + 1 < p) return undefined;
      this.acc /= p;
    }
    this.current = this.acc;
    return this.acc;
  }

  snapshot(): ATRSnapshot {
    const s = { type: 'ATR', version: 1, period: this.period, count: this.count, acc: this.acc };
    return (this.count === 0 ? s : { ...s, previousClose: this.previousClose }) as ATRSnapshot;
  }

  static restore(snapshot: unknown): ATR {
    const r = new SnapshotReader('ATR', snapshot, 1);
    const atr = new ATR({ period: r.int('period', 1, MAX_PERIOD) });
    atr.count = r.int('count', 0, atr.period);
    if (atr.count > 0) atr.previousClose = r.number('previousClose');
    atr.acc = r.number('acc');
    if (atr.acc < 0) r.fail('acc', `must not be negative, got ${atr.acc}`);
    if (atr.count === atr.period) atr.current = atr.acc;
    return atr;
  }
}
