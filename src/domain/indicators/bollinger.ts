import {
  checkDeviation,
  checkFiniteOption,
  checkPeriod,
  type Deviation,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';
import { RollingMoments } from './moments.ts';

export interface BollingerBandsOptions {
  /** Window length (default 20). */
  readonly period?: number;
  /** Band distance in standard deviations (default 2). */
  readonly multiplier?: number;
  /** 'population' (StockCharts, Bollinger's own definition; the default) or 'sample'. */
  readonly deviation?: Deviation;
}

export interface BollingerBandsValue {
  /** SMA of the window. */
  readonly middle: number;
  readonly upper: number;
  readonly lower: number;
  /** BandWidth in percent: (upper − lower) / middle × 100; undefined when middle is 0. */
  readonly width?: number;
  /** %B of the latest input: (x − lower) / (upper − lower); undefined when the bands touch. */
  readonly percentB?: number;
}

export interface BollingerBandsSnapshot extends IndicatorSnapshotBase {
  readonly type: 'BollingerBands';
  readonly version: 1;
  readonly period: number;
  readonly multiplier: number;
  readonly deviation: Deviation;
  readonly last?: number;
  readonly head: number;
  readonly window: number[];
  readonly mean: number;
  readonly m2: number;
}

interface MutableBands {
  middle: number;
  upper: number;
  lower: number;
  width: number | undefined;
  percentB: number | undefined;
}

/**
 * Bollinger Bands: middle = SMA(period), bands at ± multiplier standard deviations of the same
 * window. The returned object is reused and overwritten by the next update (copy it to keep it).
 */
export class BollingerBands implements Indicator<number, BollingerBandsValue, BollingerBandsSnapshot> {
  readonly type = 'BollingerBands' as const;
  readonly period: number;
  readonly multiplier: number;
  readonly deviation: Deviation;
  readonly requiredInputs: number;
  private moments: RollingMoments;
  private readonly sample: boolean;
  private last = 0;
  private readonly out: MutableBands = {
    middle: 0,
    upper: 0,
    lower: 0,
    // NaN, not undefined: keeps these double fields, so updating them never allocates
    width: Number.NaN,
    percentB: Number.NaN,
  };
  private current: BollingerBandsValue | undefined = undefined;

  constructor(options: BollingerBandsOptions = {}) {
    this.deviation = checkDeviation('BollingerBands', options?.deviation, 'population');
    this.sample = this.deviation === 'sample';
    this.period = checkPeriod('BollingerBands', 'period', options?.period ?? 20, this.sample ? 2 : 1);
    this.multiplier = checkFiniteOption('BollingerBands', 'multiplier', options?.multiplier ?? 2, 0);
    this.requiredInputs = this.period;
    this.moments = new RollingMoments(this.period);
  }

  get value(): BollingerBandsValue | undefined {
    return this.current;
  }

  get isStable(): boolean {
    return this.current !== undefined;
  }

  update(price: number): BollingerBandsValue | undefined {
    if (!Number.isFinite(price)) rejectNumber('BollingerBands', 'value', price);
    const m = this.moments;
    m.push(price);
    this.last = price;
    if (m.filled === this.period) this.compute();
    return this.current;
  }

  private compute(): void {
    const m = this.moments;
    const out = this.out;
    const middle = m.mean;
    const offset = this.multiplier * m.stdDev(this.sample);
    const upper = middle + offset;
    const lower = middle - offset;
    const range = upper - lower;
    out.middle = middle;
    out.upper = upper;
    out.lower = lower;
    out.width = middle !== 0 ? (range / middle) * 100 : undefined;
    out.percentB = range > 0 ? (this.last - lower) / range : undefined;
    this.current = out;
  }

  snapshot(): BollingerBandsSnapshot {
    const s = {
      type: 'BollingerBands',
      version: 1,
      period: this.period,
      multiplier: this.multiplier,
      deviation: this.deviation,
      ...this.moments.toJson(),
    };
    return (this.moments.filled === 0 ? s : { ...s, last: this.last }) as BollingerBandsSnapshot;
  }

  static restore(snapshot: unknown): BollingerBands {
    const r = new SnapshotReader('BollingerBands', snapshot, 1);
    const deviation = r.oneOf('deviation', ['population', 'sample'] as const);
    const multiplier = r.number('multiplier');
    if (multiplier < 0) r.fail('multiplier', `must not be negative, got ${multiplier}`);
    const period = r.int('period', deviation === 'sample' ? 2 : 1, MAX_PERIOD);
    const bb = new BollingerBands({ period, multiplier, deviation });
    bb.moments = RollingMoments.fromSnapshot(r, period);
    if (bb.moments.filled > 0) bb.last = r.number('last');
    if (bb.moments.full) bb.compute();
    return bb;
  }
}
