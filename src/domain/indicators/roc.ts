import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectPrice,
  SnapshotReader,
} from './contract.ts';
import { ringFromSnapshot, ringToJson } from './ring.ts';

export interface ROCOptions {
  readonly period: number;
}

export interface ROCSnapshot extends IndicatorSnapshotBase {
  readonly type: 'ROC';
  readonly version: 1;
  readonly period: number;
  readonly head: number;
  /** The last period + 1 prices, in ring-slot order. */
  readonly window: number[];
}

/**
 * Rate of change in percent: (price − price `period` inputs ago) / price `period` inputs ago × 100.
 * Inputs must be positive prices. First value at input period + 1.
 */
export class ROC implements Indicator<number, number, ROCSnapshot> {
  readonly type = 'ROC' as const;
  readonly period: number;
  readonly requiredInputs: number;
  private readonly buf: Float64Array;
  private head = 0;
  private filled = 0;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: ROCOptions) {
    this.period = checkPeriod('ROC', 'period', options?.period);
    this.requiredInputs = this.period + 1;
    this.buf = new Float64Array(this.period + 1);
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(price: number): number | undefined {
    if (!(price > 0) || price === Number.POSITIVE_INFINITY) rejectPrice('ROC', 'value', price);
    const size = this.requiredInputs;
    let h = this.head;
    this.buf[h] = price;
    if (++h === size) h = 0;
    this.head = h;
    if (this.filled < size) this.filled++;
    if (this.filled === size) this.compute();
    return this.ready ? this.cur : undefined;
  }

  private compute(): void {
    const h = this.head;
    const newest = this.buf[h === 0 ? this.requiredInputs - 1 : h - 1]!;
    const oldest = this.buf[h]!;
    this.cur = ((newest - oldest) / oldest) * 100;
    this.ready = true;
  }

  snapshot(): ROCSnapshot {
    return {
      type: 'ROC',
      version: 1,
      period: this.period,
      head: this.head,
      window: ringToJson(this.buf, this.filled),
    };
  }

  static restore(snapshot: unknown): ROC {
    const r = new SnapshotReader('ROC', snapshot, 1);
    const roc = new ROC({ period: r.int('period', 1, MAX_PERIOD) });
    const ring = ringFromSnapshot(r, roc.requiredInputs);
    for (let i = 0; i < ring.filled; i++) {
      if (!(ring.buf[i]! > 0)) r.fail(`window[${i}]`, `must be a positive price, got ${ring.buf[i]}`);
    }
    roc.buf.set(ring.buf);
    roc.head = ring.head;
    roc.filled = ring.filled;
    if (roc.filled === roc.requiredInputs) roc.compute();
    return roc;
  }
}
