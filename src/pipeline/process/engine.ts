import type { MarketEvent } from '../../domain/market/index.ts';
import type { MetricRow } from '../../ports/processor.ts';

/** What the metrics engine detected while applying one event. */
export interface DetectedAnomaly {
  readonly kind: string;
  readonly severity: string;
  readonly symbol: string;
  /** Event time the anomaly refers to (the bar's start, or the tick's time). */
  readonly at: number;
  readonly value: number;
  readonly threshold: number;
  readonly message: string;
}

/** The result of applying one market event to a symbol's analytics. */
export interface EngineStep {
  /** Rows the event produced (a tick's quote row; bars it closed), even when the event itself was rejected. */
  readonly rows: readonly MetricRow[];
  readonly anomalies: readonly DetectedAnomaly[];
  /** Set when the event itself could not be used (a tick later than its bar's grace window, say). */
  readonly rejected?: string;
  /** Set when the event changed no row: what it carried was already applied (counted as a duplicate). */
  readonly covered?: string;
}

/** One symbol's analytics, as the pipeline drives it. */
export interface SymbolEngine {
  apply(event: MarketEvent): EngineStep;
  /** The symbol's whole analytics state as plain JSON (stored between invocations). */
  snapshot(): unknown;
}

export interface SymbolEngineFactory {
  /**
   * How far (ms of event time) a tick may be older than the newest applied one and still be folded
   * in (the bar grace window). Older ticks are duplicates or hopelessly late and are skipped.
   */
  readonly tickReorderWindowMs: number;
  create(symbol: string): SymbolEngine;
  /** Restores a snapshot taken by `SymbolEngine.snapshot()`; throws a specific error if it is unusable. */
  restore(symbol: string, snapshot: unknown): SymbolEngine;
}
