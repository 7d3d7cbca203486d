/**
 * The backfill's flow (`npm run backfill`) with the adapters the script builds: YahooMarketData on a
 * yahoo-finance2 client whose fetch serves RECORDED Yahoo responses (test/fixtures/yahoo; no request
 * leaves the process), the KinesisPublisher on the local Kinesis stream (holding a symbol after a
 * bar the stream did not take, as the script sets it) and the DynamoDB cursor store on the local
 * market table. What it publishes is read back with GetRecords and compared with the independently
 * flattened sample of the recorded session (data/samples/aapl-2024-10-02.csv).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { cursorKey, DynamoDbCursorStore } from '../../../src/adapters/aws/dynamodb-cursor-store.ts';
import { KinesisPublisher } from '../../../src/adapters/aws/kinesis-publisher.ts';
import { createYahooClient, YahooMarketData } from '../../../src/adapters/yahoo/yahoo-market-data.ts';
import { type Bar, decodeMarketEvent } from '../../../src/domain/market/index.ts';
import {
  type BackfillOptions,
  backfill,
  backfillSummary,
  YAHOO_1M_HISTORY_MS,
} from '../../../src/pipeline/ingest/backfill.ts';
import { FakeYahoo, type Json, recordedBody, type Served } from '../../support/fake-yahoo.ts';
import { failSomeEntries } from '../../support/kinesis-faults.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';
import { StreamReader } from '../../support/stream-reader.ts';

const CHART_FILE = 'chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json';
const WEEK_MS = 7 * 86_400_000;
const iso = (t: number) => new Date(t).toISOString();

// ---------------------------------------------------------------- Yahoo, from the recorded session

interface Period {
  timezone: string;
  start: number;
  end: number;
  gmtoffset: number;
}
interface ChartBody {
  chart: {
    result: {
      meta: Json & { regularMarketTime: number; regularMarketPrice: number; tradingPeriods: Period[][] };
      timestamp: number[];
      indicators: { quote: Record<string, (number | null)[]>[] };
    }[];
    error: null;
  };
}

const recorded = (recordedBody(CHART_FILE) as unknown as ChartBody).chart.result[0]!;
/** The recorded 2024-10-02 session: its rows (Yahoo's trailing latest-price row left out) and its period. */
const SESSION = recorded.meta.tradingPeriods
  .flat()
  .find((p) => p.start === Date.parse('2024-10-02T13:30Z') / 1000)!;
const SESSION_ROWS = recorded.timestamp.flatMap((t, i) => (t < SESSION.end ? [i] : []));

/**
 * Yahoo's 1-minute chart of a symbol whose history is the recorded session repeated `weeks` weeks
 * later (same weekday, same daylight-saving time), as Yahoo answers a request: the rows in
 * [period1, period2), the sessions as trading periods, and — as in the recording — a trailing row at
 * the latest market time (`latest`), whatever period2 asked for, with the latest price and no volume.
 */
function recordedHistory(weeks: readonly number[], latest: number): (url: URL) => Served {
  return (url) => {
    const p1 = Number(url.searchParams.get('period1'));
    const p2 = Number(url.searchParams.get('period2'));
    const timestamp: number[] = [];
    const quote: Record<string, (number | null)[]> = { open: [], high: [], low: [], close: [], volume: [] };
    for (const w of weeks) {
      for (const i of SESSION_ROWS) {
        const t = recorded.timestamp[i]! + (w * WEEK_MS) / 1000;
        if (t < p1 || t >= p2) continue;
        timestamp.push(t);
        for (const k of Object.keys(quote)) quote[k]!.push(recorded.indicators.quote[0]![k]![i]!);
      }
    }
    const price = recorded.meta.regularMarketPrice;
    timestamp.push(Math.floor(latest / 60_000) * 60);
    for (const k of ['open', 'high', 'low', 'close']) quote[k]!.push(price);
    quote.volume!.push(0);
    const latestWeek = Math.floor((latest / 1000 - SESSION.start) / (WEEK_MS / 1000));
    const periods = [...new Set([...weeks, latestWeek])]
      .sort((a, b) => a - b)
      .map((w) => [
        { ...SESSION, start: SESSION.start + (w * WEEK_MS) / 1000, end: SESSION.end + (w * WEEK_MS) / 1000 },
      ]);
    const body: ChartBody = {
      chart: {
        result: [
          {
            meta: { ...recorded.meta, regularMarketTime: Math.floor(latest / 1000), tradingPeriods: periods },
            timestamp,
            indicators: { quote: [quote] },
          },
        ],
        error: null,
      },
    };
    return { status: 200, body: JSON.stringify(body) };
  };
}

