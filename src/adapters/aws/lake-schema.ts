/**
 * The lake's SQL side: the Glue (Hive) types and the views' query, both from the line's fields
 * (src/ports/lake-line.ts). resources/analytics.yml is held to these by template tests; the local
 * DuckDB views (`npm run query`) use them directly.
 */
import { LAKE_EVENT_FIELDS, LAKE_LINE_FIELDS } from '../../ports/lake-line.ts';

export { LAKE_EVENT_FIELDS, LAKE_LINE_FIELDS, type LakeFieldType } from '../../ports/lake-line.ts';

/** The Glue (Hive) type of `event`: `struct<symbol:string,time:bigint,…>`, names lower-cased. */
export function glueEventType(): string {
  return `struct<${LAKE_EVENT_FIELDS.map(([n, t]) => `${n.toLowerCase()}:${t}`).join(',')}>`;
}

/** The Glue table over the raw zone (at-least-once: a retried batch may repeat a record). */
export const RAW_EVENTS_TABLE = 'raw_events';
/** The view analysts query: `raw_events` with each (symbol, kind, event time) exactly once. */
export const EVENTS_VIEW = 'events';
/** The compacted zone's table: closed days in Parquet, each (symbol, kind, time) once. */
export const COMPACTED_EVENTS_TABLE = 'compacted_events';

/**
 * The `events` view's query, one text for Athena (the Glue view in resources/analytics.yml, held to
 * it by a template test) and DuckDB (`npm run query`): of the copies of one (symbol, kind, time), the
 * one with the greatest sequence number — a retried batch's copies are the same record; a later
 * record of the same key is the one the metrics row holds, as DynamoDB keeps the last put. `dt`
 * leads the window's partition (it is the UTC day of `time`, so the result is the same): Trino and
 * DuckDB push a filter on a window's partition columns below it, so `WHERE dt = …` on the view
 * still prunes the table's partitions instead of reading the whole lake. A line the table cannot
 * read (Athena's JSON SerDe turns it into a row of nulls) has no key and is left out, as the
 * compaction rejects it. `raw_events` is named without its database: both engines resolve a view's
 * names in the view's own schema (a stage may have a '-', which would need quoting).
 */
export function eventsViewSql(): string {
  const columns = [...LAKE_LINE_FIELDS.map(([n]) => n.toLowerCase()), 'event', 'dt'].join(', ');
  return (
    `SELECT ${columns} FROM (SELECT *, row_number() OVER (PARTITION BY dt, symbol, kind, time ` +
    'ORDER BY length(sequencenumber) DESC, sequencenumber DESC) AS occurrence ' +
    `FROM ${RAW_EVENTS_TABLE} WHERE symbol IS NOT NULL AND kind IS NOT NULL AND time IS NOT NULL) ` +
    'WHERE occurrence = 1'
  );
}
