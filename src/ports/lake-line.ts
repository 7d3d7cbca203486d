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

const DAY_MS = 86_400_000;
let memoDayNumber = Number.NaN;
let memoDay = '';

/** UTC calendar day (YYYY-MM-DD) of an epoch-ms event time: a line's `dt=` partition. */
export function eventDay(epochMs: number): string {
  if (!Number.isFinite(epochMs))
    throw new RangeError(`lake record time must be a finite epoch-ms number, got ${epochMs}`);
  const dayNumber = Math.floor(epochMs / DAY_MS);
  if (dayNumber !== memoDayNumber) {
    memoDay = new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
    memoDayNumber = dayNumber;
  }
  return memoDay;
}