/** The recorded session's bars (flattened independently) under `symbol`, `week` weeks later. */
function sampleBars(symbol: string, week: number): Bar[] {
  return aaplSampleBars(symbol).map((b) => ({ ...b, start: b.start + week * WEEK_MS, source: 'yahoo' }));
}

/** The [period1, period2) of each chart request for `symbol`, as ISO times. */
function chartWindows(yahoo: FakeYahoo, symbol: string): [string, string][] {
  return yahoo.requests
    .filter((r) => r.route === 'chart' && r.symbols.includes(symbol))
    .map((r) => {
      const u = new URL(r.url);
      return [
        iso(Number(u.searchParams.get('period1')) * 1000),
        iso(Number(u.searchParams.get('period2')) * 1000),
      ];
    });
}

/** Bars equal the expected ones: times exactly, prices to the cent's fraction, volumes exactly. */
function expectBars(bars: readonly Bar[], expected: readonly Bar[]): void {
  expect(bars.map((b) => iso(b.start))).toEqual(expected.map((b) => iso(b.start)));
  for (const [i, b] of bars.entries()) {
    const e = expected[i]!;
    expect(b).toMatchObject({ symbol: e.symbol, interval: '1m', session: 'regular', source: 'yahoo' });
    expect(b.open).toBeCloseTo(e.open, 3);
    expect(b.high).toBeCloseTo(e.high, 3);
    expect(b.low).toBeCloseTo(e.low, 3);
    expect(b.close).toBeCloseTo(e.close, 3);
    expect(b.volume).toBe(e.volume);
  }
}

// ---------------------------------------------------------------- the flow with its real adapters

const cloud = useLocalCloud();
let reader: StreamReader;

beforeAll(async () => {
  reader = new StreamReader(cloud().clients.kinesis, cloud().env.TICKS_STREAM_NAME!);
  await reader.readNew();
});

/** The stream's new bars since the last read, per symbol, in stream order. */
async function newBars(): Promise<Map<string, Bar[]>> {
  const out = new Map<string, Bar[]>();
  for (const r of await reader.readNew()) {
    if (r.event.kind !== 'bar') throw new Error(`not a bar on the stream: ${JSON.stringify(r.event)}`);
    expect(r.partitionKey).toBe(r.event.bar.symbol);
    out.set(r.partitionKey, [...(out.get(r.partitionKey) ?? []), r.event.bar]);
  }
  return out;
}

/**
 * Runs the flow as `npm run backfill` does (with `--update-cursor`): Yahoo served by `yahoo`, the
 * stream's PutRecords optionally failing the entries `refuse` picks, the cursors in `cursorTable`
 * (default the market table).
 */
async function runBackfill(
  o: BackfillOptions,
  yahoo: FakeYahoo,
  {
    refuse,
    clock,
    cursorTable,
    fetch,
  }: {
    refuse?: (bar: Bar) => boolean;
    clock?: () => number;
    cursorTable?: string;
    /** Yahoo's fetch instead of `yahoo.fetch` (one that wraps it). */
    fetch?: typeof globalThis.fetch;
  } = {},
): Promise<{ result: Awaited<ReturnType<typeof backfill>>; progress: string[] }> {
  const c = cloud();
  const clients = createAwsClients(c.clientConfig);
  if (refuse) {
    failSomeEntries(clients.kinesis, (_key, data) => {
      const d = decodeMarketEvent(new TextDecoder().decode(data), Number.POSITIVE_INFINITY);
      return d.ok && d.value.kind === 'bar' && refuse(d.value.bar);
    });
  }
  const progress: string[] = [];
  try {
    const result = await backfill(o, {
      barFeed: new YahooMarketData({
        client: () => createYahooClient({ fetch: fetch ?? yahoo.fetch, timeoutMs: 15_000 }),
        backoff: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      }),
      publisher: new KinesisPublisher({
        streamName: c.env.TICKS_STREAM_NAME!,
        kinesis: clients.kinesis,
        holdSymbolAfterFailure: true,
        maxAttempts: 3,
        baseDelayMs: 1,
        maxDelayMs: 5,
      }),
      cursors: new DynamoDbCursorStore({
        documents: clients.documents,
        tableName: cursorTable ?? c.env.MARKET_TABLE_NAME!,
      }),
      onWindow: (p) => progress.push(`${p.symbol} ${p.bars}`),
      ...(clock ? { clock } : {}),
    });
    return { result, progress };
  } finally {
    clients.destroy();
  }
}

