import {
  checkDeviation,
  checkPeriod,
  type Deviation,
  type Indicator,
  type IndicatorSnapshotBase,
  MAX_PERIOD,
  rejectNumber,
  SnapshotReader,
} from './contract.ts';
import { RollingMoments } from './moments.ts';

export interface RollingStdDevOptions {
  readonly period: number;
  /** 'population' (divide by n, the default) or 'sample' (divide by n − 1). */
  readonly deviation?: Deviation;
}

export interface RollingStdDevSnapshot extends IndicatorSnapshotBase {
  readonly type: 'RollingStdDev';
  readonly version: 1;
  readonly period: number;
  readonly deviation: Deviation;
  readonly head: number;
  readonly window: number[];
  readonly mean: number;
  readonly m2: number;
}

/** Standard deviation of the last `period` inputs (population by default). */
export class RollingStdDev implements Indicator<number, number, RollingStdDevSnapshot> {
  readonly type = 'RollingStdDev' as const;
  readonly period: number;
  readonly deviation: Deviation;
  readonly requiredInputs: number;
  private moments: RollingMoments;
  private readonly sample: boolean;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  constructor(options: RollingStdDevOptions) {
    this.deviation = checkDeviation('RollingStdDev', options?.deviation, 'population');
    this.sample = this.deviation === 'sample';
    this.period = checkPeriod('RollingStdDev', 'period', options?.period, this.sample ? 2 : 1);
    this.requiredInputs = this.period;
    this.moments = new RollingMoments(this.period);
  }

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  update(value: number): number | undefined {
    if (!Number.isFinite(value)) rejectNumber('RollingStdDev', 'value', value);
    const m = this.moments;
    m.push(value);
    if (m.filled === this.period) {
      this.cur = m.stdDev(this.sample);
      this.ready = true;
    }
    return this.ready ? this.cur : undefined;
  }

  snapshot(): RollingStdDevSnapshot {
    return {
      type: 'RollingStdDev',
      version: 1,
      period: this.period,
      deviation: this.deviation,
      ...this.moments.toJson(),
    };
  }

  static restore(snapshot: unknown): RollingStdDev {
    const r = new SnapshotReader('RollingStdDev', snapshot, 1);
    const deviation = r.oneOf('deviation', ['population', 'sample'] as const);
    const x = new RollingStdDev({
      period: r.int('period', deviation === 'sample' ? 2 : 1, MAX_PERIOD),
      deviation,
    });
    x.moments = RollingMoments.fromSnapshot(r, x.period);
    if (x.moments.full) {
      x.cur = x.moments.stdDev(x.sample);
      x.ready = true;
    }
    return x;
  }
}
