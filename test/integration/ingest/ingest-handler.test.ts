/**
 * The ingestQuotes handler as Lambda invokes it: the real module (imported after its template
 * environment is set, as the local pipeline does for the processor), its real adapters pointed at
 * the local cloud, and a fake Yahoo behind the Yahoo client's fetch that serves RECORDED Yahoo
 * responses (test/fixtures/yahoo). No request leaves the process. What it publishes is read back
 * from the local Kinesis stream with GetRecords and compared with the recorded responses and with
 * the independently flattened sample of the same chart (data/samples/aapl-2024-10-02.csv).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalCloud } from '../../../scripts/local/local-cloud.ts';
import { cursorKey } from '../../../src/adapters/aws/dynamodb-cursor-store.ts';
import type { Bar, Tick } from '../../../src/domain/market/index.ts';
import { FakeYahoo, type Json, recordedBody } from '../../support/fake-yahoo.ts';
import { captureJsonLines, emfMetrics } from '../../support/json-output.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';
import { startSilentServer } from '../../support/silent-server.ts';
import { StreamReader, type StreamRecord } from '../../support/stream-reader.ts';

type IngestModule = typeof import('../../../functions/ingest-quotes.ts');
type IngestHandler = ReturnType<IngestModule['createIngestHandler']>;
interface Summary {
  polls: number;
  ticksPublished: number;
  barsPublished: number;
  failures: number;
  recordsFailed: number;
}

const FUNCTION_ID = 'IngestQuotesLambdaFunction';
const CHART_FILE = 'chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json';

// ---------------------------------------------------------------- recorded Yahoo responses

/** The one quote of `symbol` in a recorded /v7/finance/quote response. */
function recordedQuote(file: string, symbol: string): Json {
  const body = recordedBody(file) as { quoteResponse: { result: Json[] } };
  const q = body.quoteResponse.result.find((x) => x.symbol === symbol);
  if (!q) throw new Error(`${file} has no quote for ${symbol}`);
  return q;
}

/**
 * The latest trade a recorded quote carries, read straight from its fields: the regular session's
 * or the pre/post-market one when that is more recent (Yahoo's times are epoch seconds).
 */
function latestTrade(q: Json): { price: number; time: number } {
  let best = { price: q.regularMarketPrice as number, time: (q.regularMarketTime as number) * 1000 };
  for (const [p, t] of [
    ['preMarketPrice', 'preMarketTime'],
    ['postMarketPrice', 'postMarketTime'],
  ] as const) {
    if (typeof q[p] === 'number' && typeof q[t] === 'number' && (q[t] as number) * 1000 > best.time) {
      best = { price: q[p] as number, time: (q[t] as number) * 1000 };
    }
  }
  return best;
}

/** The recorded AAPL chart cut to its first `n` timestamps (as a poll earlier that day would get it). */
function chartPrefix(n: number): Json {
  const body = structuredClone(recordedBody(CHART_FILE)) as {
    chart: { result: { timestamp: number[]; indicators: { quote: Record<string, unknown[]>[] } }[] };
  };
  const r = body.chart.result[0]!;
  r.timestamp = r.timestamp.slice(0, n);
  const q = r.indicators.quote[0]!;
  for (const k of Object.keys(q)) q[k] = q[k]!.slice(0, n);
  return body;
}

// ---------------------------------------------------------------- the local stream, read back

const ticksOf = (rs: StreamRecord[]) => rs.flatMap((r) => (r.event.kind === 'tick' ? [r.event.tick] : []));
const barsOf = (rs: StreamRecord[]) => rs.flatMap((r) => (r.event.kind === 'bar' ? [r.event.bar] : []));

// ---------------------------------------------------------------- the handler

/** An invocation with `remainingMs` left when it starts, counting down with the wall clock as in Lambda. */
function lambdaContext(remainingMs = 60_000): Context {
  const end = Date.now() + remainingMs;
  return {
    functionName: 'tickstream-dev-ingestQuotes',
    awsRequestId: `test-${Math.random().toString(36).slice(2)}`,
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
  } as unknown as Context;
}

/** Lines the handler's Powertools logger and metrics wrote (JSON), captured instead of printed. */
interface Output {
  readonly lines: Json[];
}

