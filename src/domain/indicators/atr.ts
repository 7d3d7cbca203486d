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
  private readonly weight: number;
  private readonly decay: number;
  private count = 0;
  private previousClose = 0;
  private acc = 0;

  constructor(options: ATROptions) {
    this.period = checkPeriod('ATR', 'period', options?.period);
    this.requiredInputs = this.period;
    this.weight = 1 / this.period;
    this.decay = 1 - this.weight;
  }

  get value(): number | undefined {
    return this.count === this.period ? this.acc : undefined;
  }

  get isStable(): boolean {
    return this.count === this.period;
  }

  update(candle: HighLowClose): number | undefined {
    if (typeof candle !== 'object' || candle === null) checkHighLowClose('ATR', candle);
    const high = candle.high;
    const low = candle.low;
    const close = candle.close;
    // One cheap test on the hot path; the slow path names the bad field (and lets through only an
    // overflowing but finite candle).
    if (!(high >= low) || !Number.isFinite(high + low + close)) checkHighLowClose('ATR', candle);
    const c = this.count;
    const p = this.period;
    if (c === p) {
      // TR = max(high, previous close) − min(low, previous close), written as selects (no
      // unpredictable branches); Wilder (atr·(p − 1) + tr) / p as atr·(1 − 1/p) + tr/p.
      const pc = this.previousClose;
      const tr = (high > pc ? high : pc) - (low < pc ? low : pc);
      this.previousClose = close;
      const atr = this.acc * this.decay + tr * this.weight;
      this.acc = atr;
      return atr;
    }
    let tr = high - low;
    if (c > 0) {
      const pc = this.previousClose;
      tr = (high > pc ? high : pc) - (low < pc ? low : pc);
    }
    this.previousClose = close;
    this.acc += tr;
    this.count = c + 1;
    if (c + 1 < p) return undefined;
    this.acc /= p;
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
    return atr;
  }
}
