import { z } from 'zod';
import { SymbolSchema } from './symbol.ts';
import { epochMillis, futureTimeIssue, nonNegative, positivePrice, SourceSchema } from './tick.ts';
import { issuesFromZod, type Validated } from './validation.ts';

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

/** Validates an untrusted bar: structure, OHLC consistency, and that it does not start in the future. */
export function validateBar(input: unknown, now: number = Date.now()): Validated<Bar> {
  const parsed = BarSchema.safeParse(input);
  if (!parsed.success) return { ok: false, issues: issuesFromZod(parsed.error) };
  const future = futureTimeIssue('start', parsed.data.start, now);
  if (future) return { ok: false, issues: [future] };
  return { ok: true, value: parsed.data };
}