/** Invokes the handler once as the schedule does, capturing what it writes to stdout/stderr. */
async function invoke(
  handler: IngestHandler,
  remainingMs?: number,
): Promise<{ summary: Summary; output: Output }> {
  const { result, lines } = await captureJsonLines(
    async () =>
      (await handler(
        { 'detail-type': 'Scheduled Event', source: 'aws.events' },
        lambdaContext(remainingMs),
      )) as Summary,
  );
  return { summary: result, output: { lines } };
}

/** The cloud's ingestQuotes environment (from the template), imported module, and a handler factory. */
function useIngest(cloud: () => LocalCloud) {
  let mod: IngestModule | undefined;
  let reader: StreamReader | undefined;
  beforeAll(async () => {
    const c = cloud();
    // The module builds `handler` at import from process.env, as at a Lambda cold start: the
    // template's environment first, with symbols the fake Yahoo knows.
    Object.assign(process.env, c.functionEnv(FUNCTION_ID), { SYMBOLS: 'AAPL' });
    mod = await import('../../../functions/ingest-quotes.ts');
    reader = new StreamReader(c.clients.kinesis, c.functionEnv(FUNCTION_ID).TICKS_STREAM_NAME!);
    await reader.readNew();
  });
  return {
    module: () => mod!,
    stream: () => reader!,
    /** A handler of the real module with these settings over the template's, Yahoo served by `yahoo`. */
    handler(settings: Record<string, string>, yahoo: FakeYahoo): IngestHandler {
      return mod!.createIngestHandler({
        env: {
          ...process.env,
          ...cloud().functionEnv(FUNCTION_ID),
          // one poll per invocation, so a test invocation ends fast
          POLL_INTERVAL_SECONDS: '1',
          POLL_WINDOW_SECONDS: '1',
          // the recorded sessions are in the past: poll whatever the clock says about market hours
          INGEST_WHEN_CLOSED: 'true',
          ...settings,
        },
        yahooFetch: yahoo.fetch,
      });
    },
  };
}

async function cursorOf(c: LocalCloud, symbol: string): Promise<number | undefined> {
  const out = await c.clients.documents.send(
    new GetCommand({
      TableName: c.functionEnv(FUNCTION_ID).MARKET_TABLE_NAME!,
      Key: cursorKey(symbol, 'bars-1m'),
      ConsistentRead: true,
    }),
  );
  return out.Item?.lastBarStart as number | undefined;
}

