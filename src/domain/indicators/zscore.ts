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

/** Version 1 (earlier releases, still read): the window of returns itself. */
export interface ReturnsZScoreSnapshotV1 extends IndicatorSnapshotBase {
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
 * Version 2: the prices the window's returns were computed from, oldest first, ending with the
 * latest price (n returns, n + 1 prices). Each return is recomputed on restore by the same division,
 * so it comes back bit for bit; prices are exact decimals, which a snapshot codec stores in about
 * two bytes each where a return takes eight.
 */
export interface ReturnsZScoreSnapshotV2 extends IndicatorSnapshotBase {
  readonly type: 'ReturnsZScore';
  readonly version: 2;
  readonly period: number;
  readonly deviation: Deviation;
  readonly z?: number | 'Infinity' | '-Infinity';
  /** Ring slot the next return goes to (the window's returns are stored oldest first). */
  readonly head: number;
  readonly prices: number[];
  readonly mean: number;
  readonly m2: number;
}

export type ReturnsZScoreSnapshot = ReturnsZScoreSnapshotV1 | ReturnsZScoreSnapshotV2;

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
  /** bases[slot] = the price the return in that ring slot was computed from. */
  private readonly bases: Float64Array;
  /** Ring slots whose base price is known (all of them but after a restore from version 1). */
  private knownBases = 0;
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
    this.bases = new Float64Array(this.period);
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
    const r = returnOf(price, this.previous);
    const m = this.moments;
    this.bases[m.head] = this.previous;
    if (this.knownBases < this.period) this.knownBases++;
    this.previous = price;
    if (m.filled === this.period) {
      const sd = m.stdDev(this.sample);
      const d = r - m.mean;
      this.cur = sd > 0 ? d / sd : d === 0 ? 0 : d > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      this.ready = true;
    }
    m.push(r);
    return this.ready ? this.cur : undefined;
  }

  /**
   * Version 2 (prices) once the base price of every return in the window is known; until then (for
   * fewer than `period` updates after a restore from version 1) version 1 (the returns).
   */
  snapshot(): ReturnsZScoreSnapshot {
    const v = this.value;
    const z = v === undefined ? {} : { z: Number.isFinite(v) ? v : v > 0 ? 'Infinity' : '-Infinity' };
    const m = this.moments;
    if (this.knownBases < m.filled) {
      return {
        type: 'ReturnsZScore',
        version: 1,
        period: this.period,
        deviation: this.deviation,
        ...(this.hasPrevious ? { previous: this.previous } : {}),
        ...(z as Pick<ReturnsZScoreSnapshotV1, 'z'>),
        ...m.toJson(),
      };
    }
    // Oldest first: a full ring starts at head, a filling one at slot 0.
    const n = m.filled;
    const start = n === this.period ? m.head : 0;
    const prices = new Array<number>(this.hasPrevious ? n + 1 : 0);
    for (let k = 0; k < n; k++) prices[k] = this.bases[(start + k) % this.period]!;
    if (this.hasPrevious) prices[n] = this.previous;
    return {
      type: 'ReturnsZScore',
      version: 2,
      period: this.period,
      deviation: this.deviation,
      ...(z as Pick<ReturnsZScoreSnapshotV2, 'z'>),
      head: m.head,
      prices,
      mean: m.mean,
      m2: m.m2,
    };
  }

  static restore(snapshot: unknown): ReturnsZScore {
    const r = new SnapshotReader('ReturnsZScore', snapshot, [1, 2]);
    const deviation = r.oneOf('deviation', ['population', 'sample'] as const);
    const x = new ReturnsZScore({
      period: r.int('period', deviation === 'sample' ? 2 : 1, MAX_PERIOD),
      deviation,
    });
    if (r.version === 1) {
      const previous = r.optionalNumber('previous');
      if (previous !== undefined) {
        if (!(previous > 0)) r.fail('previous', `must be a positive price, got ${previous}`);
        x.hasPrevious = true;
        x.previous = previous;
      }
      x.moments = RollingMoments.fromSnapshot(r, x.period);
    } else {
      x.restorePrices(r);
    }
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

  /** Version 2: the window's returns recomputed from its prices, each in the ring slot it was in. */
  private restorePrices(r: SnapshotReader): void {
    const p = this.period;
    const prices = r.numbers('prices', p + 1);
    for (let i = 0; i < prices.length; i++) {
      if (!(prices[i]! > 0)) r.fail(`prices[${i}]`, `must be a positive price, got ${prices[i]}`);
    }
    const n = Math.max(0, prices.length - 1);
    const head = r.int('head', 0, p - 1);
    if (n < p && head !== n) {
      r.fail('head', `must be ${n} while the window holds ${n} of ${p} returns, got ${head}`);
    }
    const m = new RollingMoments(p);
    const start = n === p ? head : 0;
    for (let k = 0; k < n; k++) {
      const slot = (start + k) % p;
      m.buf[slot] = returnOf(prices[k + 1]!, prices[k]!);
      this.bases[slot] = prices[k]!;
    }
    m.head = head;
    m.filled = n;
    m.mean = r.number('mean');
    m.m2 = r.number('m2');
    if (m.m2 < 0) r.fail('m2', `must not be negative, got ${m.m2}`);
    this.moments = m;
    this.knownBases = n;
    if (prices.length > 0) {
      this.hasPrevious = true;
      this.previous = prices[n]!;
    }
  }
}

/** The simple 1-period return; the one expression both updating and restoring use. */
function returnOf(price: number, previous: number): number {
  return price / previous - 1;
}
