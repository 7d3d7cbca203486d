import {
  type AnalyticsConfig,
  DEFAULT_ANALYTICS_CONFIG,
  flattenMetricsRow,
  flattenQuoteMetrics,
  type MetricsRow,
  SymbolAnalytics,
  type SymbolAnalyticsSnapshot,
} from '../../domain/analytics/index.ts';
import type { MarketEvent } from '../../domain/market/index.ts';
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
      if (r.rejected) return { accepted: false, reason: r.rejected.reason };
      return { accepted: true, rows: [barRow(r.row)], anomalies: r.row.anomalies };
    }
    const r = this.#analytics.applyTick(event.tick);
    if (r.rejected) return { accepted: false, reason: r.rejected.reason };
    const rows: MetricRow[] = r.rows.map(barRow);
    if (r.quote) {
      rows.push({
        symbol: r.quote.symbol,
        time: r.quote.time,
        kind: 'tick',
        values: flattenQuoteMetrics(r.quote),
      });
    }
    return { accepted: true, rows, anomalies: r.rows.flatMap((row) => row.anomalies) };
  }

  snapshot(): unknown {
    return this.#analytics.snapshot();
  }
}

export function analyticsEngines(config: AnalyticsConfig = DEFAULT_ANALYTICS_CONFIG): SymbolEngineFactory {
  return {
    create: (symbol) => new AnalyticsEngine(new SymbolAnalytics(symbol, config)),
    restore: (_symbol, snapshot) =>
      new AnalyticsEngine(SymbolAnalytics.restore(snapshot as SymbolAnalyticsSnapshot, config)),
  };
}
