import {
  checkDeviation,
  checkPeriod,
  type Deviation,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectPrice,
  SnapshotReader,
} from './contract.ts';
import { RollingMoments } from './moments.ts';

export interface ReturnsZScoreOptions {
  /** How many previous 1-period returns form the reference window. */
  readonly period: number;
  /** Standard deviation of the reference window: 'sample' (default) or 'population'. */
  readonly deviation?: Deviation;
}

export interface ReturnsZScoreSnapshot extends IndicatorSnapshotBase {
  readonly type: 'ReturnsZScore';
  readonly version: 1;
  readonly period: number;
  readonly deviation: Deviation;
  readonly previous?: number;
  /** The latest z-score; ±Infinity are written as the strings 'Infinity' / '-Infinity'. */
  readonly z?: number | 'Infinity' | '-Infinity';
  readonly head: number;
  readonly window: number[];
  readonly mean: number;
  readonly m2: number;
}

/**
 * z-score of the latest simple 1-period return r = price / previous − 1 against the mean and
 * standard deviation of the `period` returns BEFORE it (the latest return is scored, then joins
 * the window, so an outlier does not dilute its own score). Inputs must be positive prices; the
 * first value comes with input period + 2. When the reference window has zero deviation the score
 * is 0 if the return equals the window mean and ±Infinity otherwise.
 */
export class ReturnsZScore implements Indicator<number, number, ReturnsZScoreSnapshot> {
  readonly type = 'ReturnsZScore' as const;
  readonly period: number;
  readonly deviation: Deviation;
  readonly requiredInputs: number;
  private moments: RollingMoments;
  private readonly sample: boolean;
  private hasPrevious = false;
  private previous = 0;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: ReturnsZScoreOptions) {
    this.deviation = checkDeviation('ReturnsZScore', options?.deviation, 'sample');
    this.sample = this.deviation === 'sample';
    this.period = checkPeriod('ReturnsZScore', 'period', options?.period, this.sample ? 2 : 1);
    this.requiredInputs = this.period + 2;
    this.moments = new RollingMoments(this.period);
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(price: number): number | undefined {
    if (!(price > 0) || price === Number.POSITIVE_INFINITY) rejectPrice('ReturnsZScore', 'value', price);
    if (!this.hasPrevious) {
      this.hasPrevious = true;
      this.previous = price;
      return undefined;
    }
    const r = price / this.previous - 1;
    this.previous = price;
    const m = this.moments;
    if (m.filled === this.period) {
      const sd = m.stdDev(this.sample);
      const d = r - m.mean;
      this.cur = sd > 0 ? d / sd : d === 0 ? 0 : d > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      this.ready = true;
    }
    m.push(r);
    return this.ready ? this.cur : undefined;
  }

  snapshot(): ReturnsZScoreSnapshot {
    const z = this.value;
    return {
      type: 'ReturnsZScore',
      version: 1,
      period: this.period,
      deviation: this.deviation,
      ...(this.hasPrevious ? { previous: this.previous } : {}),
      ...(z === undefined ? {} : { z: Number.isFinite(z) ? z : z > 0 ? 'Infinity' : '-Infinity' }),
      ...this.moments.toJson(),
    };
  }

  static restore(snapshot: unknown): ReturnsZScore {
    const r = new SnapshotReader('ReturnsZScore', snapshot, 1);
    const deviation = r.oneOf('deviation', ['population', 'sample'] as const);
    const x = new ReturnsZScore({
      period: r.int('period', deviation === 'sample' ? 2 : 1, MAX_PERIOD),
      deviation,
    });
    const previous = r.optionalNumber('previous');
    if (previous !== undefined) {
      if (!(previous > 0)) r.fail('previous', `must be a positive price, got ${previous}`);
      x.hasPrevious = true;
      x.previous = previous;
    }
    x.moments = RollingMoments.fromSnapshot(r, x.period);
    const z = r.raw('z');
    const value =
      z === 'Infinity'
        ? Number.POSITIVE_INFINITY
        : z === '-Infinity'
          ? Number.NEGATIVE_INFINITY
          : r.optionalNumber('z');
    if (value !== undefined) {
      x.cur = value;
      x.ready = true;
    }
    if (x.moments.filled > 0 && !x.hasPrevious) r.fail('previous', 'is required once returns have been seen');
    if (x.ready && !x.moments.full) {
      r.fail('z', `cannot exist before the window holds ${x.period} returns`);
    }
    return x;
  }
}
