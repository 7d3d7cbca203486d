/**
 * The single-table layout of `MarketTable` (keys `pk` S, `sk` S; TTL attribute `expiresAt`, epoch
 * SECONDS). Every item of one symbol shares the partition `SYMBOL#<sym>`, so one Query reads a
 * symbol's whole story and items of different kinds never collide:
 *
 * | item          | pk             | sk                                | attributes                                                   | TTL        |
 * |---------------|----------------|-----------------------------------|--------------------------------------------------------------|------------|
 * | state         | `SYMBOL#<sym>` | `STATE`                           | symbol, lastSequenceNumber, lastEventTime, snapshot (map), updatedAt | none |
 * | latest        | `SYMBOL#<sym>` | `LATEST`                          | symbol, time, kind, values (map), updatedAt                  | none       |
 * | bar row       | `SYMBOL#<sym>` | `BAR#<ISO-8601 bar start>`        | symbol, time (epoch ms), kind 'bar', values (map), expiresAt | metrics TTL|
 * | tick row      | `SYMBOL#<sym>` | `TICK#<ISO-8601 exchange time>`   | symbol, time (epoch ms), kind 'tick', values (map), expiresAt| metrics TTL|
 * | alert ledger  | `SYMBOL#<sym>` | `ALERT#<kind>#<ISO-8601 bar time>`| alertId, status 'claimed'/'published', messageId, claimedAt  | 35 days    |
 * | bar cursor    | `SYMBOL#<sym>` | `CURSOR#…`                        | (owned by dynamodb-cursor-store.ts)                          |            |
 *
 * - Times in sort keys are `Date.prototype.toISOString()` (UTC, millisecond precision, fixed
 *   width), so lexical order is time order and `begins_with(sk, 'BAR#2024-03-08')` selects a day.
 * - The state item is written with a condition on `lastSequenceNumber` (see dynamodb-state-store.ts).
 * - LATEST only moves forward: `attribute_not_exists(pk) OR #time < :time`.
 * - A metric row's `values` is a map of the row's measures and labels; numbers DynamoDB cannot hold
 *   are mapped by `storableValues` (non-finite or magnitude ≥ 1e126 → null, below 1e-130 → 0).
 */

export const SYMBOL_PREFIX = 'SYMBOL#';
export const STATE_SK = 'STATE';
export const LATEST_SK = 'LATEST';
export const BAR_PREFIX = 'BAR#';
export const TICK_PREFIX = 'TICK#';
export const ALERT_PREFIX = 'ALERT#';
/** Reserved for the ingestion engineer's bar cursors (dynamodb-cursor-store.ts). */
export const CURSOR_PREFIX = 'CURSOR#';

/** Alert ledger items expire after 35 days: long past any Kinesis retention, so a replay still finds them. */
export const ALERT_TTL_DAYS = 35;
export const DAY_SECONDS = 86_400;

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** ISO-8601 UTC with milliseconds, or a specific error naming the field. */
export function isoTime(epochMs: number, field = 'time'): string {
  if (!Number.isFinite(epochMs))
    throw new RangeError(`${field} must be a finite epoch-ms number, got ${epochMs}`);
  const d = new Date(epochMs);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${field} ${epochMs} is outside the Date range`);
  return d.toISOString();
}

export function symbolPk(symbol: string): string {
  if (symbol.length === 0) throw new RangeError('symbol must be a non-empty string');
  return `${SYMBOL_PREFIX}${symbol}`;
}

export function stateKey(symbol: string): TableKey {
  return { pk: symbolPk(symbol), sk: STATE_SK };
}

export function latestKey(symbol: string): TableKey {
  return { pk: symbolPk(symbol), sk: LATEST_SK };
}

export function metricSkPrefix(kind: 'bar' | 'tick'): string {
  return kind === 'bar' ? BAR_PREFIX : TICK_PREFIX;
}

export function metricKey(symbol: string, kind: 'bar' | 'tick', time: number): TableKey {
  return { pk: symbolPk(symbol), sk: `${metricSkPrefix(kind)}${isoTime(time)}` };
}

export function alertKey(symbol: string, kind: string, at: number): TableKey {
  if (kind.length === 0) throw new RangeError('alert kind must be a non-empty string');
  return { pk: symbolPk(symbol), sk: `${ALERT_PREFIX}${kind}#${isoTime(at, 'alert.at')}` };
}

/** TTL value (epoch seconds) `days` after an epoch-ms instant. */
export function expiresAtSeconds(fromEpochMs: number, days: number): number {
  return Math.floor(fromEpochMs / 1000) + Math.round(days * DAY_SECONDS);
}

export interface BackoffOptions {
  /** Attempts after the first call (default 8). */
  readonly maxRetries?: number;
  /** First delay ceiling in ms (default 50); doubles per retry. */
  readonly baseDelayMs?: number;
  /** Ceiling of any one delay in ms (default 2000). */
  readonly maxDelayMs?: number;
  /** Injected for tests; defaults to setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; defaults to Math.random. */
  readonly random?: () => number;
}

export interface ResolvedBackoff {
  readonly maxRetries: number;
  delay(retry: number): Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff: delay = random(0, min(max, base·2^retry)). */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const maxRetries = options.maxRetries ?? 8;
  const base = options.baseDelayMs ?? 50;
  const max = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  return {
    maxRetries,
    delay: (retry) => sleep(Math.floor(random() * Math.min(max, base * 2 ** retry))),
  };
}

/**
 * A row's values as DynamoDB can store them (its N range is 1E-130 to 9.99…E+125 in magnitude):
 * a number that is non-finite (NaN, ±Infinity) or has magnitude ≥ 1e126 becomes null; a finite
 * number with magnitude below 1e-130 becomes 0 (so ±0 is stored as 0); undefined becomes null;
 * every other value passes unchanged.
 */
export function storableValues(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'number') {
      const a = v < 0 ? -v : v;
      // NaN fails both comparisons, ±Infinity the second: both end as null.
      out[k] = a < 1e-130 ? 0 : a < 1e126 ? v : null;
    } else {
      out[k] = v === undefined ? null : v;
    }
  }
  return out;
}
