import {
  type AnalyticsConfig,
  DEFAULT_ANALYTICS_CONFIG,
  flattenMetricsRow,
  flattenQuoteMetrics,
  type MetricsRow,
  SymbolAnalytics,
  type SymbolAnalyticsSnapshot,
} from '../../domain/analytics/index.ts';
import { type MarketEvent, ONE_MINUTE_MS } from '../../domain/market/index.ts';
import type { MetricRow } from '../../ports/processor.ts';
import type { EngineStep, SymbolEngine, SymbolEngineFactory } from './engine.ts';

function barRow(row: MetricsRow): MetricRow {
  return { symbol: row.symbol, time: row.start, kind: 'bar', values: flattenMetricsRow(row) };
}

/** Drives the domain's per-symbol aggregate (indicators, change metrics, detectors) for the pipeline. */
class AnalyticsEngine implements SymbolEngine {
  readonly #analytics: SymbolAnalytics;

  constructor(analytics: SymbolAnalytics) {
    this.#analytics = analytics;
  }

  apply(event: MarketEvent): EngineStep {
    if (event.kind === 'bar') {
      const r = this.#analytics.applyBar(event.bar);
      if (r.rejected) return { rows: [], anomalies: [], rejected: r.rejected.reason };
      if (r.covered !== undefined) return { rows: [], anomalies: [], covered: r.covered };
      return { rows: [barRow(r.row)], anomalies: r.row.anomalies };
    }
    // A rejected tick (late, market closed) may still have closed earlier bars: keep their rows.
    const r = this.#analytics.applyTick(event.tick);
    const rows: MetricRow[] = r.rows.map(barRow);
    if (r.quote && !r.rejected) {
      rows.push({
        symbol: r.quote.symbol,
        time: r.quote.time,
        kind: 'tick',
        values: flattenQuoteMetrics(r.quote),
      });
    }
    const anomalies = r.rows.flatMap((row) => row.anomalies);
    return r.rejected ? { rows, anomalies, rejected: r.rejected.reason } : { rows, anomalies };
  }

  snapshot(): unknown {
    return this.#analytics.snapshot();
  }
}

export function analyticsEngines(config: AnalyticsConfig = DEFAULT_ANALYTICS_CONFIG): SymbolEngineFactory {
  return {
    // A tick may land in any still-open bar: up to one bar plus the grace window behind the newest.
    tickReorderWindowMs: ONE_MINUTE_MS + config.graceMs,
    create: (symbol) => new AnalyticsEngine(new SymbolAnalytics(symbol, config)),
    restore: (_symbol, snapshot) =>
      new AnalyticsEngine(SymbolAnalytics.restore(snapshot as SymbolAnalyticsSnapshot, config)),
  };
}
