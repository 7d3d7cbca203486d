import { z } from 'zod';
import { SymbolSchema } from './symbol.ts';
import { issuesFromZod, type Validated, type ValidationIssue } from './validation.ts';

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
export const epochMillis = (what: string) =>
  finite(what).int(`${what} must be whole epoch milliseconds`).positive(`${what} must be after 1970`);

/** Where a market event came from. */
export const SourceSchema = z.enum(['yahoo', 'replay', 'synthetic']);
export type Source = z.infer<typeof SourceSchema>;

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

/** Validates an untrusted tick: structure, value ranges, and that its time is not in the future. */
export function validateTick(input: unknown, now: number = Date.now()): Validated<Tick> {
  const parsed = TickSchema.safeParse(input);
  if (!parsed.success) return { ok: false, issues: issuesFromZod(parsed.error) };
  const future = futureTimeIssue('time', parsed.data.time, now);
  if (future) return { ok: false, issues: [future] };
  return { ok: true, value: parsed.data };
}
