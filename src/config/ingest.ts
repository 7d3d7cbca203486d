import { z } from 'zod';
import { SYMBOL_PATTERN } from '../domain/market/index.ts';
import { envFlag } from './env-flag.ts';
import { metricsNamespace } from './metrics.ts';

const symbolList = z
  .string({ error: 'SYMBOLS is required: a comma-separated list such as AAPL,MSFT,BTC-USD' })
  // Each symbol once: the poller reads every listed symbol's bar cursor before advancing any, so a
  // symbol listed twice (AAPL,aapl) would have each new bar put twice.
  .transform((s) => [
    ...new Set(
      s
        .split(',')
        .map((x) => x.trim().toUpperCase())
        .filter((x) => x !== ''),
    ),
  ])
  .pipe(
    z
      .array(
        z
          .string()
          .regex(
            SYMBOL_PATTERN,
            'SYMBOLS: unknown symbol format (expected e.g. AAPL, ^GSPC, EURUSD=X, BTC-USD)',
          ),
      )
      .min(1, 'SYMBOLS must name at least one symbol'),
  );

const positiveInt = (name: string, def: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be at least 1`)
    .max(max, `${name} must be at most ${max}`)
    .default(def);

/** Yahoo's per-request timeout when YAHOO_TIMEOUT_MS is not set (the deployed template sets none). */
export const DEFAULT_YAHOO_TIMEOUT_MS = 8_000;

/** Kept free at the end of an ingestQuotes invocation for the poll's flush and cursor writes. */
export const POLL_FLUSH_MARGIN_MS = 10_000;

/** Environment of the ingestQuotes function. A missing or bad setting fails at cold start. */
export const IngestEnvSchema = z.object({
  SYMBOLS: symbolList,
  INGEST_MODE: z
    .enum(['quotes', 'bars', 'both'], { error: 'INGEST_MODE must be quotes, bars or both' })
    .default('both'),
  POLL_INTERVAL_SECONDS: positiveInt('POLL_INTERVAL_SECONDS', 30, 300),
  /**
   * How long one invocation keeps starting polls: under the schedule's period (rate(1 minute)), so it
   * never runs into the next invocation, which reserved concurrency 1 would throttle and Lambda drop.
   */
  POLL_WINDOW_SECONDS: positiveInt('POLL_WINDOW_SECONDS', 55, 59),
  TICKS_STREAM_NAME: z
    .string({ error: 'TICKS_STREAM_NAME is required' })
    .min(1, 'TICKS_STREAM_NAME is required'),
  MARKET_TABLE_NAME: z
    .string({ error: 'MARKET_TABLE_NAME is required' })
    .min(1, 'MARKET_TABLE_NAME is required'),
  /** Poll equities outside regular hours (pre/post market). */
  INGEST_EXTENDED_HOURS: envFlag('INGEST_EXTENDED_HOURS'),
  /** Poll even when the market is closed (weekends, nights, holidays). */
  INGEST_WHEN_CLOSED: envFlag('INGEST_WHEN_CLOSED'),
  /** Tries per Yahoo request, the first included. */
  YAHOO_MAX_ATTEMPTS: positiveInt('YAHOO_MAX_ATTEMPTS', 4, 10),
  YAHOO_TIMEOUT_MS: positiveInt('YAHOO_TIMEOUT_MS', DEFAULT_YAHOO_TIMEOUT_MS, 60_000),
  /** How far back the first bar poll of a symbol with no cursor reaches. */
  BARS_LOOKBACK_MINUTES: positiveInt('BARS_LOOKBACK_MINUTES', 60, 7 * 24 * 60),
  POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
});

export type IngestConfig = z.infer<typeof IngestEnvSchema>;

/** Reads and validates the ingest environment; the error names every bad variable and why. */
export function ingestConfigFromEnv(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const r = IngestEnvSchema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid ingestQuotes configuration: ${lines.join('; ')}`);
  }
  return r.data;
}
