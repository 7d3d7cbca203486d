import {
  type _Record,
  type MeasureValue,
  type TimestreamWriteClient,
  WriteRecordsCommand,
} from '@aws-sdk/client-timestream-write';
import {
  type MetricRow,
  type TimeseriesRejection,
  TimeseriesRowsRejectedError,
  type TimeseriesSink,
} from '../../ports/processor.ts';

/** WriteRecords takes at most 100 records per call. */
export const TIMESTREAM_MAX_RECORDS = 100;
export const TIMESTREAM_MEASURE_NAME = 'metrics';
const DIMENSIONS = new Set(['symbol', 'kind', 'session']);
// Column names Timestream reserves or that would clash with the dimensions above.
const RESERVED = new Set(['time', 'measure_name', 'measure_value', ...DIMENSIONS]);

/** One record Timestream refused, traced back to its row. */
export interface TimestreamRejection extends TimeseriesRejection {
  readonly existingVersion?: number;
}

export class TimestreamRejectedRecordsError extends TimeseriesRowsRejectedError {
  declare readonly rejections: readonly TimestreamRejection[];
  constructor(table: string, rejections: readonly TimestreamRejection[]) {
    const sample = rejections
      .slice(0, 5)
      .map((r) => `${r.symbol} ${r.kind} ${new Date(r.time).toISOString()}: ${r.reason}`)
      .join('; ');
    super(`Timestream rejected ${rejections.length} record(s) written to ${table}: ${sample}`, rejections);
    this.name = 'TimestreamRejectedRecordsError';
  }
}

export function measureName(name: string): string {
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || lower.startsWith('ts_') || lower.startsWith('measure_value')
    ? `m_${name}`
    : name;
}

/** Row values as multi-measure values: numbers DOUBLE, strings VARCHAR, booleans BOOLEAN; nulls omitted. */
export function measureValues(values: MetricRow['values']): MeasureValue[] {
  const out: MeasureValue[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (name === 'session') continue; // a dimension
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out.push({ Name: measureName(name), Value: String(v), Type: 'DOUBLE' });
    } else if (typeof v === 'string') {
      if (v.length > 0) out.push({ Name: measureName(name), Value: v, Type: 'VARCHAR' });
    } else if (typeof v === 'boolean') {
      out.push({ Name: measureName(name), Value: String(v), Type: 'BOOLEAN' });
    }
  }
  return out;
}

export function toTimestreamRecord(row: MetricRow): _Record | undefined {
  const measures = measureValues(row.values);
  if (measures.length === 0) return undefined;
  const session = typeof row.values.session === 'string' && row.values.session ? row.values.session : 'none';
  return {
    Dimensions: [
      { Name: 'symbol', Value: row.symbol },
      { Name: 'kind', Value: row.kind },
      { Name: 'session', Value: session },
    ],
    MeasureName: TIMESTREAM_MEASURE_NAME,
    MeasureValues: measures,
    Time: String(Math.trunc(row.time)),
  };
}

/** A record's Timestream identity: its dimensions, time and measure name. */
function recordIdentity(record: _Record): string {
  const key: (string | undefined)[] = [record.Time, record.MeasureName];
  for (const d of record.Dimensions ?? []) key.push(d.Name, d.Value);
  return JSON.stringify(key);
}

export interface TimestreamSinkOptions {
  readonly client: TimestreamWriteClient;
  /** TIMESTREAM_DATABASE */
  readonly database: string;
  /** TIMESTREAM_TABLE */
  readonly table: string;
  /** Clock for versions (epoch ms). */
  readonly now?: () => number;
}

