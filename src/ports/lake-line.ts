/**
 * The raw zone's NDJSON line, field by field, with the Hive type Athena reads each as: the lake's
 * data contract. The lake writer puts these fields; the compaction step reads them back
 * (src/pipeline/compact) and writes them as Parquet columns; the Glue table `raw_events`, the view
 * `events` and the local DuckDB views (src/adapters/aws/lake-schema.ts, held to this by template
 * tests) name them. Glue stores names lower-cased; the JSON keys are as written here.
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
