import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';
import { ringFromSnapshot, ringToJson } from './ring.ts';

export interface WMAOptions {
  readonly period: number;
}

export interface WMASnapshot extends IndicatorSnapshotBase {
  readonly type: 'WMA';
  readonly version: 1;
  readonly period: number;
  readonly head: number;
  readonly window: number[];
  readonly sum: number;
  readonly weighted: number;
}

/**
 * Linearly weighted moving average: weights 1 (oldest) … period (newest), divided by
 * period·(period+1)/2. O(1) per update (weighted' = weighted − sum + period·x), with both sums
 * recomputed exactly each time the ring wraps.
 */
export class WMA implements Indicator<number, number, WMASnapshot> {
  readonly type = 'WMA' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private readonly buf: Float64Array;
  private readonly divisor: number;
  private head = 0;
  private filled = 0;
  private sum = 0;
  private weighted = 0;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: WMAOptions) {
    this.period = checkPeriod('WMA', 'period', options?.period);
    this.requiredInputs = this.period;
    this.buf = new Float64Array(this.period);
    this.divisor = (this.period * (this.period + 1)) / 2;
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(price: number): number | undefined {
    if (!Number.isFinite(price)) rejectNumber('WMA', 'value', price);
    const p = this.period;
    const buf = this.buf;
    let h = this.head;
    if (this.filled === p) {
      this.weighted += p * price - this.sum;
      this.sum += price - buf[h]!;
    } else {
      this.filled++;
      this.weighted += this.filled * price;
      this.sum += price;
    }
    buf[h] = price;
    if (++h === p) {
      h = 0;
      let s = 0;
      let w = 0;
      for (let i = 0; i < p; i++) {
        const x = buf[i]!;
        s += x;
        w += (i + 1) * x;
      }
      this.sum = s;
      this.weighted = w;
    }
    this.head = h;
    if (this.filled === p) {
      this.cur = this.weighted / this.divisor;
      this.ready = true;
    }
    return this.ready ? this.cur : undefined;
  }

  snapshot(): WMASnapshot {
    return {
      type: 'WMA',
      version: 1,
      period: this.period,
      head: this.head,
      window: ringToJson(this.buf, this.filled),
      sum: this.sum,
      weighted: this.weighted,
    };
  }

  static restore(snapshot: unknown): WMA {
    const r = new SnapshotReader('WMA', snapshot, 1);
    const wma = new WMA({ period: r.int('period', 1, MAX_PERIOD) });
    const ring = ringFromSnapshot(r, wma.period);
    wma.buf.set(ring.buf);
    wma.head = ring.head;
    wma.filled = ring.filled;
    wma.sum = r.number('sum');
    wma.weighted = r.number('weighted');
    if (wma.filled === wma.period) {
      wma.cur = wma.weighted / wma.divisor;
      wma.ready = true;
    }
    return wma;
  }
}
