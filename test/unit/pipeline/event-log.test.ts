import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteToTick } from '../../../src/adapters/yahoo/map.ts';
import { BarSchema, type MarketEvent, type Tick, TickSchema } from '../../../src/domain/market/index.ts';
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

  it('gives back a real trading day of bars exactly, in about 16 bytes a bar', () => {
    const events = barEvents();
    const start = events[0]!.kind === 'bar' ? events[0]!.bar.start : 0;
    const log = appendToEventLog(emptyEventLog(start), 'AAPL', events)!;
    const read = readEventLog(log.bytes, 'AAPL', start);
    expectSameEvents(read.events, events);
    expect(log.count).toBe(events.length);
    // Prices as differences to the previous bar's (a byte or two), times a minute apart as one byte.
    expect(log.bytes.length / events.length).toBeLessThan(18);
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

  it('reads a log an earlier release wrote (frozen fixture), and appends on to it', () => {
    // The first 30 bars of the real session in the entry form of release 2de7c39 (kinds 0 and 1).
    const legacy = Buffer.from(
      readFileSync(new URL('../../fixtures/state/log1-aapl-30.b64', import.meta.url), 'utf8'),
      'base64',
    );
    const events = barEvents().slice(0, 60);
    const start = 1_727_875_740_000;
    const read = readEventLog(legacy, 'AAPL', start);
    expectSameEvents(read.events, events.slice(0, 30));
    const appended = appendToEventLog(read.log, 'AAPL', events.slice(30))!;
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
    expect(() => readEventLog(Uint8Array.of(7), 'AAPL', 0)).toThrow(/unknown event kind 7 at byte 0/);
    // A bar (kind 0) at the log's start time (delta 0) whose interval refers to string 1 of an empty table.
    expect(() => readEventLog(Uint8Array.of(0, 0, 3), 'AAPL', 0)).toThrow(/string 1 is not in the table/);
    // A bar (kind 2) whose open is a difference (code 8) to a previous bar there is none of.
    expect(() => readEventLog(Uint8Array.of(2, 0, 4, 0x31, 0x6d, 8), 'AAPL', 0)).toThrow(
      /number code 8 cannot be read at byte 6/,
    );
  });
});
