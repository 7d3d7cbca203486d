import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { MemoryCursorStore } from '../../../src/adapters/aws/dynamodb-cursor-store.ts';
import { KinesisPublisher } from '../../../src/adapters/aws/kinesis-publisher.ts';
import { ingestConfigFromEnv } from '../../../src/config/ingest.ts';
import {
  type Bar,
  decodeMarketEvent,
  type MarketEvent,
  type Tick,
} from '../../../src/domain/market/index.ts';
import { pollOnce, runPollLoop } from '../../../src/pipeline/ingest/poll.ts';
import type { EventPublisher, FailedEvent } from '../../../src/ports/event-publisher.ts';
import type { BarFeed, QuoteFeed } from '../../../src/ports/market-source.ts';

// Wednesday 2024-10-02 14:00:30Z = 10:00:30 New York (regular session); Saturday 2024-10-05.
const OPEN = Date.parse('2024-10-02T14:00:30Z');
const SATURDAY = Date.parse('2024-10-05T15:00:00Z');

const bar = (symbol: string, start: number): Bar => ({
  symbol,
  start,
  interval: '1m',
  open: 10,
  high: 11,
  low: 9,
  close: 10.5,
  volume: 100,
  session: 'regular',
  source: 'yahoo',
});
const tick = (symbol: string, time: number): Tick => ({ symbol, time, price: 10, source: 'yahoo' });

/**
 * Yahoo stand-in that serves every completed minute from `from` (its period1) up to `now`, after
 * the cursor; like Yahoo, it refuses a request reaching back more than 8 days of 1-minute bars.
 */
function feeds(now: number, calls: string[] = []): QuoteFeed & BarFeed {
  return {
    async quotes(symbols) {
      calls.push(`quotes:${symbols.join(',')}`);
      return { ticks: symbols.map((s) => tick(s, now - 1000)), issues: [], failures: [] };
    },
    async bars(symbol, o) {
      calls.push(`bars:${symbol}:${o.after ?? 'none'}${o.includePrePost ? ':pre/post' : ''}`);
      if (symbol === 'DOWN') {
        return {
          bars: [],
          issues: [],
          failure: {
            symbol,
            at: 'chart',
            kind: 'server',
            attempts: 4,
            reason: 'chart failed after 4 attempt(s)',
          },
        };
      }
      if ((o.to ?? now) - o.from! > 8 * 24 * 3_600_000) {
        const reason = 'Only 8 days worth of 1m granularity data are allowed to be fetched per request.';
        return { bars: [], issues: [], failure: { symbol, at: 'chart', kind: 'other', attempts: 1, reason } };
      }
      const out: Bar[] = [];
      for (
        let t = Math.max(
          Math.ceil(o.from! / 60_000) * 60_000,
          (o.after ?? Number.NEGATIVE_INFINITY) + 60_000,
        );
        t + 60_000 <= now;
        t += 60_000
      )
        out.push(bar(symbol, t));
      return { bars: out, issues: [] };
    },
  };
}

class RecordingPublisher implements EventPublisher {
  readonly sent: MarketEvent[] = [];
  pending = 0;
  private readonly reject: (e: MarketEvent) => boolean;
  constructor(reject: (e: MarketEvent) => boolean = () => false) {
    this.reject = reject;
  }
  private failed: FailedEvent[] = [];
  async publish(e: MarketEvent) {
    if (this.reject(e)) this.failed.push({ event: e, reason: 'injected', attempts: 3 });
    else this.sent.push(e);
  }
  async flush() {
    const r = { delivered: this.sent.length, failed: this.failed, calls: 1, retries: 0 };
    this.failed = [];
    return r;
  }
}

