import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateBarWithSchema } from '../../../src/domain/market/bar.ts';
import {
  assetClassOf,
  type Bar,
  decodeMarketEvent,
  encodeMarketEvent,
  MAX_FUTURE_SKEW_MS,
  type Tick,
  validateBar,
  validateTick,
} from '../../../src/domain/market/index.ts';
import { validateTickWithSchema } from '../../../src/domain/market/tick.ts';

const NOW = Date.parse('2026-01-15T15:00:00Z');

const symbolArb = fc.oneof(
  fc.stringMatching(/^[A-Z]{1,5}$/),
  fc.constantFrom('BRK-B', '^GSPC', '^VXAPL', 'EURUSD=X', 'GC=F', 'BTC-USD', '0700.HK', 'RDS.A'),
);
const priceArb = fc.double({ min: 0.0001, max: 1e6, noNaN: true, noDefaultInfinity: true });
const timeArb = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: NOW });

const tickArb: fc.Arbitrary<Tick> = fc
  .record({
    symbol: symbolArb,
    time: timeArb,
    price: priceArb,
    a: priceArb,
    b: priceArb,
    previousClose: fc.option(priceArb, { nil: undefined }),
    dayVolume: fc.option(fc.integer({ min: 0, max: 1e12 }), { nil: undefined }),
    currency: fc.option(fc.constantFrom('USD', 'EUR', 'HKD'), { nil: undefined }),
    marketState: fc.option(fc.constantFrom('PRE', 'REGULAR', 'POST', 'CLOSED' as const), { nil: undefined }),
    source: fc.constantFrom('yahoo', 'replay', 'synthetic' as const),
    withRange: fc.boolean(),
  })
  .map(({ a, b, withRange, ...t }) => {
    const tick: Record<string, unknown> = { ...t };
    if (withRange) {
      tick.dayHigh = Math.max(a, b);
      tick.dayLow = Math.min(a, b);
      tick.dayOpen = Math.min(a, b);
    }
    for (const k of Object.keys(tick)) if (tick[k] === undefined) delete tick[k];
    return tick as Tick;
  });

const barArb: fc.Arbitrary<Bar> = fc
  .record({
    symbol: symbolArb,
    minute: fc.integer({ min: Date.parse('2000-01-01T00:00:00Z') / 60_000, max: NOW / 60_000 }),
    prices: fc.array(priceArb, { minLength: 4, maxLength: 4 }),
    volume: fc.integer({ min: 0, max: 1e10 }),
    session: fc.constantFrom('pre', 'regular', 'post', 'none' as const),
    source: fc.constantFrom('yahoo', 'replay', 'synthetic' as const),
  })
  .map(({ minute, prices, ...b }) => {
    const [p0, p1, p2, p3] = prices as [number, number, number, number];
    return {
      ...b,
      start: minute * 60_000,
      interval: '1m' as const,
      open: p0,
      close: p1,
      high: Math.max(p0, p1, p2, p3),
      low: Math.min(p0, p1, p2, p3),
    };
  });

describe('market schemas: valid input', () => {
  it('accepts every well-formed tick and round-trips it through the stream encoding', () => {
    fc.assert(
      fc.property(tickArb, (tick) => {
        expect(validateTick(tick, NOW)).toEqual({ ok: true, value: tick });
        expect(decodeMarketEvent(encodeMarketEvent({ kind: 'tick', tick }), NOW)).toEqual({
          ok: true,
          value: { kind: 'tick', tick },
        });
      }),
      { numRuns: 500 },
    );
  });

  it('accepts every well-formed bar and round-trips it through the stream encoding', () => {
    fc.assert(
      fc.property(barArb, (bar) => {
        expect(validateBar(bar, NOW)).toEqual({ ok: true, value: bar });
        expect(decodeMarketEvent(encodeMarketEvent({ kind: 'bar', bar }), NOW)).toEqual({
          ok: true,
          value: { kind: 'bar', bar },
        });
      }),
      { numRuns: 500 },
    );
  });
});

type Corruption<T> = { field: string; reason: RegExp; apply: (x: T) => Record<string, unknown> };

const badNumber = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '12', null);

