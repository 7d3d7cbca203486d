import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteToTick } from '../../../src/adapters/yahoo/map.ts';
import {
  type Bar,
  BarSchema,
  type MarketEvent,
  type Tick,
  TickSchema,
} from '../../../src/domain/market/index.ts';
import {
  appendToEventLog,
  BAR_LOG_FIELDS,
  EventLogError,
  emptyEventLog,
  readEventLog,
  TICK_LOG_FIELDS,
} from '../../../src/pipeline/process/event-log.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const barEvents = (): MarketEvent[] => aaplSampleBars().map((bar) => ({ kind: 'bar', bar }));

/** Real ticks: the recorded Yahoo quote responses (test/fixtures/yahoo) mapped as the poller maps them. */
function recordedTicks(): Tick[] {
  const ticks: Tick[] = [];
  for (const file of ['quote-AAPL.json', 'quote-AMZN.json', 'quote-BTC-USD.json', 'quote-GC=F.json']) {
    const body = JSON.parse(readFileSync(new URL(`../../fixtures/yahoo/${file}`, import.meta.url), 'utf8'));
    for (const q of body.response.bodyJson.quoteResponse.result) {
      const mapped = quoteToTick(q, Date.parse('2030-01-01T00:00:00Z'));
      if (mapped.ok) ticks.push(mapped.tick);
    }
  }
  return ticks;
}

const dataOf = (e: MarketEvent) => (e.kind === 'bar' ? e.bar : e.tick) as Readonly<Record<string, unknown>>;

/** Same events, every number compared bit for bit (Object.is) and the keys in the same order. */
function expectSameEvents(actual: readonly MarketEvent[], expected: readonly MarketEvent[]) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = dataOf(actual[i]!);
    const e = dataOf(expected[i]!);
    expect(actual[i]!.kind).toBe(expected[i]!.kind);
    expect(Object.keys(a)).toEqual(Object.keys(e).filter((k) => e[k] !== undefined));
    for (const k of Object.keys(a)) {
      if (!Object.is(a[k], e[k]))
        expect.fail(`event ${i} field ${k}: ${String(a[k])} instead of ${String(e[k])}`);
    }
  }
}

const anyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0.1 + 0.2, 1e-7, 2 ** 53 - 1, 2 ** 53 + 2, 123.4567, 9.99e20, Number.MIN_VALUE),
  // Huge exact decimals and integers: differences between them must still be stored exactly.
  fc.constantFrom(
    (2 ** 47 + 1) / 100,
    -(2 ** 47 + 1) / 100,
    2 ** 48 - 3,
    -(2 ** 48) + 5,
    2 ** 44 + 1,
    -(2 ** 44) - 1,
  ),
  fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((k) => k / 100),
  fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((k) => k / 1e4),
);
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const time = fc.integer({ min: 1, max: 2 ** 45 });

const arbitraryBar = fc.record({
  kind: fc.constant('bar' as const),
  bar: fc.record({
    symbol: fc.constant('T.X'),
    start: time,
    interval: text,
    open: anyNumber,
    high: anyNumber,
    low: anyNumber,
    close: anyNumber,
    volume: anyNumber,
    session: text,
    source: text,
  }),
});
const arbitraryTick = fc.record({
  kind: fc.constant('tick' as const),
  tick: fc.record(
    {
      symbol: fc.constant('T.X'),
      time,
      price: anyNumber,
      dayOpen: anyNumber,
      dayHigh: anyNumber,
      dayLow: anyNumber,
      previousClose: anyNumber,
      dayVolume: anyNumber,
      currency: text,
      marketState: text,
      source: text,
    },
    { requiredKeys: ['symbol', 'time', 'price', 'source'] },
  ),
});

