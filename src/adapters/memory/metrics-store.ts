import type { MetricRow, MetricsStore } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

function storable(row: MetricRow): MetricRow {
  const values: Record<string, MetricRow['values'][string]> = {};
  for (const [k, v] of Object.entries(row.values)) {
    values[k] = typeof v === 'number' && !Number.isFinite(v) ? null : v === undefined ? null : v;
  }
  return { symbol: row.symbol, time: row.time, kind: row.kind, values };
}

/**
 * In-memory MetricsStore: rows keyed by (symbol, kind, time) — the same key the table uses — so
 * writing a row twice is an upsert; LATEST per symbol only moves forward in event time.
 */
export class MemoryMetricsStore implements MetricsStore {
  readonly faults = new Faults('metrics store');
  readonly #rows = new Map<string, MetricRow>();
  readonly #latest = new Map<string, MetricRow>();
  /** write() calls and rows received (before deduplication). */
  writes = 0;
  rowsReceived = 0;

  async write(rows: readonly MetricRow[]): Promise<void> {
    this.faults.check('before');
    this.writes += 1;
    this.rowsReceived += rows.length;
    const newest = new Map<string, MetricRow>();
    for (const row of rows) {
      if (!Number.isFinite(row.time))
        throw new RangeError(`metric row time must be a finite epoch-ms number, got ${row.time}`);
      if (!row.symbol) throw new RangeError('metric row symbol must be a non-empty string');
      const stored = storable(row);
      this.#rows.set(`${row.symbol}|${row.kind}|${row.time}`, stored);
      const best = newest.get(row.symbol);
      if (!best || row.time >= best.time) newest.set(row.symbol, stored);
    }
    // As in the table: the call's newest row per symbol, then a forward-only conditional put.
    for (const [symbol, row] of newest) {
      const latest = this.#latest.get(symbol);
      if (!latest || latest.time < row.time) this.#latest.set(symbol, row);
    }
    this.faults.check('after');
  }

  /** Rows of a symbol (optionally one kind), oldest first. */
  rows(symbol?: string, kind?: 'bar' | 'tick'): MetricRow[] {
    return [...this.#rows.values()]
      .filter((r) => (symbol === undefined || r.symbol === symbol) && (kind === undefined || r.kind === kind))
      .sort((a, b) => a.time - b.time || a.kind.localeCompare(b.kind));
  }

  count(symbol?: string, kind?: 'bar' | 'tick'): number {
    return this.rows(symbol, kind).length;
  }

  latest(symbol: string): MetricRow | undefined {
    return this.#latest.get(symbol);
  }
}
