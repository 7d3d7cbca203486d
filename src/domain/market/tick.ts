import { z } from 'zod';
import { SYMBOL_PATTERN, SymbolSchema } from './symbol.ts';
import { isPlainObject, issuesFromZod, type Validated, type ValidationIssue } from './validation.ts';

/** Names what is wrong with a value that should have been a finite number. */
function numberIssue(what: string, input: unknown): string {
  if (input === undefined) return `${what} is required`;
  if (typeof input === 'number') {
    if (Number.isNaN(input)) return `${what} must be a finite number, got NaN`;
    return `${what} must be a finite number, got ${input}`;
  }
  return `${what} must be a finite number, got ${input === null ? 'null' : typeof input}`;
}

const finite = (what: string) => z.number({ error: (iss) => numberIssue(what, iss.input) });
export const positivePrice = (what = 'price') => finite(what).positive(`${what} must be positive`);
export const nonNegative = (what: string) => finite(what).nonnegative(`${what} must not be negative`);
/** The last instant a Date holds (year 275760): any later time has no calendar day or ISO form. */
export const MAX_EPOCH_MS = 8_640_000_000_000_000;
export const epochMillis = (what: string) =>
  finite(what)
    .int(`${what} must be whole epoch milliseconds`)
    .positive(`${what} must be after 1970`)
    .max(MAX_EPOCH_MS, `${what} must be a date (at most ${MAX_EPOCH_MS} ms)`);

// The same checks as plain predicates, for the decoders' fast paths (`plainValidTick`, `plainValidBar`).
export const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const isPositive = (x: unknown): x is number => isFiniteNumber(x) && x > 0;
export const isNonNegative = (x: unknown): x is number => isFiniteNumber(x) && x >= 0;
export const isEpochMillis = (x: unknown): x is number =>
  Number.isSafeInteger(x) && (x as number) > 0 && (x as number) <= MAX_EPOCH_MS;

/** Where a market event came from. */
export const SourceSchema = z.enum(['yahoo', 'replay', 'synthetic']);
export type Source = z.infer<typeof SourceSchema>;
const SOURCES: ReadonlySet<unknown> = new Set(SourceSchema.options);
export const isSource = (x: unknown): x is Source => SOURCES.has(x);

/** Yahoo's marketState values (PREPRE/POSTPOST are the overnight halves of CLOSED). */
export const MarketStateSchema = z.enum(['PREPRE', 'PRE', 'REGULAR', 'POST', 'POSTPOST', 'CLOSED']);
export type MarketState = z.infer<typeof MarketStateSchema>;

/**
 * A quote snapshot. `time` is the exchange's event time (epoch ms), never the arrival time.
 * `dayVolume` is cumulative for the trading day, as quote feeds report it.
 */
export const TickSchema = z
  .object({
    symbol: SymbolSchema,
    time: epochMillis('time'),
    price: positivePrice('price'),
    dayOpen: positivePrice('dayOpen').optional(),
    dayHigh: positivePrice('dayHigh').optional(),
    dayLow: positivePrice('dayLow').optional(),
    previousClose: positivePrice('previousClose').optional(),
    dayVolume: nonNegative('dayVolume').optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as USD')
      .optional(),
    marketState: MarketStateSchema.optional(),
    source: SourceSchema,
  })
  .superRefine((t, ctx) => {
    if (t.dayHigh !== undefined && t.dayLow !== undefined && t.dayHigh < t.dayLow) {
      ctx.addIssue({
        code: 'custom',
        path: ['dayHigh'],
        message: `dayHigh ${t.dayHigh} is below dayLow ${t.dayLow}`,
      });
    }
  });

export type Tick = z.infer<typeof TickSchema>;