describe('market schemas: each corruption is rejected naming the field', () => {
  const barCorruptions: fc.Arbitrary<Corruption<Bar>> = fc.oneof(
    fc.tuple(fc.constantFrom('open', 'high', 'low', 'close', 'volume'), badNumber).map(([field, v]) => ({
      field,
      reason: /must be a finite number, got (NaN|Infinity|-Infinity|string|null)/,
      apply: (b: Bar) => ({ ...b, [field]: v }),
    })),
    fc
      .tuple(fc.constantFrom('open', 'high', 'low', 'close'), fc.constantFrom(0, -1, -0.01))
      .map(([field, v]) => ({
        field,
        reason: /must be positive/,
        apply: (b: Bar) => ({ ...b, [field]: v }),
      })),
    fc.constant({
      field: 'volume',
      reason: /must not be negative/,
      apply: (b: Bar) => ({ ...b, volume: -1 }),
    }),
    fc.constant({
      field: 'high',
      reason: /high .* is below low/,
      apply: (b: Bar) => ({ ...b, high: b.low * 0.5, open: b.low * 0.5, close: b.low * 0.5 }),
    }),
    fc.constant({
      field: 'open',
      reason: /open .* is outside \[low/,
      apply: (b: Bar) => ({ ...b, open: b.high * 1.5 }),
    }),
    fc.constant({
      field: 'close',
      reason: /close .* is outside \[low/,
      apply: (b: Bar) => ({ ...b, close: b.low * 0.5 }),
    }),
    fc.constant({
      field: 'start',
      reason: /implausibly far in the future/,
      apply: (b: Bar) => ({ ...b, start: NOW + MAX_FUTURE_SKEW_MS + 60_000 }),
    }),
    fc.constant({
      field: 'start',
      reason: /aligned to a whole minute/,
      apply: (b: Bar) => ({ ...b, start: b.start + 1 }),
    }),
    fc.constantFrom('aapl', 'AA PL', '', '$AAPL', 'TOOLONGSYMBOLNAME123', 'A/B').map((s) => ({
      field: 'symbol',
      reason: /unknown symbol format/,
      apply: (b: Bar) => ({ ...b, symbol: s }),
    })),
    fc.constant({
      field: 'session',
      reason: /./,
      apply: (b: Bar) => ({ ...b, session: 'lunch' }),
    }),
  );

  it('bars', () => {
    fc.assert(
      fc.property(barArb, barCorruptions, (bar, c) => {
        const r = validateBar(c.apply(bar), NOW);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        const issue = r.issues.find((i) => i.field === c.field);
        expect(issue, JSON.stringify(r.issues)).toBeDefined();
        expect(issue?.reason).toMatch(c.reason);
        // the same rejection comes out of the stream decoder
        const d = decodeMarketEvent(JSON.stringify({ v: 1, kind: 'bar', data: c.apply(bar) }), NOW);
        expect(d.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  const tickCorruptions: fc.Arbitrary<Corruption<Tick>> = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('price', 'dayOpen', 'dayHigh', 'dayLow', 'previousClose', 'dayVolume', 'time'),
        badNumber,
      )
      .map(([field, v]) => ({
        field,
        reason: /must be a finite number, got/,
        apply: (t: Tick) => ({ ...t, [field]: v }),
      })),
    fc.tuple(fc.constantFrom('price', 'previousClose'), fc.constantFrom(0, -5)).map(([field, v]) => ({
      field,
      reason: /must be positive/,
      apply: (t: Tick) => ({ ...t, [field]: v }),
    })),
    fc.constant({
      field: 'dayVolume',
      reason: /must not be negative/,
      apply: (t: Tick) => ({ ...t, dayVolume: -100 }),
    }),
    // Past the last instant a Date holds: no calendar day, no ISO form (this once threw instead).
    fc.constantFrom(8_640_000_000_000_001, 9_000_000_000_000_000).map((v) => ({
      field: 'time',
      reason: /time must be a date/,
      apply: (t: Tick) => ({ ...t, time: v }),
    })),
    fc.constant({
      field: 'dayHigh',
      reason: /dayHigh .* is below dayLow/,
      apply: (t: Tick) => ({ ...t, dayHigh: 1, dayLow: 2 }),
    }),
    fc.constant({
      field: 'time',
      reason: /implausibly far in the future/,
      apply: (t: Tick) => ({ ...t, time: NOW + MAX_FUTURE_SKEW_MS + 1 }),
    }),
    fc.constant({
      field: 'time',
      reason: /whole epoch milliseconds/,
      apply: (t: Tick) => ({ ...t, time: t.time + 0.5 }),
    }),
    fc.constant({
      field: 'currency',
      reason: /ISO 4217/,
      apply: (t: Tick) => ({ ...t, currency: 'usd' }),
    }),
    fc.constant({
      field: 'symbol',
      reason: /unknown symbol format/,
      apply: (t: Tick) => ({ ...t, symbol: 'NOT A SYMBOL' }),
    }),
    fc.constant({
      field: 'price',
      reason: /price is required/,
      apply: (t: Tick) => {
        const { price: _, ...rest } = t;
        return rest;
      },
    }),
  );

  it('ticks', () => {
    fc.assert(
      fc.property(tickArb, tickCorruptions, (tick, c) => {
        const r = validateTick(c.apply(tick), NOW);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        const issue = r.issues.find((i) => i.field === c.field);
        expect(issue, JSON.stringify(r.issues)).toBeDefined();
        expect(issue?.reason).toMatch(c.reason);
      }),
      { numRuns: 500 },
    );
  });

  it('a bad envelope names what is wrong', () => {
    expect(decodeMarketEvent('{not json', NOW)).toMatchObject({ ok: false, issues: [{ field: '(record)' }] });
    expect(decodeMarketEvent(JSON.stringify({ v: 9, kind: 'bar', data: {} }), NOW)).toMatchObject({
      ok: false,
      issues: [{ field: 'v', reason: 'v must be schema version 1' }],
    });
    expect(decodeMarketEvent(JSON.stringify({ v: 1, kind: 'quote', data: {} }), NOW)).toMatchObject({
      ok: false,
      issues: [{ field: 'kind' }],
    });
  });

  it('classifies symbols', () => {
    expect(['AAPL', '^GSPC', 'EURUSD=X', 'GC=F', 'BTC-USD', 'BRK-B'].map(assetClassOf)).toEqual([
      'equity',
      'index',
      'fx',
      'future',
      'crypto',
      'equity',
    ]);
  });
});

describe('market schemas: the fast path of the validators agrees with the schemas', () => {
  // Values a field may be set to: valid ones, bad ones, and edge cases of each check.
  const fieldValue = fc.oneof(
    badNumber,
    fc.constantFrom(undefined, 0, -0, -1, 1, 5e-324, 1.5, 60_000, Number.MAX_SAFE_INTEGER + 2, 2 ** 53),
    fc.constantFrom(8_640_000_000_000_000, 8_640_000_000_000_001, 8_640_000_000_060_000),
    fc.constantFrom('1m', '5m', 'USD', 'usd', 'REGULAR', 'regular', 'none', 'yahoo', 'AAPL', 'aapl'),
    fc.constantFrom(NOW, NOW + MAX_FUTURE_SKEW_MS + 60_000, Date.parse('2024-10-02T13:30:00Z') + 1),
    fc.anything(),
  );
  const barKeys = [
    'symbol',
    'start',
    'interval',
    'open',
    'high',
    'low',
    'close',
    'volume',
    'session',
    'source',
  ];
  const tickKeys = [
    'symbol',
    'time',
    'price',
    'dayOpen',
    'dayHigh',
    'dayLow',
    'previousClose',
    'dayVolume',
    'currency',
    'marketState',
    'source',
  ];
  const edits = (keys: string[]) =>
    fc.array(
      fc.oneof(
        fc.tuple(fc.constantFrom(...keys, 'extra', '__proto__'), fieldValue).map(([k, v]) => ({ set: k, v })),
        fc.constantFrom(...keys).map((k) => ({ del: k })),
      ),
      { maxLength: 3 },
    );
  const edited = <T extends object>(x: T, es: ({ set: string; v: unknown } | { del: string })[]) => {
    const o: Record<string, unknown> = { ...(x as Record<string, unknown>) };
    for (const e of es) {
      if ('del' in e) delete o[e.del];
      else
        Object.defineProperty(o, e.set, { value: e.v, enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  // The same verdict, the same issues, and the same value with the same fields in the same order.
  const same = (fast: unknown, reference: unknown) => {
    expect(fast).toEqual(reference);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(reference));
    const keys = (r: unknown) =>
      (r as { ok: boolean }).ok ? Object.keys((r as { value: object }).value) : [];
    expect(keys(fast)).toEqual(keys(reference));
  };

  const cases = [
    {
      name: 'bars',
      valid: barArb as fc.Arbitrary<object>,
      keys: barKeys,
      fast: validateBar,
      reference: validateBarWithSchema,
    },
    {
      name: 'ticks',
      valid: tickArb as fc.Arbitrary<object>,
      keys: tickKeys,
      fast: validateTick,
      reference: validateTickWithSchema,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: valid, edited and arbitrary inputs`, () => {
      fc.assert(
        fc.property(c.valid, edits(c.keys), (x, es) => {
          const input = edited(x, es);
          same(c.fast(input, NOW), c.reference(input, NOW));
        }),
        { numRuns: 3000 },
      );
      fc.assert(fc.property(fc.anything(), (input) => same(c.fast(input, NOW), c.reference(input, NOW))));
    });
  }

  it('the stream decoder gives what the schemas give, envelope included', () => {
    const envelope = fc.record({
      v: fc.constantFrom(1, 2, '1', undefined),
      kind: fc.constantFrom('bar', 'tick', 'quote', undefined),
    });
    fc.assert(
      fc.property(envelope, fc.oneof(barArb, tickArb), edits([...barKeys, ...tickKeys]), (env, x, es) => {
        const data = edited(x, es);
        const decoded = decodeMarketEvent(JSON.stringify({ ...env, data }), NOW);
        const roundTripped = JSON.parse(JSON.stringify(data));
        if (env.v !== 1 || (env.kind !== 'bar' && env.kind !== 'tick')) {
          expect(decoded.ok).toBe(false);
          return;
        }
        const reference =
          env.kind === 'bar'
            ? validateBarWithSchema(roundTripped, NOW)
            : validateTickWithSchema(roundTripped, NOW);
        same(
          decoded.ok
            ? {
                ok: true,
                value:
                  env.kind === 'bar'
                    ? (decoded.value as { bar: Bar }).bar
                    : (decoded.value as { tick: Tick }).tick,
              }
            : decoded,
          reference,
        );
      }),
      { numRuns: 2000 },
    );
  });
});
