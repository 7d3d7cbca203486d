/**
 * The raw zone's NDJSON line, field by field, with the Hive type Athena reads each as. One
 * definition behind both SQL views of the lake: the Glue table `raw_events`
 * (resources/analytics.yml, held to this by a template test) and the local DuckDB view over the
 * same files (`npm run query`). Glue stores names lower-cased; the JSON keys are as written here.
 */
export type LakeFieldType = 'string' | 'bigint' | 'double';

/** The line's own fields, in the order the lake writer puts them (before `event`). */
export const LAKE_LINE_FIELDS: readonly (readonly [name: string, type: LakeFieldType])[] = [
  ['symbol', 'string'],
  ['time', 'bigint'],
  ['kind', 'string'],
  ['shardId', 'string'],
  ['sequenceNumber', 'string'],
  ['arrivalTime', 'bigint'],
];

/** `event`: the validated tick (symbol … marketState) or 1-minute bar (start … session), one struct. */
export const LAKE_EVENT_FIELDS: readonly (readonly [name: string, type: LakeFieldType])[] = [
  ['symbol', 'string'],
  ['time', 'bigint'],
  ['price', 'double'],
  ['dayOpen', 'double'],
  ['dayHigh', 'double'],
  ['dayLow', 'double'],
  ['previousClose', 'double'],
  ['dayVolume', 'double'],
  ['currency', 'string'],
  ['marketState', 'string'],
  ['start', 'bigint'],
  ['interval', 'string'],
  ['open', 'double'],
  ['high', 'double'],
  ['low', 'double'],
  ['close', 'double'],
  ['volume', 'double'],
  ['session', 'string'],
  ['source', 'string'],
];

/** The Glue (Hive) type of `event`: `struct<symbol:string,time:bigint,…>`, names lower-cased. */
export function glueEventType(): string {
  return `struct<${LAKE_EVENT_FIELDS.map(([n, t]) => `${n.toLowerCase()}:${t}`).join(',')}>`;
}

/** The Glue table over the raw zone (at-least-once: a retried batch may repeat a record). */
export const RAW_EVENTS_TABLE = 'raw_events';
/** The view analysts query: `raw_events` with each (symbol, kind, event time) exactly once. */
export const EVENTS_VIEW = 'events';

/**
 * The `events` view's query, one text for Athena (the Glue view in resources/analytics.yml, held to
 * it by a template test) and DuckDB (`npm run query`): of the copies of one (symbol, kind, time), the
 * one with the greatest sequence number — a retried batch's copies are the same record; a later
 * record of the same key is the one the metrics row holds, as DynamoDB keeps the last put. `dt`
 * leads the window's partition (it is the UTC day of `time`, so the result is the same): Trino and
 * DuckDB push a filter on a window's partition columns below it, so `WHERE dt = …` on the view
 * still prunes the table's partitions instead of reading the whole lake. `raw_events` is named
 * without its database: both engines resolve a view's names in the view's own schema (a stage may
 * have a '-', which would need quoting).
 */
export function eventsViewSql(): string {
  const columns = [...LAKE_LINE_FIELDS.map(([n]) => n.toLowerCase()), 'event', 'dt'].join(', ');
  return (
    `SELECT ${columns} FROM (SELECT *, row_number() OVER (PARTITION BY dt, symbol, kind, time ` +
    'ORDER BY length(sequencenumber) DESC, sequencenumber DESC) AS occurrence ' +
    `FROM ${RAW_EVENTS_TABLE}) WHERE occurrence = 1`
  );
}