/**
 * Multi-measure records (dimensions symbol, kind, session; one MULTI measure 'metrics'), ≤ 100 per
 * WriteRecords.
 *
 * Version: the write's wall-clock time in microseconds, strictly increasing within a process. A
 * record's identity is (dimensions, time, measure name); Timestream replaces it only when the new
 * Version is higher. So a replay or retry of the same rows writes the same values with a higher
 * version — the stored data is unchanged (idempotent) — and a recomputation (a bar revised by a late
 * tick) also lands, the same last-writer-wins upsert DynamoDB's PutItem gives the metric rows. A
 * constant version would make a replay idempotent too, but would reject every legitimate revision.
 *
 * One record per identity per write: every record of one WriteRecords call carries the same Version,
 * and Timestream rejects a record whose identity matches one already stored with different values
 * unless its version is higher — so two rows of one batch with the same identity (two quote ticks in
 * the same exchange second) would reject the later one on every retry. write() therefore collapses
 * rows by the identity of the record toTimestreamRecord builds (dimensions, time, measure name): the
 * last row wins, at the first row's position — the rule the DynamoDB metrics store applies.
 *
 * A rejection whose ExistingVersion is at least the version sent means a write at least as new (e.g.
 * a concurrent retry of the same rows) is already stored; it counts as written, not as a failure.
 */
export class TimestreamSink implements TimeseriesSink {
  readonly #client: TimestreamWriteClient;
  readonly #database: string;
  readonly #table: string;
  readonly #now: () => number;
  #lastVersion = 0;

  constructor(options: TimestreamSinkOptions) {
    if (!options.database) throw new RangeError('TimestreamSink database must be a non-empty name');
    if (!options.table) throw new RangeError('TimestreamSink table must be a non-empty name');
    this.#client = options.client;
    this.#database = options.database;
    this.#table = options.table;
    this.#now = options.now ?? Date.now;
  }

  #nextVersion(): number {
    this.#lastVersion = Math.max(this.#now() * 1000, this.#lastVersion + 1);
    return this.#lastVersion;
  }

  async write(rows: readonly MetricRow[]): Promise<void> {
    // One record per identity (see the class comment): Map.set keeps the first position, last row.
    const byIdentity = new Map<string, { row: MetricRow; record: _Record }>();
    for (const row of rows) {
      const record = toTimestreamRecord(row);
      if (record) byIdentity.set(recordIdentity(record), { row, record });
    }
    const pairs = [...byIdentity.values()];
    const rejections: TimestreamRejection[] = [];
    for (let i = 0; i < pairs.length; i += TIMESTREAM_MAX_RECORDS) {
      const chunk = pairs.slice(i, i + TIMESTREAM_MAX_RECORDS);
      const version = this.#nextVersion();
      try {
        await this.#client.send(
          new WriteRecordsCommand({
            DatabaseName: this.#database,
            TableName: this.#table,
            CommonAttributes: {
              MeasureValueType: 'MULTI',
              TimeUnit: 'MILLISECONDS',
              Version: version,
            },
            Records: chunk.map((p) => p.record),
          }),
        );
      } catch (error) {
        if (!(error instanceof Error) || error.name !== 'RejectedRecordsException') throw error;
        const rejected = (
          error as { RejectedRecords?: { RecordIndex?: number; Reason?: string; ExistingVersion?: number }[] }
        ).RejectedRecords;
        for (const r of rejected ?? []) {
          // AWS RejectedRecord: a record with the same dimensions, time and measure name but different
          // values is rejected when its version is "equal to or lower than the existing value", and
          // ExistingVersion then holds the stored record's version. ExistingVersion ≥ ours means a
          // write at least as new (versions are write times) already holds this identity: this
          // upsert is superseded, as last-writer-wins intends, so the row counts as written rather
          // than failing a batch whose newer data is already stored.
          // https://docs.aws.amazon.com/timestream/latest/APIReference/API_RejectedRecord.html
          if (r.ExistingVersion !== undefined && r.ExistingVersion >= version) continue;
          const row = r.RecordIndex === undefined ? undefined : chunk[r.RecordIndex]?.row;
          rejections.push({
            symbol: row?.symbol ?? '?',
            kind: row?.kind ?? 'bar',
            time: row?.time ?? Number.NaN,
            reason: r.Reason ?? error.message,
            ...(r.ExistingVersion !== undefined ? { existingVersion: r.ExistingVersion } : {}),
          });
        }
      }
    }
    // Every chunk was written first: the error names only what Timestream refused.
    if (rejections.length > 0)
      throw new TimestreamRejectedRecordsError(`${this.#database}.${this.#table}`, rejections);
  }
}