describe('pollOnce', () => {
  it('does not send a quote again until something traded: unchanged quotes are counted, a refused one is resent', async () => {
    const quoteTimes = new Map<string, number>();
    let served = [tick('AAPL', OPEN - 5_000), tick('MSFT', OPEN - 4_000)];
    const quoteFeed: QuoteFeed = {
      async quotes() {
        return { ticks: served, issues: [], failures: [] };
      },
    };
    const poll = (publisher: EventPublisher) =>
      pollOnce(
        { symbols: ['AAPL', 'MSFT'], quotes: true, bars: false, now: OPEN },
        { quoteFeed, barFeed: feeds(OPEN), cursors: new MemoryCursorStore(), publisher, quoteTimes },
      );
    const sentTicks = (p: RecordingPublisher) =>
      p.sent.map((e) => (e.kind === 'tick' ? `${e.tick.symbol}@${e.tick.time - OPEN}` : 'bar'));

    // First poll: the stream refuses MSFT's quote.
    const first = new RecordingPublisher((e) => e.kind === 'tick' && e.tick.symbol === 'MSFT');
    const r1 = await poll(first);
    expect(sentTicks(first)).toEqual(['AAPL@-5000']);
    expect(r1.quotesUnchanged).toBe(0);

    // Same quotes again: AAPL's is not sent twice; MSFT's, never taken, is.
    const second = new RecordingPublisher();
    const r2 = await poll(second);
    expect(sentTicks(second)).toEqual(['MSFT@-4000']);
    expect(r2).toMatchObject({ ticksPublished: 1, quotesUnchanged: 1 });

    // AAPL traded (a newer quote); MSFT did not; a stale, older AAPL quote never goes out either.
    served = [tick('AAPL', OPEN - 1_000), tick('MSFT', OPEN - 4_000), tick('AAPL', OPEN - 9_000)];
    const third = new RecordingPublisher();
    const r3 = await poll(third);
    expect(sentTicks(third)).toEqual(['AAPL@-1000']);
    expect(r3).toMatchObject({ ticksPublished: 1, quotesUnchanged: 2 });
    expect(Object.fromEntries(quoteTimes)).toEqual({ AAPL: OPEN - 1_000, MSFT: OPEN - 4_000 });
  });

  it('defers the symbols it has not reached by its deadline: no request after it, their cursors untouched, fetched next poll', async () => {
    const cursors = new MemoryCursorStore();
    const calls: string[] = [];
    const yahoo = feeds(OPEN, calls);
    // Each chart request takes 10 s of the poll's clock.
    let now = OPEN;
    const slow: BarFeed = {
      bars: async (symbol, o) => {
        now += 10_000;
        return yahoo.bars(symbol, o);
      },
    };
    const symbols = ['AAPL', 'MSFT', 'NVDA', 'TSLA'];
    const publisher = new RecordingPublisher();
    const base = { symbols, quotes: false, bars: true, now: OPEN, lookbackMs: 5 * 60_000 };
    const r1 = await pollOnce(
      { ...base, deadline: OPEN + 15_000, clock: () => now },
      { quoteFeed: yahoo, barFeed: slow, cursors, publisher },
    );
    // AAPL starts at 0 s, MSFT at 10 s; at 20 s the deadline (15 s) has passed.
    expect(calls).toEqual(['bars:AAPL:none', 'bars:MSFT:none']);
    expect(r1.deferred).toEqual(['NVDA', 'TSLA']);
    expect(Object.keys(r1.cursors).sort()).toEqual(['AAPL', 'MSFT']);
    expect(await cursors.get('NVDA', 'bars-1m')).toBeUndefined();

    const r2 = await pollOnce(base, { quoteFeed: yahoo, barFeed: slow, cursors, publisher });
    expect(r2.deferred).toEqual([]);
    expect(Object.keys(r2.cursors).sort()).toEqual(['NVDA', 'TSLA']);
    // Every symbol's bars went out once.
    const sent = publisher.sent.map((e) => (e.kind === 'bar' ? `${e.bar.symbol}@${e.bar.start}` : ''));
    expect(new Set(sent).size).toBe(sent.length);
    expect(new Set(sent.map((k) => k.split('@')[0]))).toEqual(new Set(symbols));
  });

  it('without quoteTimes every quote is sent at every poll', async () => {
    const publisher = new RecordingPublisher();
    const deps = {
      quoteFeed: feeds(OPEN),
      barFeed: feeds(OPEN),
      cursors: new MemoryCursorStore(),
      publisher,
    };
    const o = { symbols: ['AAPL'], quotes: true, bars: false, now: OPEN };
    await pollOnce(o, deps);
    const r = await pollOnce(o, deps);
    expect(r).toMatchObject({ ticksPublished: 1, quotesUnchanged: 0 });
    expect(publisher.sent).toHaveLength(2);
  });

  it('sends each bar once across polls: the cursor moves to the last delivered bar', async () => {
    const cursors = new MemoryCursorStore();
    const pub = new RecordingPublisher();
    const base = { symbols: ['AAPL'], quotes: false, bars: true, lookbackMs: 5 * 60_000 };
    const r1 = await pollOnce(
      { ...base, now: OPEN },
      { quoteFeed: feeds(OPEN), barFeed: feeds(OPEN), cursors, publisher: pub },
    );
    // 5 minutes back from 14:00:30 → the completed bars 13:56..13:59
    expect(r1.barsPublished).toBe(4);
    expect(r1.cursors.AAPL).toBe(Date.parse('2024-10-02T13:59:00Z'));
    const later = OPEN + 3 * 60_000;
    const r2 = await pollOnce(
      { ...base, now: later },
      { quoteFeed: feeds(later), barFeed: feeds(later), cursors, publisher: pub },
    );
    expect(r2.barsPublished).toBe(3);
    const starts = pub.sent.map((e) => (e.kind === 'bar' ? e.bar.start : 0));
    expect(new Set(starts).size).toBe(starts.length);
    expect(starts.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual([
      '13:56',
      '13:57',
      '13:58',
      '13:59',
      '14:00',
      '14:01',
      '14:02',
    ]);
  });

  it('a cursor older than one request reaches: the last 7 days are fetched, the older gap reported', async () => {
    const cursors = new MemoryCursorStore();
    await cursors.advance('AAPL', 'bars-1m', Date.parse('2024-09-22T14:00:00Z'));
    const pub = new RecordingPublisher();
    const r = await pollOnce(
      { symbols: ['AAPL'], quotes: false, bars: true, now: OPEN },
      { quoteFeed: feeds(OPEN), barFeed: feeds(OPEN), cursors, publisher: pub },
    );
    expect(r.failures).toEqual([]);
    expect(r.issues).toEqual([
      {
        symbol: 'AAPL',
        at: 'bars',
        reason:
          "bars from 2024-09-22T14:01:00.000Z to 2024-09-25T14:00:30.000Z are beyond one request's reach and are skipped (use npm run backfill)",
      },
    ]);
    // Every minute from 7 days before 14:00:30 (the first whole one: 14:01) to the last completed one.
    const starts = pub.sent.map((e) => (e.kind === 'bar' ? e.bar.start : 0));
    expect(new Date(starts[0]!).toISOString()).toBe('2024-09-25T14:01:00.000Z');
    expect(starts).toHaveLength(7 * 24 * 60 - 1);
    expect(r.cursors.AAPL).toBe(Date.parse('2024-10-02T13:59:00Z'));
  });

  it('stops the cursor before the first bar the stream did not take, so it is sent again', async () => {
    const cursors = new MemoryCursorStore();
    const failAt = Date.parse('2024-10-02T13:57:00Z');
    const pub = new RecordingPublisher((e) => e.kind === 'bar' && e.bar.start === failAt);
    const r = await pollOnce(
      { symbols: ['AAPL'], quotes: false, bars: true, now: OPEN, lookbackMs: 5 * 60_000 },
      { quoteFeed: feeds(OPEN), barFeed: feeds(OPEN), cursors, publisher: pub },
    );
    expect(r.publishFailed).toHaveLength(1);
    expect(r.cursors.AAPL).toBe(Date.parse('2024-10-02T13:56:00Z'));
    expect(await cursors.get('AAPL', 'bars-1m')).toBe(Date.parse('2024-10-02T13:56:00Z'));
  });

  it('never lets a later bar overtake one the stream did not take, across polls (real publisher)', async () => {
    // The stream refuses AAPL's 13:57 bar throughout the first poll, then takes everything.
    const failAt = Date.parse('2024-10-02T13:57:00Z');
    let firstPoll = true;
    const onStream: number[] = [];
    const kinesis = {
      async send(cmd: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
        const Records = (cmd.input.Records ?? []).map((r) => {
          const d = decodeMarketEvent(new TextDecoder().decode(r.Data), Number.POSITIVE_INFINITY);
          const start = d.ok && d.value.kind === 'bar' ? d.value.bar.start : -1;
          if (firstPoll && start === failAt)
            return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'injected' };
          onStream.push(start);
          return { SequenceNumber: '1', ShardId: 'shardId-000000000000' };
        });
        return { Records, FailedRecordCount: 0, $metadata: {} };
      },
    };
    const publisher = new KinesisPublisher({
      streamName: 's',
      kinesis,
      maxAttempts: 3,
      holdSymbolAfterFailure: true,
      sleep: async () => {},
    });
    const cursors = new MemoryCursorStore();
    const base = { symbols: ['AAPL'], quotes: false, bars: true, lookbackMs: 5 * 60_000 };
    const r1 = await pollOnce(
      { ...base, now: OPEN },
      { quoteFeed: feeds(OPEN), barFeed: feeds(OPEN), cursors, publisher },
    );
    expect(r1.publishFailed.length).toBeGreaterThan(0);
    firstPoll = false;
    const later = OPEN + 60_000;
    await pollOnce(
      { ...base, now: later },
      { quoteFeed: feeds(later), barFeed: feeds(later), cursors, publisher },
    );
    // In stream order, AAPL's bars never go back in time (the processor skips a bar behind its
    // watermark, so an overtaken bar would be lost there), and each minute arrives.
    for (let i = 1; i < onStream.length; i++) expect(onStream[i]).toBeGreaterThan(onStream[i - 1]!);
    expect(onStream.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual([
      '13:56',
      '13:57',
      '13:58',
      '13:59',
      '14:00',
    ]);
  });

  it('isolates a failing symbol and reports it; quotes go in one batch', async () => {
    const calls: string[] = [];
    const pub = new RecordingPublisher();
    const f = feeds(OPEN, calls);
    const r = await pollOnce(
      { symbols: ['AAPL', 'DOWN', 'MSFT'], quotes: true, bars: true, now: OPEN, lookbackMs: 2 * 60_000 },
      { quoteFeed: f, barFeed: f, cursors: new MemoryCursorStore(), publisher: pub },
    );
    expect(calls).toEqual(['quotes:AAPL,DOWN,MSFT', 'bars:AAPL:none', 'bars:DOWN:none', 'bars:MSFT:none']);
    expect(r.failures).toEqual([expect.objectContaining({ symbol: 'DOWN', kind: 'server' })]);
    expect(Object.keys(r.cursors)).toEqual(['AAPL', 'MSFT']);
    expect(r.ticksPublished).toBe(3);
  });

  it('fetches the session last bar after the close (also on a half day), and only quotes while open', async () => {
    // The 15:59 bar completes at 16:00:00 New York, when the market is already closed: it must be
    // fetched by a poll just after the close, not the next morning. 2024-11-29 closes at 13:00.
    for (const [close, lastBar] of [
      ['2024-10-02T20:00:40Z', '2024-10-02T19:59:00Z'],
      ['2024-11-29T18:00:40Z', '2024-11-29T17:59:00Z'],
    ] as const) {
      const now = Date.parse(close);
      const calls: string[] = [];
      const f = feeds(now, calls);
      const cursors = new MemoryCursorStore();
      await cursors.advance('AAPL', 'bars-1m', Date.parse(lastBar) - 60_000);
      const pub = new RecordingPublisher();
      const r = await pollOnce(
        { symbols: ['AAPL'], quotes: true, bars: true, now },
        { quoteFeed: f, barFeed: f, cursors, publisher: pub },
      );
      expect(calls).toEqual([`bars:AAPL:${Date.parse(lastBar) - 60_000}`]);
      expect(r.cursors.AAPL).toBe(Date.parse(lastBar));
      expect(r.skippedClosed).toEqual([]);
      // Long after the close nothing is asked for.
      const later = await pollOnce(
        { symbols: ['AAPL'], quotes: true, bars: true, now: now + 10 * 60_000 },
        { quoteFeed: f, barFeed: f, cursors, publisher: pub },
      );
      expect(later.skippedClosed).toEqual(['AAPL']);
      expect(calls).toHaveLength(1);
    }
  });

  it('keeps fetching bars for 5 minutes after the close, not longer', async () => {
    const calls: string[] = [];
    const cursors = new MemoryCursorStore();
    await cursors.advance('AAPL', 'bars-1m', Date.parse('2024-10-02T19:58:00Z'));
    const pub = new RecordingPublisher();
    // 16:04:40 New York: the market was open at 15:59:40, 5 minutes before.
    const inside = Date.parse('2024-10-02T20:04:40Z');
    const r = await pollOnce(
      { symbols: ['AAPL'], quotes: false, bars: true, now: inside },
      { quoteFeed: feeds(inside, calls), barFeed: feeds(inside, calls), cursors, publisher: pub },
    );
    expect(r.skippedClosed).toEqual([]);
    expect(calls).toEqual([`bars:AAPL:${Date.parse('2024-10-02T19:58:00Z')}`]);
    const after = inside + 60_000;
    const r2 = await pollOnce(
      { symbols: ['AAPL'], quotes: false, bars: true, now: after },
      { quoteFeed: feeds(after, calls), barFeed: feeds(after, calls), cursors, publisher: pub },
    );
    expect(r2.skippedClosed).toEqual(['AAPL']);
    expect(calls).toHaveLength(1);
  });

  it('gives the quote request the poll deadline, so its retries stop in time', async () => {
    const asked: (number | undefined)[] = [];
    const f = feeds(OPEN);
    const quoteFeed: QuoteFeed = {
      quotes: async (symbols, o) => {
        asked.push(o?.deadline);
        return f.quotes(symbols, o);
      },
    };
    await pollOnce(
      { symbols: ['AAPL'], quotes: true, bars: false, now: OPEN, deadline: OPEN + 20_000 },
      { quoteFeed, barFeed: f, cursors: new MemoryCursorStore(), publisher: new RecordingPublisher() },
    );
    expect(asked).toEqual([OPEN + 20_000]);
  });

  it('does not poll closed markets unless told to; crypto is always open', async () => {
    const calls: string[] = [];
    const f = feeds(SATURDAY, calls);
    const deps = {
      quoteFeed: f,
      barFeed: f,
      cursors: new MemoryCursorStore(),
      publisher: new RecordingPublisher(),
    };
    const r = await pollOnce(
      { symbols: ['AAPL', 'EURUSD=X', 'BTC-USD'], quotes: true, bars: false, now: SATURDAY },
      deps,
    );
    expect(r.polled).toEqual(['BTC-USD']);
    expect(r.skippedClosed).toEqual(['AAPL', 'EURUSD=X']);
    expect(calls).toEqual(['quotes:BTC-USD']);
    const forced = await pollOnce(
      { symbols: ['AAPL'], quotes: true, bars: false, now: SATURDAY, whenClosed: true },
      deps,
    );
    expect(forced.polled).toEqual(['AAPL']);
    // pre-market: only with extended hours (08:00 New York)
    const pre = Date.parse('2024-10-02T12:00:00Z');
    expect((await pollOnce({ symbols: ['AAPL'], quotes: true, bars: false, now: pre }, deps)).polled).toEqual(
      [],
    );
    expect(
      (await pollOnce({ symbols: ['AAPL'], quotes: true, bars: false, now: pre, extendedHours: true }, deps))
        .polled,
    ).toEqual(['AAPL']);
    // ... and its bars then include the pre/post-market minutes (Yahoo leaves them out unless asked).
    calls.length = 0;
    await pollOnce({ symbols: ['AAPL'], quotes: false, bars: true, now: pre, extendedHours: true }, deps);
    expect(calls).toEqual(['bars:AAPL:none:pre/post']);
  });
});

describe('runPollLoop', () => {
  function fakeTime() {
    let now = 0;
    return {
      clock: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it('polls every interval inside the window without overlapping the next invocation', async () => {
    const t = fakeTime();
    const starts: number[] = [];
    const n = await runPollLoop(
      { intervalMs: 30_000, windowMs: 55_000, clock: t.clock, sleep: t.sleep },
      async () => {
        starts.push(t.clock());
        t.advance(2_000);
      },
    );
    expect(n).toBe(2);
    expect(starts).toEqual([0, 30_000]);
  });

  it('skips slots a slow poll overran instead of bunching polls, and respects the time left', async () => {
    const t = fakeTime();
    const starts: number[] = [];
    await runPollLoop({ intervalMs: 10_000, windowMs: 55_000, clock: t.clock, sleep: t.sleep }, async (i) => {
      starts.push(t.clock());
      t.advance(i === 0 ? 25_000 : 1_000);
    });
    expect(starts).toEqual([0, 30_000, 40_000, 50_000]);

    const t2 = fakeTime();
    const starts2: number[] = [];
    await runPollLoop(
      {
        intervalMs: 10_000,
        windowMs: 55_000,
        remainingMs: () => 30_000 - t2.clock(),
        safetyMs: 10_000,
        clock: t2.clock,
        sleep: t2.sleep,
      },
      async () => void starts2.push(t2.clock()),
    );
    // at 20 s exactly the safety margin is left: the last poll starts; at 30 s nothing is left
    expect(starts2).toEqual([0, 10_000, 20_000]);
  });
});

describe('ingest configuration', () => {
  const env = {
    SYMBOLS: 'aapl, msft,BTC-USD',
    TICKS_STREAM_NAME: 'ticks',
    MARKET_TABLE_NAME: 'market',
    POWERTOOLS_METRICS_NAMESPACE: 'tickstream/dev',
  };
  it('reads symbols, mode and defaults', () => {
    const c = ingestConfigFromEnv(env);
    expect(c.SYMBOLS).toEqual(['AAPL', 'MSFT', 'BTC-USD']);
    expect(c.INGEST_MODE).toBe('both');
    expect(c.POLL_INTERVAL_SECONDS).toBe(30);
    expect(c.INGEST_WHEN_CLOSED).toBe(false);
  });
  it('names each symbol once, whatever its case: a repeated symbol would have its bars put twice', () => {
    // pollOnce reads each listed symbol's cursor before any is advanced, so a symbol listed twice
    // sends every new bar twice.
    expect(ingestConfigFromEnv({ ...env, SYMBOLS: 'AAPL, msft,aapl,MSFT ,BTC-USD' }).SYMBOLS).toEqual([
      'AAPL',
      'MSFT',
      'BTC-USD',
    ]);
  });
  it('names each bad setting and why', () => {
    expect(() => ingestConfigFromEnv({ ...env, INGEST_MODE: 'all', POLL_INTERVAL_SECONDS: '0' })).toThrow(
      /INGEST_MODE: INGEST_MODE must be quotes, bars or both; POLL_INTERVAL_SECONDS: POLL_INTERVAL_SECONDS must be at least 1/,
    );
    expect(() => ingestConfigFromEnv({ ...env, SYMBOLS: 'AAPL,$$$' })).toThrow(
      /SYMBOLS.*unknown symbol format/,
    );
    expect(() => ingestConfigFromEnv({ SYMBOLS: 'AAPL' })).toThrow(/TICKS_STREAM_NAME is required/);
  });
  it('keeps the polling window under the one-minute schedule: a longer one would crowd out the next invocation', () => {
    expect(ingestConfigFromEnv(env).POLL_WINDOW_SECONDS).toBe(55);
    expect(ingestConfigFromEnv({ ...env, POLL_WINDOW_SECONDS: '59' }).POLL_WINDOW_SECONDS).toBe(59);
    expect(() => ingestConfigFromEnv({ ...env, POLL_WINDOW_SECONDS: '60' })).toThrow(
      /POLL_WINDOW_SECONDS: POLL_WINDOW_SECONDS must be at most 59/,
    );
  });
});
