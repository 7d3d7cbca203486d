import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';
import { ringFromSnapshot, ringToJson } from './ring.ts';

export interface SMAOptions {
  readonly period: number;
}

export interface SMASnapshot extends IndicatorSnapshotBase {
  readonly type: 'SMA';
  readonly version: 1;
  readonly period: number;
  readonly head: number;
  readonly window: number[];
  readonly sum: number;
}

/**
 * Simple moving average of the last `period` inputs.
 * O(1) per update: a running sum, recomputed exactly from the window each time the ring wraps
 * (every `period` updates), so rounding error never accumulates over long runs.
 */
export class SMA implements Indicator<number, number, SMASnapshot> {
  readonly type = 'SMA' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private readonly buf: Float64Array;
  private head = 0;
  private filled = 0;
  private sum = 0;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: SMAOptions) {
    this.period = checkPeriod('SMA', 'period', options?.period);
    this.requiredInputs = this.period;
    this.buf = new Float64Array(this.period);
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(price: number): number | undefined {
    if (!Number.isFinite(price)) rejectNumber('SMA', 'value', price);
    const p = this.period;
    const buf = this.buf;
    let h = this.head;
    if (this.filled === p) {
      this.sum += price - buf[h]!;
    } else {
      this.sum += price;
      this.filled++;
    }
    buf[h] = price;
    if (++h === p) {
      h = 0;
      let s = 0;
      for (let i = 0; i < p; i++) s += buf[i]!;
      this.sum = s;
    }
    this.head = h;
    if (this.filled === p) {
      this.cur = this.sum / p;
      this.ready = true;
    }
    return this.ready ? this.cur : undefined;
  }

  snapshot(): SMASnapshot {
    return {
      type: 'SMA',
      version: 1,
      period: this.period,
      head: this.head,
      window: ringToJson(this.buf, this.filled),
      sum: this.sum,
    };
  }

  static restore(snapshot: unknown): SMA {
    const r = new SnapshotReader('SMA', snapshot, 1);
    const sma = new SMA({ period: r.int('period', 1, MAX_PERIOD) });
    const ring = ringFromSnapshot(r, sma.period);
    sma.buf.set(ring.buf);
    sma.head = ring.head;
    sma.filled = ring.filled;
    sma.sum = r.number('sum');
    if (sma.filled === sma.period) {
      sma.cur = sma.sum / sma.period;
      sma.ready = true;
    }
    return sma;
  }
}
