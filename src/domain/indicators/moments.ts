import type { SnapshotReader } from './contract.ts';
import { ringFromSnapshot, ringToJson } from './ring.ts';

/** The JSON form of a {@link RollingMoments} (embedded in the owning indicator's snapshot). */
export interface RollingMomentsJson {
  readonly head: number;
  readonly window: number[];
  readonly mean: number;
  readonly m2: number;
}

/**
 * Mean and sum of squared deviations (M2) over the last `period` values, O(1) per push with the
 * windowed Welford update (no Σx² − (Σx)² cancellation), recomputed exactly by two passes each
 * time the ring wraps so rounding error stays bounded however long it runs. Internal helper.
 */
export class RollingMoments {
  readonly period: number;
  readonly buf: Float64Array;
  head = 0;
  filled = 0;
  mean = 0;
  m2 = 0;

  constructor(period: number) {
    this.period = period;
    this.buf = new Float64Array(period);
  }

  get full(): boolean {
    return this.filled === this.period;
  }

  push(x: number): void {
    const p = this.period;
    const buf = this.buf;
    let h = this.head;
    if (this.filled === p) {
      const old = buf[h]!;
      const mean = this.mean;
      const next = mean + (x - old) / p;
      this.m2 += (x - old) * (x - next + old - mean);
      this.mean = next;
    } else {
      const n = ++this.filled;
      const d = x - this.mean;
      this.mean += d / n;
      this.m2 += d * (x - this.mean);
    }
    buf[h] = x;
    if (++h === p) {
      h = 0;
      let s = 0;
      let lo = buf[0]!;
      let hi = lo;
      for (let i = 0; i < p; i++) {
        const x = buf[i]!;
        s += x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      if (lo === hi) {
        // One repeated value: its mean is that value and M2 is 0, exactly (the rounded sum / p can
        // be an ulp off, which would leave a deviation of a few ulps for as long as the price stays).
        this.mean = lo;
        this.m2 = 0;
      } else {
        const mean = s / p;
        let m2 = 0;
        for (let i = 0; i < p; i++) {
          const d = buf[i]! - mean;
          m2 += d * d;
        }
        this.mean = mean;
        this.m2 = m2;
      }
    }
    if (this.m2 < 0) this.m2 = 0;
    this.head = h;
  }

  /** Standard deviation of the window: divides M2 by n (population) or n − 1 (sample). */
  stdDev(sample: boolean): number {
    return Math.sqrt(this.m2 / (sample ? this.filled - 1 : this.filled));
  }

  toJson(): RollingMomentsJson {
    return { head: this.head, window: ringToJson(this.buf, this.filled), mean: this.mean, m2: this.m2 };
  }

  /** Restores the fields written by toJson() from the owner's snapshot. */
  static fromSnapshot(r: SnapshotReader, period: number): RollingMoments {
    const m = new RollingMoments(period);
    const ring = ringFromSnapshot(r, period);
    m.buf.set(ring.buf);
    m.head = ring.head;
    m.filled = ring.filled;
    m.mean = r.number('mean');
    m.m2 = r.number('m2');
    if (m.m2 < 0) r.fail('m2', `must not be negative, got ${m.m2}`);
    return m;
  }
}