/** Bars equal the flattened sample's rows (prices to the cent's fraction, volumes exactly). */
function expectSampleBars(bars: readonly Bar[], sample: readonly Bar[]): void {
  expect(bars.map((b) => new Date(b.start).toISOString())).toEqual(
    sample.map((b) => new Date(b.start).toISOString()),
  );
  for (const [i, b] of bars.entries()) {
    const s = sample[i]!;
    expect(b.symbol).toBe('AAPL');
    expect(b.interval).toBe('1m');
    expect(b.session).toBe('regular');
    expect(b.source).toBe('yahoo');
    expect(b.open).toBeCloseTo(s.open, 3);
    expect(b.high).toBeCloseTo(s.high, 3);
    expect(b.low).toBeCloseTo(s.low, 3);
    expect(b.close).toBeCloseTo(s.close, 3);
    expect(b.volume).toBe(s.volume);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------- the tests

describe('ingestQuotes handler: recorded Yahoo responses onto the local stream', () => {
  const cloud = useLocalCloud();
  const ingest = useIngest(cloud);

  it('exports the scheduled handler built from the template environment at import', () => {
    expect(typeof ingest.module().handler).toBe('function');
  });

  it('quotes: one invocation publishes one tick per symbol, the latest recorded trade, in one batched request', async () => {
    const yahoo = new FakeYahoo();
    const recorded = {
      AAPL: recordedQuote('quote-AAPL.json', 'AAPL'),
      'BTC-USD': recordedQuote('quote-BTC-USD.json', 'BTC-USD'),
      'EURUSD=X': recordedQuote('quote-EURUSD=X.json', 'EURUSD=X'),
    };
    for (const [s, q] of Object.entries(recorded)) yahoo.quote(s, q);
    const handler = ingest.handler({ SYMBOLS: 'AAPL,BTC-USD,EURUSD=X', INGEST_MODE: 'quotes' }, yahoo);

    const { summary } = await invoke(handler);
    expect(summary).toEqual({
      polls: 1,
      ticksPublished: 3,
      quotesUnchanged: 0,
      barsPublished: 0,
      failures: 0,
      recordsFailed: 0,
    });
    // all three symbols in one quote request, with the crumb of the handshake
    expect(yahoo.count('quote')).toBe(1);
    expect(yahoo.requests.find((r) => r.route === 'quote')?.symbols).toEqual(['AAPL', 'BTC-USD', 'EURUSD=X']);
    expect(new URL(yahoo.requests.find((r) => r.route === 'quote')!.url).searchParams.get('crumb')).toBe(
      'recordedCrumb',
    );
    expect(yahoo.count('chart')).toBe(0);

    const records = await ingest.stream().readNew();
    expect(records).toHaveLength(3);
    expect(records.every((r) => r.event.kind === 'tick')).toBe(true);
    for (const r of records) expect(r.partitionKey).toBe((r.event as { tick: Tick }).tick.symbol);
    const ticks = new Map(ticksOf(records).map((t) => [t.symbol, t]));
    expect([...ticks.keys()].sort()).toEqual(['AAPL', 'BTC-USD', 'EURUSD=X']);
    for (const [symbol, q] of Object.entries(recorded)) {
      const t = ticks.get(symbol)!;
      const trade = latestTrade(q);
      expect(t.price).toBe(trade.price);
      expect(t.time).toBe(trade.time);
      // A day counter, except for crypto, whose regularMarketVolume is the rolling 24-hour volume.
      expect(t.dayVolume).toBe(q.quoteType === 'CRYPTOCURRENCY' ? undefined : q.regularMarketVolume);
      expect(t.source).toBe('yahoo');
    }
    // AAPL's post-market trade is later than its close: that is the tick (as recorded)
    expect(ticks.get('AAPL')!.price).toBe(recorded.AAPL.postMarketPrice);
  });

  it('bars: publishes the recorded completed bars once; the DynamoDB cursor keeps later invocations from publishing any twice', async () => {
    const c = cloud();
    const sample = aaplSampleBars();
    const timestamps = (recordedBody(CHART_FILE) as { chart: { result: { timestamp: number[] }[] } }).chart
      .result[0]!.timestamp;
    // First invocation: the chart as it stood after its first 200 minutes.
    const cut = timestamps[200]! * 1000;
    const early = sample.filter((b) => b.start < cut);
    const late = sample.filter((b) => b.start >= cut);
    expect(early.length).toBeGreaterThan(0);
    expect(late.length).toBeGreaterThan(0);

    const yahoo = new FakeYahoo().chart('AAPL', chartPrefix(200));
    const handler = ingest.handler({ SYMBOLS: 'AAPL', INGEST_MODE: 'bars' }, yahoo);
    const first = await invoke(handler);
    expect(first.summary).toEqual({
      polls: 1,
      ticksPublished: 0,
      quotesUnchanged: 0,
      barsPublished: early.length,
      failures: 0,
      recordsFailed: 0,
    });
    expect(yahoo.count('quote')).toBe(0);
    const firstRecords = await ingest.stream().readNew();
    expect(firstRecords.every((r) => r.event.kind === 'bar' && r.partitionKey === 'AAPL')).toBe(true);
    expectSampleBars(barsOf(firstRecords), early);
    expect(await cursorOf(c, 'AAPL')).toBe(early.at(-1)!.start);

    // Second invocation: Yahoo now has the whole day; only the bars after the cursor go out.
    yahoo.chart('AAPL', recordedBody(CHART_FILE));
    const second = await invoke(handler);
    expect(second.summary).toMatchObject({ barsPublished: late.length, failures: 0, recordsFailed: 0 });
    const secondRecords = await ingest.stream().readNew();
    expectSampleBars(barsOf(secondRecords), late);
    expect(await cursorOf(c, 'AAPL')).toBe(sample.at(-1)!.start);

    // Third invocation, a new container (fresh handler), same response: nothing new, nothing again.
    const cold = ingest.handler({ SYMBOLS: 'AAPL', INGEST_MODE: 'bars' }, yahoo);
    const third = await invoke(cold);
    expect(third.summary).toMatchObject({ polls: 1, barsPublished: 0, failures: 0 });
    expect(await ingest.stream().readNew()).toEqual([]);
    expect(yahoo.count('chart')).toBe(3);

    // Over all invocations: every bar of the day on the stream exactly once.
    const starts = [...barsOf(firstRecords), ...barsOf(secondRecords)].map((b) => b.start);
    expect(new Set(starts).size).toBe(starts.length);
    expect(starts).toEqual(sample.map((b) => b.start));
  });

  it('bars: an invocation with too little time left defers its symbols (logged, counted) instead of running past its end', async () => {
    const c = cloud();
    const yahoo = new FakeYahoo().chart('AAPL', recordedBody(CHART_FILE));
    const handler = ingest.handler({ SYMBOLS: 'AAPL', INGEST_MODE: 'bars' }, yahoo);
    const before = await cursorOf(c, 'AAPL');
    // 15 s left: less than one Yahoo request's timeout (8 s) and the flush margin (10 s).
    const { summary, output } = await invoke(handler, 15_000);
    expect(summary).toMatchObject({ polls: 1, barsPublished: 0, failures: 0 });
    expect(yahoo.count('chart')).toBe(0);
    expect(await cursorOf(c, 'AAPL')).toBe(before);
    const warned = output.lines.find(
      (l) => l.message === 'Poll deadline reached: bars deferred to the next poll',
    );
    expect(warned?.symbols).toEqual(['AAPL']);
    expect(output.lines.find((l) => '_aws' in l && 'SymbolsDeferred' in l)?.SymbolsDeferred).toBe(1);
  });

  it('bars: a chart request Yahoo never answers is not tried again past the poll deadline: the invocation ends in its time', async () => {
    const c = cloud();
    const yahoo = new FakeYahoo().hang('chart');
    const handler = ingest.handler(
      { SYMBOLS: 'AAPL', INGEST_MODE: 'bars', YAHOO_TIMEOUT_MS: '4000', YAHOO_MAX_ATTEMPTS: '4' },
      yahoo,
    );
    const before = await cursorOf(c, 'AAPL');
    // 16 s left: the deadline (less one 4 s request and the 10 s flush margin) is 2 s away, so
    // AAPL's first try starts; its next ones (4 tries of 4 s, backoff between) would run past the end.
    const remainingMs = 16_000;
    const started = Date.now();
    const { summary, output } = await invoke(handler, remainingMs);
    expect(Date.now() - started).toBeLessThan(remainingMs);
    expect(yahoo.count('chart', 'AAPL')).toBe(1);
    expect(summary).toMatchObject({ polls: 1, barsPublished: 0, failures: 1, recordsFailed: 0 });
    const failed = output.lines.filter((l) => l.message === 'Yahoo request failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ symbol: 'AAPL', at: 'chart', kind: 'timeout', attempts: 1 });
    expect(String(failed[0]!.reason)).toMatch(/no time left in the poll for another try/);
    expect(await cursorOf(c, 'AAPL')).toBe(before);
  }, 60_000);

  it('a stream endpoint that never answers: the invocation ends before its time is up, its records reported', async () => {
    // The stream's endpoint: a socket on 127.0.0.1 that takes each request and never answers.
    const silent = await startSilentServer();
    try {
      const yahoo = new FakeYahoo().quote('AAPL', recordedQuote('quote-AAPL.json', 'AAPL'));
      const handler = ingest.handler(
        { SYMBOLS: 'AAPL', INGEST_MODE: 'quotes', TICKSTREAM_ENDPOINT_KINESIS: silent.endpoint },
        yahoo,
      );
      // Lambda ends the invocation when its time is up: the summary, the log line naming the
      // record and the RecordsNotDelivered metric (written at the end) would all be lost.
      const remainingMs = 20_000;
      const started = Date.now();
      const outcome = await Promise.race([
        invoke(handler, remainingMs),
        new Promise<'timed out'>((resolve) => setTimeout(() => resolve('timed out'), remainingMs + 5_000)),
      ]);
      expect(outcome, 'the invocation outlived its time').not.toBe('timed out');
      if (outcome === 'timed out') return;
      expect(Date.now() - started).toBeLessThan(remainingMs);
      expect(outcome.summary).toMatchObject({ polls: 1, ticksPublished: 1, recordsFailed: 1 });
      const lost = outcome.output.lines.filter((l) => l.message === 'Record not delivered to the stream');
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatchObject({ symbol: 'AAPL', kind: 'tick' });
      expect(String(lost[0]!.reason)).toMatch(
        /^not delivered by the writer's deadline .*PutRecords had no answer/,
      );
      expect(
        outcome.output.lines.find((l) => '_aws' in l && 'RecordsNotDelivered' in l)?.RecordsNotDelivered,
      ).toBe(1);
    } finally {
      await silent.close();
    }
  }, 60_000);

  it('a quote request Yahoo never answers is not asked again symbol by symbol: the invocation ends in its time, the failure reported', async () => {
    const symbols = ['AAPL', 'MSFT', 'NVDA', 'SPY', 'BTC-USD'];
    const yahoo = new FakeYahoo().hang('quote');
    const handler = ingest.handler(
      {
        SYMBOLS: symbols.join(','),
        INGEST_MODE: 'quotes',
        YAHOO_TIMEOUT_MS: '1000',
        YAHOO_MAX_ATTEMPTS: '2',
      },
      yahoo,
    );
    // A timeout says nothing about any one symbol: each symbol alone would time out the same way,
    // one request after another (here 5 x 2 more tries of 1 s), past the invocation's end. (14 s
    // left: the poll's deadline, 3 s away, leaves the batch its retry.)
    const remainingMs = 14_000;
    const started = Date.now();
    const { summary, output } = await invoke(handler, remainingMs);
    expect(Date.now() - started).toBeLessThan(remainingMs);
    expect(yahoo.requests.filter((r) => r.route === 'quote').map((r) => r.symbols)).toEqual([
      symbols,
      symbols,
    ]);
    expect(summary).toMatchObject({ polls: 1, ticksPublished: 0, failures: 1, recordsFailed: 0 });
    const failed = output.lines.filter((l) => l.message === 'Yahoo request failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ at: 'quote', kind: 'timeout', attempts: 2, symbol: symbols.join(',') });
    expect(output.lines.find((l) => '_aws' in l && 'YahooFailures' in l)?.YahooFailures).toBe(1);
    expect(await ingest.stream().readNew()).toEqual([]);
  }, 60_000);

  it('bars: a cursor table it cannot use is a poll error (PollErrors, "Bar cursor failed"), not a Yahoo failure', async () => {
    // The table's trouble (deleted, a lost permission, throttling) is what the ingest-poll-errors
    // alarm is for (resources/monitoring.yml); filed as a Yahoo failure, it would page nobody for
    // 15 minutes and then send the operator after Yahoo and the symbols param.
    const yahoo = new FakeYahoo().chart('AAPL', recordedBody(CHART_FILE));
    const handler = ingest.handler(
      { SYMBOLS: 'AAPL', INGEST_MODE: 'bars', MARKET_TABLE_NAME: 'tickstream-dev-no-such-table' },
      yahoo,
    );
    const { summary, output } = await invoke(handler);
    expect(summary).toMatchObject({ polls: 1, barsPublished: 0, failures: 1 });
    expect(yahoo.count('chart')).toBe(0);
    expect(output.lines.filter((l) => l.message === 'Yahoo request failed')).toEqual([]);
    const failed = output.lines.filter((l) => l.message === 'Bar cursor failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'ERROR', symbol: 'AAPL', at: 'cursor' });
    expect(String(failed[0]!.reason)).toMatch(/^cannot read the bar cursor: /);
    const emf = output.lines.find((l) => '_aws' in l && 'YahooFailures' in l);
    expect(emf).toMatchObject({ service: 'tickstream-ingest', YahooFailures: 0, PollErrors: 1 });
  });

  it('both: within one invocation quotes are polled every interval, bars only on the first poll', async () => {
    const yahoo = new FakeYahoo()
      .quote('AAPL', recordedQuote('quote-AAPL.json', 'AAPL'))
      .chart('AAPL', recordedBody(CHART_FILE));
    // a 4 s window with a 2 s interval: polls at 0 s and 2 s (a slow first poll still has 2 s)
    const handler = ingest.handler(
      { SYMBOLS: 'AAPL', INGEST_MODE: 'both', POLL_INTERVAL_SECONDS: '2', POLL_WINDOW_SECONDS: '4' },
      yahoo,
    );
    const { summary } = await invoke(handler);
    // Both polls get the same recorded quote: the second is not sent again, only counted.
    expect(summary).toMatchObject({
      polls: 2,
      ticksPublished: 1,
      quotesUnchanged: 1,
      failures: 0,
      recordsFailed: 0,
    });
    expect(yahoo.count('quote')).toBe(2);
    expect(yahoo.count('chart')).toBe(1);
    const records = await ingest.stream().readNew();
    expect(ticksOf(records).map((t) => t.symbol)).toEqual(['AAPL']);
    expect(barsOf(records)).toHaveLength(summary.barsPublished);
  });
});

describe('ingestQuotes handler: a symbol whose Yahoo responses are malformed', () => {
  const cloud = useLocalCloud();
  const ingest = useIngest(cloud);

  it('is counted in failures and logged with its symbol; the other symbol is still published', async () => {
    const c = cloud();
    const aaplQuote = recordedQuote('quote-AAPL.json', 'AAPL');
    const yahoo = new FakeYahoo()
      .quote('AAPL', aaplQuote)
      // MSFT's quote does not pass the library's schema (its time is not a time) …
      .quote('MSFT', { symbol: 'MSFT', quoteType: 'EQUITY', regularMarketTime: 'not a time' })
      .chart('AAPL', recordedBody(CHART_FILE))
      // … and its chart is an HTML error page served as 200.
      .chart('MSFT', { status: 200, body: '<html><body>Will be right back…</body></html>' });
    const handler = ingest.handler(
      { SYMBOLS: 'AAPL,MSFT', INGEST_MODE: 'both', YAHOO_MAX_ATTEMPTS: '2' },
      yahoo,
    );

    const { summary, output } = await invoke(handler);
    const sample = aaplSampleBars();
    // MSFT's quote (after the batch failed and each symbol was asked alone) and MSFT's chart
    expect(summary).toEqual({
      polls: 1,
      ticksPublished: 1,
      quotesUnchanged: 0,
      barsPublished: sample.length,
      failures: 2,
      recordsFailed: 0,
    });
    // each MSFT request tried YAHOO_MAX_ATTEMPTS times: the batch, then MSFT alone; the chart
    expect(yahoo.requests.filter((r) => r.route === 'quote').map((r) => r.symbols.join(','))).toEqual([
      'AAPL,MSFT',
      'AAPL,MSFT',
      'AAPL',
      'MSFT',
      'MSFT',
    ]);
    expect(yahoo.count('chart', 'MSFT')).toBe(2);

    const records = await ingest.stream().readNew();
    expect(records.some((r) => r.partitionKey === 'MSFT')).toBe(false);
    const ticks = ticksOf(records);
    expect(ticks).toHaveLength(1);
    expect(ticks[0]).toMatchObject({ symbol: 'AAPL', ...latestTrade(aaplQuote) });
    expectSampleBars(barsOf(records), sample);
    expect(await cursorOf(c, 'AAPL')).toBe(sample.at(-1)!.start);
    expect(await cursorOf(c, 'MSFT')).toBeUndefined();

    // The failures are logged naming MSFT and the call, and counted in the YahooFailures metric.
    const failed = output.lines.filter((l) => l.message === 'Yahoo request failed' && l.symbol === 'MSFT');
    expect(failed.map((l) => l.at).sort()).toEqual(['chart', 'quote']);
    const emf = output.lines.find((l) => '_aws' in l && 'YahooFailures' in l);
    expect(emf?.YahooFailures).toBe(2);
    // In the stage's namespace, under the one dimension the alarms on them watch (resources/monitoring.yml).
    expect(emf).toMatchObject({ service: 'tickstream-ingest', RecordsNotDelivered: 0 });
    const filed = emfMetrics(output.lines);
    expect(filed.map((m) => m.name)).toEqual(
      expect.arrayContaining(['YahooFailures', 'RecordsNotDelivered']),
    );
    for (const m of filed.filter((f) => f.name !== 'ColdStart')) {
      expect(m).toEqual({ namespace: 'tickstream/dev', dimensions: ['service'], name: m.name });
    }
  });
});