async function cursorOf(symbol: string): Promise<number | undefined> {
  const out = await cloud().clients.documents.send(
    new GetCommand({
      TableName: cloud().env.MARKET_TABLE_NAME!,
      Key: cursorKey(symbol, 'bars-1m'),
      ConsistentRead: true,
    }),
  );
  return out.Item?.lastBarStart as number | undefined;
}

// Three 7-day windows: [10-01, 10-08), [10-08, 10-15), [10-15, 10-17); a session in each.
const RANGE = { from: Date.parse('2024-10-01T00:00:00Z'), to: Date.parse('2024-10-17T00:00:00Z') };
const WINDOWS: [string, string][] = [
  ['2024-10-01T00:00:00.000Z', '2024-10-08T00:00:00.000Z'],
  ['2024-10-08T00:00:00.000Z', '2024-10-15T00:00:00.000Z'],
  ['2024-10-15T00:00:00.000Z', '2024-10-17T00:00:00.000Z'],
];
const WEEKS = [0, 1, 2];
/** As in the recording: Yahoo answers after the last session, its trailing row at that close. */
const AFTER_LAST_CLOSE = Date.parse('2024-10-16T20:00:01Z');

/** The recorded history of WEEKS, except that the request for the window WINDOWS[i] gets `answer`. */
function historyFailing(i: number, answer: Served): (url: URL) => Served {
  const history = recordedHistory(WEEKS, AFTER_LAST_CLOSE);
  const period1 = String(Date.parse(WINDOWS[i]![0]) / 1000);
  return (url) => (url.searchParams.get('period1') === period1 ? answer : history(url));
}

