import { z } from 'zod';
import { SYMBOL_PATTERN, SymbolSchema } from './symbol.ts';
import {
  epochMillis,
  isEpochMillis,
  isNonNegative,
  isPositive,
  isSource,
  nonNegative,
  positivePrice,
  SourceSchema,
  schemaOnly,
  validateMarketData,
} from './tick.ts';
import { isPlainObject, type Validated } from './validation.ts';

export const ONE_MINUTE_MS = 60_000;

/** Trading session of a bar. `none` is for instruments that trade around the clock (crypto). */
export const SessionSchema = z.enum(['pre', 'regular', 'post', 'none']);
export type Session = z.infer<typeof SessionSchema>;

/** A 1-minute OHLCV bar. `start` is the bar's opening minute on the exchange clock (epoch ms). */
export const BarSchema = z
  .object({
    symbol: SymbolSchema,
    start: epochMillis('start').refine(
      (t) => t % ONE_MINUTE_MS === 0,
      'start must be aligned to a whole minute',
    ),
    interval: z.literal('1m', { error: 'interval must be 1m' }),
    open: positivePrice('open'),
    high: positivePrice('high'),
    low: positivePrice('low'),
    close: positivePrice('close'),
    volume: nonNegative('volume'),
    session: SessionSchema,
    source: SourceSchema,
  })
  .superRefine((b, ctx) => {
    if (b.high < b.low) {
      ctx.addIssue({ code: 'custom', path: ['high'], message: `high ${b.high} is below low ${b.low}` });
      return;
    }
    for (const field of ['open', 'close'] as const) {
      if (b[field] < b.low || b[field] > b.high) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} ${b[field]} is outside [low ${b.low}, high ${b.high}]`,
        });
      }
    }
  });

export type Bar = z.infer<typeof BarSchema>;

const SESSIONS: ReadonlySet<unknown> = new Set(SessionSchema.options);

/**
 * The usual case without the schema machinery (it is most of a record's decode cost): a plain object
 * whose every field is valid yields the bar `BarSchema` would, fields in its order, unknown ones
 * dropped. Anything else is `undefined` and goes through the schema, which names what is wrong. It
 * accepts nothing the schema rejects; a property test holds the two together.
 */
function plainValidBar(input: unknown): Bar | undefined {
  if (!isPlainObject(input)) return undefined;
  const { symbol, start, interval, open, high, low, close, volume, session, source } = input;
  if (typeof symbol !== 'string' || !SYMBOL_PATTERN.test(symbol)) return undefined;
  if (!isEpochMillis(start) || start % ONE_MINUTE_MS !== 0 || interval !== '1m') return undefined;
  if (!isPositive(open) || !isPositive(high) || !isPositive(low) || !isPositive(close)) return undefined;
  if (!isNonNegative(volume) || !SESSIONS.has(session) || !isSource(source)) return undefined;
  if (high < low || open < low || open > high || close < low || close > high) return undefined;
  return {
    symbol,
    start,
    interval,
    open,
    high,
    low,
    close,
    volume,
    session: session as Session,
    source,
  };
}

const barStart = (b: Bar) => b.start;

/** Validates an untrusted bar: structure, OHLC consistency, and that it does not start in the future. */
export function validateBar(input: unknown, now: number = Date.now()): Validated<Bar> {
  return validateMarketData(input, now, plainValidBar, BarSchema, 'start', barStart);
}

/** `validateBar` through the schema alone (every input; the reference for the fast path). */
export function validateBarWithSchema(input: unknown, now: number = Date.now()): Validated<Bar> {
  return validateMarketData(input, now, schemaOnly, BarSchema, 'start', barStart);
}
