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