describe('the state event log', () => {
  it('holds every field of the bar and tick schemas, in their order', () => {
    expect(['symbol', ...BAR_LOG_FIELDS.map((f) => f.name)]).toEqual(Object.keys(BarSchema.shape));
    expect(['symbol', ...TICK_LOG_FIELDS.map((f) => f.name)]).toEqual(Object.keys(TickSchema.shape));
    expect(TICK_LOG_FIELDS.filter((f) => f.optional).map((f) => f.name)).toEqual(
      Object.entries(TickSchema.shape)
        .filter(([, s]) => s.safeParse(undefined).success)
        .map(([k]) => k),
    );
  });

  it('gives back a real trading day of bars exactly, in about 12 bytes a bar', () => {
    const events = barEvents();
    const start = events[0]!.kind === 'bar' ? events[0]!.bar.start : 0;
    const log = appendToEventLog(emptyEventLog(start), 'AAPL', events)!;
    const read = readEventLog(log.bytes, 'AAPL', start);
    expectSameEvents(read.events, events);
    expect(log.count).toBe(events.length);
    // The first bar in full (kind 2), the others short: gap, body and wicks a byte or so each, the
    // texts those of the previous bar, times a minute apart as one byte.
    expect(log.bytes[0]).toBe(2);
    expect(log.bytes.length / events.length).toBeLessThan(13);
  });

  it('writes a bar in short only where it comes back exactly, and in full otherwise', () => {
    const [a, b, c] = barEvents().map((e) => (e as { bar: Bar }).bar);
    const bars: Bar[] = [
      a!,
      b!,
      { ...c!, session: 'post' }, // new texts: written again
      { ...c!, start: c!.start + 60_000, close: c!.high + 0.01 }, // close above the high: in full
      { ...c!, start: c!.start + 120_000, open: 1 / 3 }, // no exact decimal: in full
      { ...c!, start: c!.start + 180_000, volume: 0.1 + 0.2 }, // a volume that is no decimal: raw
      { ...c!, start: c!.start + 240_000 },
    ];
    const events: MarketEvent[] = bars.map((bar) => ({ kind: 'bar', bar }));
    const log = appendToEventLog(emptyEventLog(a!.start), 'AAPL', events)!;
    expectSameEvents(readEventLog(log.bytes, 'AAPL', a!.start).events, events);
    // Entry kinds, read off the log a bar at a time.
    const kinds: number[] = [];
    let at = 0;
    for (let i = 1; i <= events.length; i++) {
      kinds.push(log.bytes[at]!);
      at = appendToEventLog(emptyEventLog(a!.start), 'AAPL', events.slice(0, i))!.bytes.length;
    }
    // Kind 4 + the prices' scale code (1 for cents, 2 for this session's hundredths of a cent) + 4
    // when the texts follow.
    expect(kinds).toEqual([2, 4 + 1, 4 + 2 + 4, 2, 2, 4 + 2, 4 + 2]);
  });

  it('gives back bars in short and in full, ticks between, exactly (property)', () => {
    // A random walk of prices at mixed scales, now and then not a decimal at all, and texts that change.
    const cents = fc.integer({ min: 1, max: 10 ** 7 });
    const barAt = fc.record({
      open: cents,
      close: cents,
      up: fc.nat({ max: 500 }),
      down: fc.nat({ max: 500 }),
      scale: fc.constantFrom(1, 100, 10_000, 1_000_000, 3),
      volume: fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e9, noNaN: true })),
      session: fc.constantFrom('regular', 'post'),
    });
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: barAt, weight: 4 }, { arbitrary: arbitraryTick, weight: 1 }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 4 }),
        (specs, pieces) => {
          const events: MarketEvent[] = specs.map((spec, i) => {
            if ('kind' in spec) return spec as MarketEvent;
            const k = (x: number) => x / spec.scale;
            const [lo, hi] = [Math.min(spec.open, spec.close), Math.max(spec.open, spec.close)];
            const bar = {
              symbol: 'T.X',
              start: 1_000 + i * 60_000,
              interval: '1m',
              open: k(spec.open),
              high: k(hi + spec.up),
              low: k(Math.max(0, lo - spec.down)),
              close: k(spec.close),
              volume: spec.volume,
              session: spec.session,
              source: 'replay',
            };
            return { kind: 'bar', bar: bar as Bar };
          });
          const size = Math.ceil(events.length / pieces);
          let log = emptyEventLog(1_000);
          for (let i = 0; i < events.length; i += size) {
            log = appendToEventLog(log, 'T.X', events.slice(i, i + size))!;
          }
          const read = readEventLog(log.bytes, 'T.X', 1_000);
          expectSameEvents(read.events, events);
          expect(read.log).toEqual(log);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('gives back recorded Yahoo quotes as ticks exactly, optional fields absent or present', () => {
    const ticks = recordedTicks();
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    for (const tick of ticks) {
      const events: MarketEvent[] = [{ kind: 'tick', tick }];
      const log = appendToEventLog(emptyEventLog(0), tick.symbol, events)!;
      expectSameEvents(readEventLog(log.bytes, tick.symbol, 0).events, events);
    }
  });

  it('appending in pieces writes the same bytes as appending at once, and a read log appends on', () => {
    const events = barEvents().slice(0, 120);
    const start = 1_700_000_000_000;
    const whole = appendToEventLog(emptyEventLog(start), 'AAPL', events)!;
    let pieces = emptyEventLog(start);
    for (let i = 0; i < 100; i += 7)
      pieces = appendToEventLog(pieces, 'AAPL', events.slice(i, Math.min(i + 7, 100)))!;
    const reread = readEventLog(pieces.bytes, 'AAPL', start).log;
    const finished = appendToEventLog(reread, 'AAPL', events.slice(100))!;
    expect(Buffer.from(finished.bytes).equals(Buffer.from(whole.bytes))).toBe(true);
    expect(finished).toEqual(whole);
    expect(finished.count).toBe(120);
  });

  it.each([
    // The first 30 bars of the real session from the log's start time, as release 2de7c39 wrote them
    // (kinds 0 and 1), and as release 5eeacf8 did (kind 2 only, before bars were written in short).
    { fixture: 'log1-aapl-30.b64', form: 'the earliest entries' },
    { fixture: 'log2-aapl-30.b64', form: 'bars in full' },
  ])('reads a log of $form an earlier release wrote (frozen fixture), and appends on in short', ({
    fixture,
  }) => {
    const stored = Buffer.from(
      readFileSync(new URL(`../../fixtures/state/${fixture}`, import.meta.url), 'utf8'),
      'base64',
    );
    const events = barEvents().slice(0, 60);
    const start = 1_727_875_740_000;
    const read = readEventLog(stored, 'AAPL', start);
    expectSameEvents(read.events, events.slice(0, 30));
    const appended = appendToEventLog(read.log, 'AAPL', events.slice(30))!;
    // The next bar in short, with the texts of the last bar in the fixture.
    expect(appended.bytes[stored.length]).toBeGreaterThanOrEqual(4);
    expect(appended.bytes[stored.length]).toBeLessThan(8);
    expectSameEvents(readEventLog(appended.bytes, 'AAPL', start).events, events);
    expect(readEventLog(appended.bytes, 'AAPL', start).log).toEqual(appended);
  });

  it('round-trips any numbers, strings and times, bit for bit (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(arbitraryBar, arbitraryTick), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        (events, pieces) => {
          const size = Math.ceil(events.length / pieces);
          let log = emptyEventLog(1_000);
          for (let i = 0; i < events.length; i += size) {
            log = appendToEventLog(log, 'T.X', events.slice(i, i + size) as MarketEvent[])!;
          }
          expectSameEvents(readEventLog(log.bytes, 'T.X', 1_000).events, events as MarketEvent[]);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('stops as soon as the log would pass its room, and never returns a longer log', () => {
    const events = barEvents().slice(0, 50);
    const full = appendToEventLog(emptyEventLog(0), 'AAPL', events)!;
    expect(appendToEventLog(emptyEventLog(0), 'AAPL', events, full.bytes.length)).toEqual(full);
    expect(appendToEventLog(emptyEventLog(0), 'AAPL', events, full.bytes.length - 1)).toBeUndefined();
    const some = appendToEventLog(emptyEventLog(0), 'AAPL', events.slice(0, 10), 300)!;
    expect(some.bytes.length).toBeLessThanOrEqual(300);
  });

  it('refuses an event of another symbol, and names damage when reading', () => {
    const events = barEvents().slice(0, 3);
    expect(() => appendToEventLog(emptyEventLog(0), 'MSFT', events)).toThrow(
      /an event of AAPL cannot be logged in the state of MSFT/,
    );
    const log = appendToEventLog(emptyEventLog(0), 'AAPL', events)!;
    expect(() => readEventLog(log.bytes.subarray(0, log.bytes.length - 2), 'AAPL', 0)).toThrow(EventLogError);
    expect(() => readEventLog(Uint8Array.of(12), 'AAPL', 0)).toThrow(/unknown event kind 12 at byte 0/);
    // A short bar (kind 4: scale 1, the previous bar's texts) in an empty log: no texts, no close.
    expect(() => readEventLog(Uint8Array.of(4, 0), 'AAPL', 0)).toThrow(
      /a bar has the texts of a previous bar there is none of, at byte 2/,
    );
    // A short bar whose texts follow (kind 8) but which has no previous close to start from.
    expect(() => readEventLog(Uint8Array.of(8, 0, 4, 0x31, 0x6d, 1, 1), 'AAPL', 0)).toThrow(
      /a bar's open refers to a previous close there is none of, at byte 7/,
    );
    // A bar (kind 0) at the log's start time (delta 0) whose interval refers to string 1 of an empty table.
    expect(() => readEventLog(Uint8Array.of(0, 0, 3), 'AAPL', 0)).toThrow(/string 1 is not in the table/);
    // A bar (kind 2) whose open is a difference (code 8) to a previous bar there is none of.
    expect(() => readEventLog(Uint8Array.of(2, 0, 4, 0x31, 0x6d, 8), 'AAPL', 0)).toThrow(
      /number code 8 cannot be read at byte 6/,
    );
  });
});
