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
 * writing a row twice is an upsert; LATEST per symbol only moves forward in event time. Rows are
 * held as written (the pipeline never mutates a row it handed over) and shown as the table stores
 * them — non-finite numbers as null — when read.
 */
export class MemoryMetricsStore implements MetricsStore {
  readonly faults = new Faults('metrics store');
  /** symbol → kind → time → row (numbers as keys: no key string is built per row). */
  readonly #rows = new Map<
    string,
    { readonly bar: Map<number, MetricRow>; readonly tick: Map<number, MetricRow> }
  >();
  readonly #latest = new Map<string, MetricRow>();
  /** write() calls and rows received (before deduplication). */
  writes = 0;
  rowsReceived = 0;

  async write(rows: readonly MetricRow[], latest?: readonly MetricRow[]): Promise<void> {
    this.faults.check('before');
    this.writes += 1;
    this.rowsReceived += rows.length;
    for (const row of rows) {
      if (!Number.isFinite(row.time))
        throw new RangeError(`metric row time must be a finite epoch-ms number, got ${row.time}`);
      if (!row.symbol) throw new RangeError('metric row symbol must be a non-empty string');
      let symbolRows = this.#rows.get(row.symbol);
      if (!symbolRows) {
        symbolRows = { bar: new Map(), tick: new Map() };
        this.#rows.set(row.symbol, symbolRows);
      }
      symbolRows[row.kind].set(row.time, row);
    }
    // As in the table: LATEST rows the caller vouches for are put as they are; otherwise each
    // symbol's newest row of the call, with a forward-only condition.
    if (latest) {
      for (const row of latest) this.#latest.set(row.symbol, row);
    } else {
      const newest = new Map<string, MetricRow>();
      for (const row of rows) {
        const best = newest.get(row.symbol);
        if (!best || row.time >= best.time) newest.set(row.symbol, row);
      }
      for (const [symbol, row] of newest) {
        const stored = this.#latest.get(symbol);
        if (!stored || stored.time < row.time) this.#latest.set(symbol, row);
      }
    }
    this.faults.check('after');
  }

  /** Rows of a symbol (optionally one kind), oldest first, as the table holds them. */
  rows(symbol?: string, kind?: 'bar' | 'tick'): MetricRow[] {
    return this.#maps(symbol, kind)
      .flatMap((m) => [...m.values()])
      .sort((a, b) => a.time - b.time || a.kind.localeCompare(b.kind))
      .map(storable);
  }

  count(symbol?: string, kind?: 'bar' | 'tick'): number {
    return this.#maps(symbol, kind).reduce((n, m) => n + m.size, 0);
  }

  #maps(symbol: string | undefined, kind: 'bar' | 'tick' | undefined): Map<number, MetricRow>[] {
    const symbols = symbol === undefined ? [...this.#rows.values()] : [this.#rows.get(symbol)];
    return symbols.flatMap((byKind) =>
      byKind === undefined ? [] : kind === undefined ? [byKind.bar, byKind.tick] : [byKind[kind]],
    );
  }

  latest(symbol: string): MetricRow | undefined {
    const row = this.#latest.get(symbol);
    return row && storable(row);
  }
}