describe('backfill (npm run backfill) against the local stream, Yahoo answered from recorded responses', () => {
  it('fetches a range of several 7-day windows in order and publishes every bar once, in order, per symbol', async () => {
    const yahoo = new FakeYahoo()
      .chart('AAPL', recordedHistory(WEEKS, AFTER_LAST_CLOSE))
      .chart('MSFT', recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    const o = { symbols: ['AAPL', 'MSFT'], ...RANGE };
    const { result, progress } = await runBackfill(o, yahoo);

    expect(result.windows.map(([a, b]) => [iso(a), iso(b)])).toEqual(WINDOWS);
    expect(chartWindows(yahoo, 'AAPL')).toEqual(WINDOWS);
    expect(chartWindows(yahoo, 'MSFT')).toEqual(WINDOWS);
    const perSymbol = sampleBars('AAPL', 0).length;
    expect(progress).toEqual([
      `AAPL ${perSymbol}`,
      `AAPL ${2 * perSymbol}`,
      `AAPL ${3 * perSymbol}`,
      `MSFT ${4 * perSymbol}`,
      `MSFT ${5 * perSymbol}`,
      `MSFT ${6 * perSymbol}`,
    ]);

    const onStream = await newBars();
    expect([...onStream.keys()].sort()).toEqual(['AAPL', 'MSFT']);
    for (const s of ['AAPL', 'MSFT'])
      expectBars(
        onStream.get(s)!,
        WEEKS.flatMap((w) => sampleBars(s, w)),
      );

    expect(result.report.failed).toEqual([]);
    // one record per symbol per call: at least as many calls as one symbol has bars
    expect(result.report.calls).toBeGreaterThanOrEqual(3 * perSymbol);
    expect(backfillSummary(o, result)).toEqual({
      lines: [
        `done: ${6 * perSymbol} bars for 2 symbol(s) from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z, ` +
          `${6 * perSymbol} delivered in ${result.report.calls} PutRecords calls, 0 not delivered, 0 failed requests`,
      ],
      exitCode: 0,
    });
    const last = sampleBars('AAPL', 2).at(-1)!.start;
    expect(result.cursors).toEqual({ AAPL: last, MSFT: last });
    expect(await cursorOf('AAPL')).toBe(last);
    expect(await cursorOf('MSFT')).toBe(last);
  });

  it('a symbol named twice is fetched and published once', async () => {
    const yahoo = new FakeYahoo().chart('INTC', recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    const { result } = await runBackfill({ symbols: ['INTC', 'INTC'], ...RANGE }, yahoo);
    expect(chartWindows(yahoo, 'INTC')).toEqual(WINDOWS);
    const onStream = await newBars();
    expectBars(
      onStream.get('INTC')!,
      WEEKS.flatMap((w) => sampleBars('INTC', w)),
    );
    expect(result.bars).toBe(3 * sampleBars('INTC', 0).length);
  });

  it('a bar the stream refuses holds its symbol’s later bars (none published out of order); the other symbol goes through', async () => {
    const yahoo = new FakeYahoo()
      .chart('AMZN', recordedHistory(WEEKS, AFTER_LAST_CLOSE))
      .chart('TSLA', recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    // TSLA's bar at 15:00 of the second session: every attempt refused (throughput exceeded).
    const refused = Date.parse('2024-10-09T15:00:00Z');
    const o = { symbols: ['TSLA', 'AMZN'], ...RANGE };
    const { result } = await runBackfill(o, yahoo, {
      refuse: (b) => b.symbol === 'TSLA' && b.start === refused,
    });

    // Yahoo was still asked for every window of both symbols.
    expect(chartWindows(yahoo, 'TSLA')).toEqual(WINDOWS);
    expect(chartWindows(yahoo, 'AMZN')).toEqual(WINDOWS);
    const onStream = await newBars();
    expectBars(
      onStream.get('AMZN')!,
      WEEKS.flatMap((w) => sampleBars('AMZN', w)),
    );
    const msft = WEEKS.flatMap((w) => sampleBars('TSLA', w));
    const before = msft.filter((b) => b.start < refused);
    const heldBack = msft.filter((b) => b.start >= refused);
    expectBars(onStream.get('TSLA')!, before);

    // The refused bar is reported after its attempts, each later TSLA bar (the third window's too) as not sent.
    const failed = result.report.failed;
    expect(failed.map((f) => (f.event.kind === 'bar' ? iso(f.event.bar.start) : ''))).toEqual(
      heldBack.map((b) => iso(b.start)),
    );
    expect(failed[0]).toMatchObject({
      attempts: 3,
      reason: 'not delivered after 3 attempts: ProvisionedThroughputExceededException: injected by the test',
    });
    for (const f of failed.slice(1)) {
      expect(f).toMatchObject({
        attempts: 0,
        reason: 'not sent: an earlier record of TSLA was not delivered',
      });
    }
    expect(result.report.delivered).toBe(before.length + 3 * sampleBars('AMZN', 0).length);

    const summary = backfillSummary(o, result);
    expect(summary.exitCode).toBe(1);
    expect(summary.lines).toEqual([
      `not delivered: ${failed[0]!.reason}`,
      ...Array.from(
        { length: 19 },
        () => 'not delivered: not sent: an earlier record of TSLA was not delivered',
      ),
      're-run: npm run backfill -- --symbols TSLA --from 2024-10-09T15:00:00.000Z --to 2024-10-17T00:00:00.000Z',
      `done: ${msft.length * 2} bars for 2 symbol(s) from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z, ` +
        `${result.report.delivered} delivered in ${result.report.calls} PutRecords calls, ${heldBack.length} not delivered, 0 failed requests`,
    ]);
    // The cursor stops before the refused bar, so the poller or a re-run sends it, then the rest, in order.
    expect(result.cursors.TSLA).toBe(refused - 60_000);
    expect(await cursorOf('TSLA')).toBe(refused - 60_000);
  });

  it('with a concurrency, several symbols are fetched at a time, each one’s windows and bars still in order', async () => {
    const symbols = ['ABNB', 'COST', 'PEP', 'AVGO', 'CSCO'];
    const yahoo = new FakeYahoo();
    for (const s of symbols) yahoo.chart(s, recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    // Each chart answer takes 40 ms: the chart requests in flight together are counted.
    let inFlight = 0;
    let most = 0;
    const slowCharts = (async (input: Parameters<typeof fetch>[0]) => {
      const chart = String(input instanceof Request ? input.url : input).includes('/v8/finance/chart/');
      if (!chart) return yahoo.fetch(input);
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((r) => setTimeout(r, 40));
        return await yahoo.fetch(input);
      } finally {
        inFlight--;
      }
    }) as typeof fetch;
    const o = { symbols, ...RANGE, concurrency: 5 };
    const { result, progress } = await runBackfill(o, yahoo, { fetch: slowCharts });

    // five symbols in flight, Yahoo asked four at a time (the yahoo-finance2 client's own queue)
    expect(most).toBe(4);
    for (const s of symbols) expect(chartWindows(yahoo, s)).toEqual(WINDOWS);
    expect(progress).toHaveLength(symbols.length * WINDOWS.length);
    const onStream = await newBars();
    for (const s of symbols)
      expectBars(
        onStream.get(s)!,
        WEEKS.flatMap((w) => sampleBars(s, w)),
      );
    expect(result.bars).toBe(symbols.length * 3 * sampleBars('ABNB', 0).length);
    expect(result.report.failed).toEqual([]);
    // several symbols' bars a PutRecords call (one symbol at a time: about one bar a call)
    expect(result.report.calls).toBeLessThan(result.bars / 2);
    const last = sampleBars('ABNB', 2).at(-1)!.start;
    expect(result.cursors).toEqual(Object.fromEntries(symbols.map((s) => [s, last])));
  });

  it('Yahoo’s trailing latest-price row, after a window’s end, is not published and does not hide the later windows', async () => {
    // Run during the session of 2024-10-16: every response also carries the row of 14:00 that day
    // (Yahoo appends its latest price whatever period2 asked for), a complete minute of a session.
    const duringSession = Date.parse('2024-10-16T14:00:01Z');
    const yahoo = new FakeYahoo().chart('META', recordedHistory(WEEKS, duringSession));
    const o = { symbols: ['META'], from: RANGE.from, to: Date.parse('2024-10-16T00:00:00Z') };
    const { result } = await runBackfill(o, yahoo);

    expect(chartWindows(yahoo, 'META')).toEqual([
      ['2024-10-01T00:00:00.000Z', '2024-10-08T00:00:00.000Z'],
      ['2024-10-08T00:00:00.000Z', '2024-10-15T00:00:00.000Z'],
      ['2024-10-15T00:00:00.000Z', '2024-10-16T00:00:00.000Z'],
    ]);
    const expected = [0, 1].flatMap((w) => sampleBars('META', w));
    expectBars((await newBars()).get('META')!, expected);
    expect(result.bars).toBe(expected.length);
    expect(await cursorOf('META')).toBe(expected.at(-1)!.start);
  });

  it('a window Yahoo fails to serve ends its symbol’s range there (later windows not sent ahead of it); the other symbol goes through', async () => {
    // NFLX's second window answers 503 every time; its first and third would be served.
    const yahoo = new FakeYahoo()
      .chart(
        'NFLX',
        historyFailing(1, { status: 503, body: '<html><body>Service Unavailable</body></html>' }),
      )
      .chart('ORCL', recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    const o = { symbols: ['NFLX', 'ORCL'], ...RANGE };
    const { result, progress } = await runBackfill(o, yahoo);

    // the failed window asked twice (the attempts), the third never
    expect(chartWindows(yahoo, 'NFLX')).toEqual([WINDOWS[0], WINDOWS[1], WINDOWS[1]]);
    expect(chartWindows(yahoo, 'ORCL')).toEqual(WINDOWS);
    expect(progress).toHaveLength(6);
    const onStream = await newBars();
    expectBars(onStream.get('NFLX')!, sampleBars('NFLX', 0));
    expectBars(
      onStream.get('ORCL')!,
      WEEKS.flatMap((w) => sampleBars('ORCL', w)),
    );

    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ symbol: 'NFLX', at: 'chart', kind: 'server', attempts: 2 });
    expect(result.notFetched).toEqual([{ symbol: 'NFLX', from: Date.parse(WINDOWS[1]![0]), to: RANGE.to }]);
    const summary = backfillSummary(o, result);
    expect(summary.exitCode).toBe(1);
    expect(summary.lines).toEqual([
      `failed: NFLX ${result.failures[0]!.reason}`,
      'not fetched: NFLX from 2024-10-08T00:00:00.000Z to 2024-10-17T00:00:00.000Z (that window failed)',
      're-run: npm run backfill -- --symbols NFLX --from 2024-10-08T00:00:00.000Z --to 2024-10-17T00:00:00.000Z',
      `done: ${4 * sampleBars('NFLX', 0).length} bars for 2 symbol(s) from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z, ` +
        `${4 * sampleBars('NFLX', 0).length} delivered in ${result.report.calls} PutRecords calls, 0 not delivered, 1 failed requests`,
    ]);
    // the poller (or a re-run) continues from the first session's last bar, not past the gap
    expect(await cursorOf('NFLX')).toBe(sampleBars('NFLX', 0).at(-1)!.start);
  });

  it('a "No data found" answer in the middle of a range ends the symbol’s range there too (the empty weekend chart is a 200, not this)', async () => {
    // Yahoo answers a window with no trading with an empty chart (test/fixtures/yahoo: the weekend
    // recording); "No data found, symbol may be delisted" (404) for a symbol that has bars on both
    // sides is Yahoo failing that request. Trusted as empty, the window's bars would be behind the
    // third window's on the stream, and a re-run could no longer send them.
    const yahoo = new FakeYahoo().chart(
      'ADBE',
      historyFailing(1, {
        status: 404,
        body: JSON.stringify({
          chart: {
            result: null,
            error: { code: 'Not Found', description: 'No data found, symbol may be delisted' },
          },
        }),
      }),
    );
    const o = { symbols: ['ADBE'], ...RANGE };
    const { result } = await runBackfill(o, yahoo);

    expect(chartWindows(yahoo, 'ADBE')).toEqual([WINDOWS[0], WINDOWS[1]]);
    expectBars((await newBars()).get('ADBE')!, sampleBars('ADBE', 0));
    expect(result.failures.map((f) => [f.symbol, f.kind])).toEqual([['ADBE', 'not-found']]);
    expect(result.notFetched).toEqual([{ symbol: 'ADBE', from: Date.parse(WINDOWS[1]![0]), to: RANGE.to }]);
    expect(backfillSummary(o, result).exitCode).toBe(1);
    expect(await cursorOf('ADBE')).toBe(sampleBars('ADBE', 0).at(-1)!.start);
  });

  it('the re-run line starts at a symbol’s first bar not delivered when that is before its failed window', async () => {
    // PYPL's bar at 15:00 of the first session is refused (its later bars held), then its second
    // window fails: re-running from the failed window would send the second week ahead of the
    // first week's held bars, which the processor would then skip as covered.
    const yahoo = new FakeYahoo()
      .chart('PYPL', historyFailing(1, { status: 503, body: 'Service Unavailable' }))
      .chart('UBER', recordedHistory(WEEKS, AFTER_LAST_CLOSE));
    const refused = Date.parse('2024-10-02T15:00:00Z');
    const o = { symbols: ['PYPL', 'UBER'], ...RANGE };
    const { result } = await runBackfill(o, yahoo, {
      refuse: (b) => b.symbol === 'PYPL' && b.start === refused,
    });

    expect(result.notFetched).toEqual([{ symbol: 'PYPL', from: Date.parse(WINDOWS[1]![0]), to: RANGE.to }]);
    const summary = backfillSummary(o, result);
    expect(summary.exitCode).toBe(1);
    expect(summary.lines).toContain(
      'not fetched: PYPL from 2024-10-08T00:00:00.000Z to 2024-10-17T00:00:00.000Z (that window failed)',
    );
    expect(summary.lines.filter((l) => l.startsWith('re-run'))).toEqual([
      're-run: npm run backfill -- --symbols PYPL --from 2024-10-02T15:00:00.000Z --to 2024-10-17T00:00:00.000Z',
    ]);
    expect(await cursorOf('PYPL')).toBe(refused - 60_000);
  });

  it('a failed window whose start was moved up to Yahoo’s 30 days is reported from where it was asked for', async () => {
    // When the run gets to it, the range's first three hours are older than Yahoo's 30 days.
    const now = RANGE.from + YAHOO_1M_HISTORY_MS + 3 * 3_600_000 - 60_000;
    const yahoo = new FakeYahoo().chart('SNAP', { status: 503, body: 'Service Unavailable' });
    const o = { symbols: ['SNAP'], ...RANGE, historyMs: YAHOO_1M_HISTORY_MS };
    const { result } = await runBackfill(o, yahoo, { clock: () => now });

    expect(chartWindows(yahoo, 'SNAP')[0]).toEqual(['2024-10-01T03:00:00.000Z', WINDOWS[0]![1]]);
    expect(backfillSummary(o, result).lines).toContain(
      're-run: npm run backfill -- --symbols SNAP --from 2024-10-01T03:00:00.000Z --to 2024-10-17T00:00:00.000Z',
    );
    // The run's way of writing is repeated: a re-run without --update-cursor would leave the
    // poller's cursor behind the bars it sends.
    expect(backfillSummary(o, result, ['--update-cursor', '--concurrency 8']).lines).toContain(
      're-run: npm run backfill -- --symbols SNAP --from 2024-10-01T03:00:00.000Z --to 2024-10-17T00:00:00.000Z --update-cursor --concurrency 8',
    );
  });

  it('a range starting at the edge of Yahoo’s 30 days: each window is asked for within them when it is asked for', async () => {
    // The range starts at the oldest minute Yahoo keeps when the run starts (as the script clamps
    // it), and each chart request takes an hour: by INTC's turn, that start has aged out. Yahoo
    // refuses a 1-minute request that starts more than 30 days back.
    let now = RANGE.from + YAHOO_1M_HISTORY_MS - 60_000;
    const history = recordedHistory(WEEKS, AFTER_LAST_CLOSE);
    const yahooAsOfNow = (url: URL): Served => {
      const p1 = Number(url.searchParams.get('period1'));
      const p2 = Number(url.searchParams.get('period2'));
      now += 3_600_000;
      if (p1 * 1000 < now - 3_600_000 - YAHOO_1M_HISTORY_MS) {
        const description = `1m data not available for startTime=${p1} and endTime=${p2}. The requested range must be within the last 30 days.`;
        return {
          status: 422,
          body: JSON.stringify({
            chart: { result: null, error: { code: 'Unprocessable Entity', description } },
          }),
        };
      }
      return history(url);
    };
    const yahoo = new FakeYahoo().chart('AMD', yahooAsOfNow).chart('INTC', yahooAsOfNow);
    const o = { symbols: ['AMD', 'INTC'], ...RANGE, historyMs: YAHOO_1M_HISTORY_MS };
    const { result } = await runBackfill(o, yahoo, { clock: () => now });

    expect(chartWindows(yahoo, 'AMD')).toEqual(WINDOWS);
    expect(chartWindows(yahoo, 'INTC')).toEqual([
      ['2024-10-01T03:00:00.000Z', WINDOWS[0]![1]],
      WINDOWS[1],
      WINDOWS[2],
    ]);
    expect(result.failures).toEqual([]);
    expect(result.issues).toEqual([
      {
        symbol: 'INTC',
        at: 'bars',
        reason:
          'bars from 2024-10-01T00:00:00.000Z to 2024-10-01T03:00:00.000Z are no longer kept by the source (older than its 1-minute history): skipped',
      },
    ]);
    const onStream = await newBars();
    for (const s of ['AMD', 'INTC'])
      expectBars(
        onStream.get(s)!,
        WEEKS.flatMap((w) => sampleBars(s, w)),
      );
    expect(backfillSummary(o, result).exitCode).toBe(0);
  });

  it('a cursor the market table does not take is reported in the summary, after what was delivered', async () => {
    const yahoo = new FakeYahoo().chart('QCOM', recordedHistory([0], AFTER_LAST_CLOSE));
    const o = { symbols: ['QCOM'], ...RANGE };
    const { result } = await runBackfill(o, yahoo, { cursorTable: 'no-such-table' });

    const bars = sampleBars('QCOM', 0);
    expectBars((await newBars()).get('QCOM')!, bars);
    expect(result.cursors).toEqual({});
    expect(result.failures).toEqual([
      expect.objectContaining({ symbol: 'QCOM', at: 'cursor', kind: 'cursor-store', attempts: 1 }),
    ]);
    expect(result.failures[0]!.reason).toMatch(
      /^cannot advance the bar cursor to 2024-10-02T19:59:00\.000Z: .*(not found|non-existent table)/i,
    );
    expect(backfillSummary(o, result)).toEqual({
      lines: [
        `failed: QCOM ${result.failures[0]!.reason}`,
        `done: ${bars.length} bars for 1 symbol(s) from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z, ` +
          `${bars.length} delivered in ${result.report.calls} PutRecords calls, 0 not delivered, 1 failed requests`,
      ],
      exitCode: 1,
    });
  });

  it('a symbol Yahoo keeps failing is reported; the other symbols are published', async () => {
    const yahoo = new FakeYahoo()
      // an HTML error page served as 200: not the JSON the library expects, every attempt
      .chart('BAD', { status: 200, body: '<html><body>Will be right back…</body></html>' })
      .chart('NVDA', recordedHistory(WEEKS, AFTER_LAST_CLOSE))
      // a symbol Yahoo does not know: 404 "No data found", nothing to wait for (its range ends there)
      .chart('NONE', {
        status: 404,
        body: JSON.stringify({
          chart: {
            result: null,
            error: { code: 'Not Found', description: 'No data found, symbol may be delisted' },
          },
        }),
      });
    const o = { symbols: ['BAD', 'NVDA', 'NONE'], ...RANGE };
    const { result } = await runBackfill(o, yahoo);

    expect(chartWindows(yahoo, 'BAD')).toEqual([WINDOWS[0], WINDOWS[0]]);
    expect(chartWindows(yahoo, 'NVDA')).toEqual(WINDOWS);
    expect(chartWindows(yahoo, 'NONE')).toEqual([WINDOWS[0]]);
    const onStream = await newBars();
    expect([...onStream.keys()]).toEqual(['NVDA']);
    expectBars(
      onStream.get('NVDA')!,
      WEEKS.flatMap((w) => sampleBars('NVDA', w)),
    );
    expect(result.failures.map((f) => [f.symbol, f.kind, f.attempts])).toEqual([
      ['BAD', 'other', 2],
      ['NONE', 'not-found', 1],
    ]);
    const summary = backfillSummary(o, result);
    expect(summary.exitCode).toBe(1);
    expect(summary.lines).toEqual([
      ...result.failures.map((f) => `failed: ${f.symbol} ${f.reason}`),
      'not fetched: BAD from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z (that window failed)',
      'not fetched: NONE from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z (that window failed)',
      're-run: npm run backfill -- --symbols BAD,NONE --from 2024-10-01T00:00:00.000Z --to 2024-10-17T00:00:00.000Z',
      `done: ${result.bars} bars for 3 symbol(s) from 2024-10-01T00:00:00.000Z to 2024-10-17T00:00:00.000Z, ` +
        `${result.bars} delivered in ${result.report.calls} PutRecords calls, 0 not delivered, 2 failed requests`,
    ]);
    expect(await cursorOf('BAD')).toBeUndefined();
    expect(await cursorOf('NONE')).toBeUndefined();
  });
});
