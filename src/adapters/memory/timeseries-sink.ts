import type { MetricRow, TimeseriesSink } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

/** In-memory TimeseriesSink: an upsert per (symbol, kind, session, time), like a Timestream record. */
export class MemoryTimeseriesSink implements TimeseriesSink {
  readonly faults = new Faults('timeseries sink');
  readonly #records = new Map<string, MetricRow>();
  writes = 0;

  async write(rows: readonly MetricRow[]): Promise<void> {
    this.faults.check('before');
    this.writes += 1;
    for (const row of rows) {
      const session =
        typeof row.values.session === 'string' && row.values.session ? row.values.session : 'none';
      this.#records.set(`${row.symbol}|${row.kind}|${session}|${row.time}`, row);
    }
    this.faults.check('after');
  }

  records(): MetricRow[] {
    return [...this.#records.values()].sort((a, b) => a.time - b.time);
  }
}
