import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';

export interface EMAOptions {
  readonly period: number;
}

export interface EMASnapshot extends IndicatorSnapshotBase {
  readonly type: 'EMA';
  readonly version: 1;
  readonly period: number;
  /** Inputs seen, capped at `period` (warm-up progress). */
  readonly count: number;
  /** While warming up: the sum of the inputs so far; afterwards: the EMA. */
  readonly acc: number;
}

/**
 * Exponential moving average EMA = k·price + (1 − k)·EMA(prev) with k = 2 / (period + 1), seeded with the simple average of
 * its first `period` inputs (as StockCharts computes it): undefined until `period` inputs.
 */
export class EMA implements Indicator<number, number, EMASnapshot> {
  readonly type = 'EMA' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private readonly k: number;
  private readonly decay: number;
  private count = 0;
  private acc = 0;
  /** The latest value; a double field that never holds undefined, so stores never allocate. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: EMAOptions) {
    this.period = checkPeriod('EMA', 'period', options?.period);
    this.requiredInputs = this.period;
    this.k = 2 / (this.period + 1);
    this.decay = 1 - this.k;
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(price: number): number | undefined {
    if (!Number.isFinite(price)) rejectNumber('EMA', 'value', price);
    if (this.count === this.period) {
      // k·x + (1 − k)·prev: one multiply and one add on the loop-carried dependency.
      const ema = price * this.k + this.acc * this.decay;
      this.acc = ema;
      this.cur = ema;
      return ema;
    } else {
      this.acc += price;
      if (++this.count === this.period) {
        this.acc /= this.period;
        this.cur = this.acc;
        this.ready = true;
        return this.cur;
      }
    }
    return undefined;
  }

  snapshot(): EMASnapshot {
    return { type: 'EMA', version: 1, period: this.period, count: this.count, acc: this.acc };
  }

  static restore(snapshot: unknown): EMA {
    const r = new SnapshotReader('EMA', snapshot, 1);
    const ema = new EMA({ period: r.int('period', 1, MAX_PERIOD) });
    ema.count = r.int('count', 0, ema.period);
    ema.acc = r.number('acc');
    if (ema.count === ema.period) {
      ema.cur = ema.acc;
      ema.ready = true;
    }
    return ema;
  }
}
