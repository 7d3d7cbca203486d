import { z } from 'zod';
import { type Bar, validateBar } from './bar.ts';
import { type Tick, validateTick } from './tick.ts';
import { isPlainObject, type Validated } from './validation.ts';

/** Version of the record format written to the stream. Bump on an incompatible change. */
export const MARKET_EVENT_SCHEMA_VERSION = 1;

/** What travels on the stream: one tick or one bar, tagged, with the schema version. */
export type MarketEvent =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | { readonly kind: 'bar'; readonly bar: Bar };

const EnvelopeSchema = z.object({
  v: z.literal(MARKET_EVENT_SCHEMA_VERSION, {
    error: `v must be schema version ${MARKET_EVENT_SCHEMA_VERSION}`,
  }),
  kind: z.enum(['tick', 'bar'], { error: 'kind must be tick or bar' }),
  data: z.unknown(),
});

export function eventSymbol(e: MarketEvent): string {
  return e.kind === 'tick' ? e.tick.symbol : e.bar.symbol;
}

/** Event time in epoch ms: a tick's exchange time, a bar's start. */
export function eventTime(e: MarketEvent): number {
  return e.kind === 'tick' ? e.tick.time : e.bar.start;
}

/** Compact JSON for the stream: `{"v":1,"kind":"bar","data":{…}}`. */
export function encodeMarketEvent(e: MarketEvent): string {
  return JSON.stringify({
    v: MARKET_EVENT_SCHEMA_VERSION,
    kind: e.kind,
    data: e.kind === 'tick' ? e.tick : e.bar,
  });
}

/** Decodes and validates one stream record's payload. Never throws: bad input yields its issues. */
export function decodeMarketEvent(json: string, now: number = Date.now()): Validated<MarketEvent> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return { ok: false, issues: [{ field: '(record)', reason: `not JSON: ${(err as Error).message}` }] };
  }
  // The usual envelope needs no schema; anything else goes through it to be named.
  if (isPlainEnvelope(raw)) {
    return raw.kind === 'tick'
      ? asTickEvent(validateTick(raw.data, now))
      : asBarEvent(validateBar(raw.data, now));
  }
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success) {
    return {
      ok: false,
      issues: env.error.issues.map((i) => ({ field: i.path.join('.') || '(record)', reason: i.message })),
    };
  }
  return env.data.kind === 'tick'
    ? asTickEvent(validateTick(env.data.data, now))
    : asBarEvent(validateBar(env.data.data, now));
}

function isPlainEnvelope(raw: unknown): raw is { v: number; kind: 'tick' | 'bar'; data: unknown } {
  if (!isPlainObject(raw)) return false;
  const { v, kind } = raw;
  return v === MARKET_EVENT_SCHEMA_VERSION && (kind === 'tick' || kind === 'bar');
}

const asTickEvent = (r: Validated<Tick>): Validated<MarketEvent> =>
  r.ok ? { ok: true, value: { kind: 'tick', tick: r.value } } : r;
const asBarEvent = (r: Validated<Bar>): Validated<MarketEvent> =>
  r.ok ? { ok: true, value: { kind: 'bar', bar: r.value } } : r;
