import {
  checkPeriod,
  type Indicator,
  type IndicatorSnapshotBase,
  rejectNumber,
  restoreNested,
  SnapshotReader,
} from './contract.ts';
import { EMA, type EMASnapshot } from './ema.ts';
import { IndicatorConfigError } from './errors.ts';

export interface MACDOptions {
  /** Fast EMA period (default 12). */
  readonly fast?: number;
  /** Slow EMA period (default 26). */
  readonly slow?: number;
  /** Signal EMA period over the MACD line (default 9). */
  readonly signal?: number;
}

export interface MACDValue {
  /** EMA(fast) − EMA(slow). */
  readonly macd: number;
  /** EMA(signal) of the MACD line. */
  readonly signal: number;
  /** macd − signal. */
  readonly histogram: number;
}

export interface MACDSnapshot extends IndicatorSnapshotBase {
  readonly type: 'MACD';
  readonly version: 1;
  readonly fast: EMASnapshot;
  readonly slow: EMASnapshot;
  readonly signal: EMASnapshot;
}

/**
 * Moving Average Convergence/Divergence (Appel), as StockCharts computes it: every EMA is seeded
 * with the SMA of its first period, the MACD line exists from input `slow`, the signal line (an
 * EMA of the MACD line) from input slow + signal − 1, which is when a value is first returned.
 * The returned object is reused and overwritten by the next update (copy it to keep it).
 */
export class MACD implements Indicator<number, MACDValue, MACDSnapshot> {
  readonly type = 'MACD' as const;
  readonly fast: number;
  readonly slow: number;
  readonly signal: number;
  readonly requiredInputs: number;
  private fastEma: EMA;
  private slowEma: EMA;
  private signalEma: EMA;
  private readonly out = { macd: 0, signal: 0, histogram: 0 };
  private current: MACDValue | undefined = undefined;

  constructor(options: MACDOptions = {}) {
    this.fast = checkPeriod('MACD', 'fast', options?.fast ?? 12);
    this.slow = checkPeriod('MACD', 'slow', options?.slow ?? 26);
    this.signal = checkPeriod('MACD', 'signal', options?.signal ?? 9);
    if (this.fast >= this.slow) {
      throw new IndicatorConfigError(
        'MACD',
        'fast',
        `(${this.fast}) must be shorter than slow (${this.slow})`,
      );
    }
    this.requiredInputs = this.slow + this.signal - 1;
    this.fastEma = new EMA({ period: this.fast });
    this.slowEma = new EMA({ period: this.slow });
    this.signalEma = new EMA({ period: this.signal });
  }

  get value(): MACDValue | undefined {
    return this.current;
  }

  get isStable(): boolean {
    return this.current !== undefined;
  }

  update(price: number): MACDValue | undefined {
    if (!Number.isFinite(price)) rejectNumber('MACD', 'value', price);
    const f = this.fastEma.update(price);
    const s = this.slowEma.update(price);
    if (s === undefined || f === undefined) return undefined;
    const signal = this.signalEma.update(f - s);
    if (signal !== undefined) this.fill(f - s, signal);
    return this.current;
  }

  private fill(macd: number, signal: number): void {
    const out = this.out;
    out.macd = macd;
    out.signal = signal;
    out.histogram = macd - signal;
    this.current = out;
  }

  snapshot(): MACDSnapshot {
    return {
      type: 'MACD',
      version: 1,
      fast: this.fastEma.snapshot(),
      slow: this.slowEma.snapshot(),
      signal: this.signalEma.snapshot(),
    };
  }

  static restore(snapshot: unknown): MACD {
    const r = new SnapshotReader('MACD', snapshot, 1);
    const fast = restoreNested('MACD', 'fast', () => EMA.restore(r.object('fast')));
    const slow = restoreNested('MACD', 'slow', () => EMA.restore(r.object('slow')));
    const signal = restoreNested('MACD', 'signal', () => EMA.restore(r.object('signal')));
    if (fast.period >= slow.period) {
      r.fail('fast.period', `(${fast.period}) must be shorter than slow.period (${slow.period})`);
    }
    const macd = new MACD({ fast: fast.period, slow: slow.period, signal: signal.period });
    macd.fastEma = fast;
    macd.slowEma = slow;
    macd.signalEma = signal;
    if (signal.value !== undefined && fast.value !== undefined && slow.value !== undefined) {
      macd.fill(fast.value - slow.value, signal.value);
    }
    return macd;
  }
}