/** How far ahead of the clock an exchange timestamp may be before it is implausible. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export function futureTimeIssue(field: string, time: number, now: number): ValidationIssue | undefined {
  if (time > now + MAX_FUTURE_SKEW_MS) {
    return {
      field,
      reason: `${field} ${new Date(time).toISOString()} is implausibly far in the future (clock ${new Date(now).toISOString()})`,
    };
  }
  return undefined;
}

const MARKET_STATES: ReadonlySet<unknown> = new Set(MarketStateSchema.options);
const CURRENCY = /^[A-Z]{3}$/;
const isCurrency = (c: unknown) => typeof c === 'string' && CURRENCY.test(c);
const isMarketState = (m: unknown) => MARKET_STATES.has(m);
const OPTIONAL_PRICES = ['dayOpen', 'dayHigh', 'dayLow', 'previousClose'] as const;
const OPTIONAL_FIELDS = [...OPTIONAL_PRICES, 'dayVolume', 'currency', 'marketState'] as const;

/** An optional field is either absent or valid; present-but-undefined is left to the schema. */
function optionalOk(o: Record<string, unknown>, key: string, ok: (x: unknown) => boolean): boolean {
  const v = o[key];
  return v === undefined ? !(key in o) : ok(v);
}

/**
 * The usual case without the schema machinery: a plain object whose every field is valid yields the
 * tick `TickSchema` would (fields in its order, absent optional ones absent, unknown ones dropped).
 * Anything else is `undefined` and goes through the schema, which names what is wrong. It accepts
 * nothing the schema rejects; a property test holds the two together.
 */
function plainValidTick(input: unknown): Tick | undefined {
  if (!isPlainObject(input)) return undefined;
  const { symbol, time, price, source } = input;
  if (typeof symbol !== 'string' || !SYMBOL_PATTERN.test(symbol)) return undefined;
  if (!isEpochMillis(time) || !isPositive(price) || !isSource(source)) return undefined;
  for (const key of OPTIONAL_PRICES) if (!optionalOk(input, key, isPositive)) return undefined;
  if (!optionalOk(input, 'dayVolume', isNonNegative)) return undefined;
  if (!optionalOk(input, 'currency', isCurrency) || !optionalOk(input, 'marketState', isMarketState))
    return undefined;
  const { dayHigh, dayLow } = input as { dayHigh?: number; dayLow?: number };
  if (dayHigh !== undefined && dayLow !== undefined && dayHigh < dayLow) return undefined;
  const tick: Record<string, unknown> = { symbol, time, price };
  for (const key of OPTIONAL_FIELDS) {
    if (input[key] !== undefined) tick[key] = input[key];
  }
  tick.source = source;
  return tick as Tick;
}

/**
 * The fast path's value when it has one, else the schema's (which names what is wrong); then the
 * event time is checked against the clock.
 */
export function validateMarketData<T>(
  input: unknown,
  now: number,
  fast: (x: unknown) => T | undefined,
  schema: z.ZodType<T>,
  timeField: string,
  timeOf: (value: T) => number,
): Validated<T> {
  let value = fast(input);
  if (value === undefined) {
    const parsed = schema.safeParse(input);
    if (!parsed.success) return { ok: false, issues: issuesFromZod(parsed.error) };
    value = parsed.data;
  }
  const future = futureTimeIssue(timeField, timeOf(value), now);
  return future ? { ok: false, issues: [future] } : { ok: true, value };
}

/** No fast path: every input goes through the schema (the reference the fast paths are held to). */
export const schemaOnly = (): undefined => undefined;

const tickTime = (t: Tick) => t.time;

/** Validates an untrusted tick: structure, value ranges, and that its time is not in the future. */
export function validateTick(input: unknown, now: number = Date.now()): Validated<Tick> {
  return validateMarketData(input, now, plainValidTick, TickSchema, 'time', tickTime);
}

/** `validateTick` through the schema alone (every input; the reference for the fast path). */
export function validateTickWithSchema(input: unknown, now: number = Date.now()): Validated<Tick> {
  return validateMarketData(input, now, schemaOnly, TickSchema, 'time', tickTime);
}
