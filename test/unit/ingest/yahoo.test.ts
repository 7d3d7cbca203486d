import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chartToBars, fromFloat32, rawChartToChartLike, yahooTime } from '../../../src/adapters/yahoo/map.ts';
import { createYahooClient, YahooMarketData } from '../../../src/adapters/yahoo/yahoo-market-data.ts';
import { sessionOf } from '../../../src/pipeline/ingest/market-hours.ts';
import { RecordedYahoo, recordedJson } from './support/recorded-yahoo.ts';

const noWait = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2, sleep: async () => {} };
// The recorded quotes are from 2025-02-17 and older; the clock is set just after them.
const QUOTE_CLOCK = Date.parse('2025-02-17T12:00:00Z');

function yahoo(y: RecordedYahoo, now = QUOTE_CLOCK, retries: Array<{ attempt: number; error: string }> = []) {
  return new YahooMarketData({
    client: () => createYahooClient({ fetch: y.fetch, timeoutMs: 2_000 }),
    backoff: noWait,
    now: () => now,
    onRetry: (r) => retries.push({ attempt: r.attempt, error: r.error }),
  });
}

describe('Yahoo quotes from recorded responses', () => {
  it('maps an equity quote, taking the post-market trade when it is the latest', async () => {
    const y = new RecordedYahoo().quote('AAPL', 'quote-AAPL.json');
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.failures).toEqual([]);
    expect(r.issues).toEqual([]);
    expect(r.ticks).toEqual([
      {
        symbol: 'AAPL',
        // postMarketTime 1739581198 is after regularMarketTime 1739566800: the latest trade wins
        time: 1739581198_000,
        price: 244.64,
        dayOpen: 241.07,
        dayHigh: 245.41,
        dayLow: 241,
        previousClose: 241.53,
        dayVolume: 40896227,
        currency: 'USD',
        marketState: 'CLOSED',
        source: 'yahoo',
      },
    ]);
  });

  it('maps an ETF (QQQ) and crypto (BTC-USD, no post market)', async () => {
    const y = new RecordedYahoo().quote('QQQ', 'quote-QQQ.json').quote('BTC-USD', 'quote-BTC-USD.json');
    const yd = yahoo(y);
    const qqq = await yd.quotes(['QQQ']);
    expect(qqq.ticks[0]).toMatchObject({
      symbol: 'QQQ',
      price: 538.13,
      time: 1739581191_000,
      dayVolume: 17862572,
    });
    const btc = await yd.quotes(['BTC-USD']);
    expect(btc.ticks[0]).toMatchObject({
      symbol: 'BTC-USD',
      price: 96077.45,
      time: 1739789580_000,
      marketState: 'REGULAR',
    });
    // Its regularMarketVolume (21,228,961,792) is the rolling 24-hour volume the same response
    // gives as volume24Hr, no day counter: the tick carries no day volume.
    expect(btc.ticks[0]).not.toHaveProperty('dayVolume');
  });

  it('keeps FX with zero volume and an index whose day range Yahoo reports as 0', async () => {
    const y = new RecordedYahoo()
      .quote('EURUSD=X', 'quote-EURUSD=X.json')
      .quote('^VXAPL', 'quote-^VXAPL.json');
    const yd = yahoo(y);
    const fx = await yd.quotes(['EURUSD=X']);
    expect(fx.issues).toEqual([]);
    expect(fx.ticks[0]).toMatchObject({
      symbol: 'EURUSD=X',
      price: 1.0489877,
      dayVolume: 0,
      time: 1739789683_000,
    });
    const idx = await yd.quotes(['^VXAPL']);
    expect(idx.issues).toEqual([]);
    expect(idx.ticks[0]).toMatchObject({
      symbol: '^VXAPL',
      price: 23.77,
      previousClose: 24.28,
      dayVolume: 0,
    });
    expect(idx.ticks[0]).not.toHaveProperty('dayHigh');
    expect(idx.ticks[0]).not.toHaveProperty('dayOpen');
  });

  it('asks for several symbols in one request and maps each', async () => {
    const y = new RecordedYahoo().quote('AAPL,BABA', 'quote-AAPL-BABA.json');
    const r = await yahoo(y).quotes(['AAPL', 'BABA']);
    expect(y.count('quote')).toBe(1);
    expect(r.ticks.map((t) => [t.symbol, t.price, t.time])).toEqual([
      ['AAPL', 244.64, 1739581198_000],
      ['BABA', expect.any(Number), expect.any(Number)],
    ]);
    const baba = recordedBabaPost();
    expect(r.ticks[1]?.price).toBe(baba.price);
    expect(r.ticks[1]?.time).toBe(baba.time);
  });

  it('maps the older quoteCombine response, with the pre-market trade as the latest', async () => {
    const y = new RecordedYahoo().quote('AAPL,TSLA', 'quoteCombine-AAPL-TSLA.json');
    const r = await yahoo(y, Date.parse('2022-02-24T12:00:00Z')).quotes(['AAPL', 'TSLA']);
    expect(r.ticks.map((t) => [t.symbol, t.price, t.time, t.marketState])).toEqual([
      ['AAPL', 155.82, 1645697777_000, 'PRE'],
      ['TSLA', 721, 1645697778_000, 'PRE'],
    ]);
  });

  it("a pre-market tick carries no day fields of the session before, and that session's close as its previous close", async () => {
    // Recorded at 05:16 New York on 2022-02-24 (marketState PRE): the regular* fields are still
    // 2022-02-23's session (its open, range, volume; regularMarketPrice is its 16:00 close), and
    // regularMarketPreviousClose is the close BEFORE it (2022-02-22's).
    const body = JSON.parse(readRecorded('quoteCombine-AAPL-TSLA.json')) as {
      quoteResponse: { result: Record<string, number | string>[] };
    };
    const y = new RecordedYahoo().quoteBody('AAPL,TSLA', body);
    const r = await yahoo(y, Date.parse('2022-02-24T12:00:00Z')).quotes(['AAPL', 'TSLA']);
    expect(r.issues).toEqual([]);
    for (const [i, q] of body.quoteResponse.result.entries()) {
      expect(q.marketState).toBe('PRE');
      const t = r.ticks[i]!;
      expect(t).toMatchObject({
        symbol: q.symbol,
        price: q.preMarketPrice,
        time: Number(q.preMarketTime) * 1000,
      });
      // The tick's trading day (02-24) follows the session that closed at regularMarketPrice.
      expect(t.previousClose).toBe(q.regularMarketPrice);
      for (const k of ['dayOpen', 'dayHigh', 'dayLow', 'dayVolume'] as const) expect(t).not.toHaveProperty(k);
    }
  });

  it("a pre-market tick is not replaced by the previous evening's older post-market trade", async () => {
    // The recorded pre-market response, with the post-market fields Yahoo also gives before the
    // open: the 2022-02-23 evening's last trade (19:59:58 New York), older than the pre-market one.
    const body = JSON.parse(readRecorded('quoteCombine-AAPL-TSLA.json')) as {
      quoteResponse: { result: Record<string, number | string>[] };
    };
    const aapl = body.quoteResponse.result[0]!;
    aapl.postMarketTime = Date.parse('2022-02-24T00:59:58Z') / 1000;
    aapl.postMarketPrice = 159.5;
    const y = new RecordedYahoo().quoteBody('AAPL,TSLA', body);
    const r = await yahoo(y, Date.parse('2022-02-24T12:00:00Z')).quotes(['AAPL', 'TSLA']);
    expect(r.ticks[0]).toMatchObject({ symbol: 'AAPL', price: 155.82, time: 1645697777_000 });
    expect(r.ticks[0]).not.toHaveProperty('dayOpen');
  });

  it('returns ticks of the symbols asked for only, whatever else the response holds', async () => {
    const y = new RecordedYahoo().quote('AAPL', 'quote-AAPL-BABA.json');
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
  });

  it('accepts reduced-field responses with only what they carry', async () => {
    const y = new RecordedYahoo()
      .quote('MSFT', 'quote-MSFT-fields-beta.json')
      .quote('TSLA', 'quote-TSLA-fields-symbol-shortName.json');
    const yd = yahoo(y);
    const msft = await yd.quotes(['MSFT']);
    expect(msft.ticks).toEqual([
      { symbol: 'MSFT', time: 1739566800_000, price: 408.43, marketState: 'CLOSED', source: 'yahoo' },
    ]);
    const tsla = await yd.quotes(['TSLA']);
    expect(tsla.ticks).toEqual([
      { symbol: 'TSLA', time: 1739566801_000, price: 355.84, marketState: 'CLOSED', source: 'yahoo' },
    ]);
  });

  it('reports a quote with no price, naming the symbol and field, and keeps the others', async () => {
    const body = JSON.parse(readRecorded('quote-AAPL-BABA.json')) as {
      quoteResponse: { result: Record<string, unknown>[] };
    };
    delete body.quoteResponse.result[1]?.regularMarketPrice;
    delete body.quoteResponse.result[1]?.postMarketPrice;
    const y = new RecordedYahoo().quoteBody('AAPL,BABA', body);
    const r = await yahoo(y).quotes(['AAPL', 'BABA']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]?.symbol).toBe('BABA');
    expect(r.issues[0]?.reason).toMatch(/price/);
  });

  it("keeps a price quoted in pence (Yahoo's GBp) in pence, labelled GBX, never as pounds (GBP)", async () => {
    // The recorded AAPL quote as a London listing: Yahoo quotes LSE shares in pence, currency
    // 'GBp' (and Johannesburg's in cents, 'ZAc'); the chart's bars are in the same minor unit.
    const body = JSON.parse(readRecorded('quote-AAPL.json')) as {
      quoteResponse: { result: Record<string, unknown>[] };
    };
    const aapl = body.quoteResponse.result[0]!;
    const vod = { ...aapl, symbol: 'VOD.L', currency: 'GBp', exchange: 'LSE' };
    const npn = { ...aapl, symbol: 'NPN.JO', currency: 'ZAc', exchange: 'JNB' };
    const gbp = { ...aapl, symbol: 'SHEL.L', currency: 'GBP', exchange: 'LSE' };
    body.quoteResponse.result = [vod, npn, gbp];
    const y = new RecordedYahoo().quoteBody('VOD.L,NPN.JO,SHEL.L', body);
    const r = await yahoo(y).quotes(['VOD.L', 'NPN.JO', 'SHEL.L']);
    expect(r.issues).toEqual([]);
    expect(r.ticks.map((t) => [t.symbol, t.price, t.currency])).toEqual([
      ['VOD.L', aapl.postMarketPrice, 'GBX'],
      ['NPN.JO', aapl.postMarketPrice, 'ZAC'],
      ['SHEL.L', aapl.postMarketPrice, 'GBP'],
    ]);
  });

  it('reports a symbol Yahoo left out of the response', async () => {
    const y = new RecordedYahoo().quote('AAPL,NOPE', 'quote-AAPL.json');
    const r = await yahoo(y).quotes(['AAPL', 'NOPE']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    expect(r.issues).toEqual([
      { symbol: 'NOPE', at: 'quote', reason: 'Yahoo returned no quote for this symbol' },
    ]);
  });
});

function readRecorded(file: string): string {
  const j = JSON.parse(readFileSync(new URL(`../../fixtures/yahoo/${file}`, import.meta.url), 'utf8'));
  return JSON.stringify(j.response.bodyJson ?? JSON.parse(j.response.body));
}

function recordedBabaPost(): { price: number; time: number } {
  const body = JSON.parse(readRecorded('quote-AAPL-BABA.json'));
  const q = body.quoteResponse.result.find((x: { symbol: string }) => x.symbol === 'BABA');
  return q.postMarketTime > q.regularMarketTime
    ? { price: q.postMarketPrice, time: q.postMarketTime * 1000 }
    : { price: q.regularMarketPrice, time: q.regularMarketTime * 1000 };
}

describe('Yahoo failures: retried with backoff, isolated per symbol', () => {
  it('retries HTTP 429 and then succeeds', async () => {
    const retries: Array<{ attempt: number; error: string }> = [];
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .fail('quote', { status: 429, body: 'Too Many Requests' }, 2);
    const r = await yahoo(y, QUOTE_CLOCK, retries).quotes(['AAPL']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    expect(r.failures).toEqual([]);
    expect(y.count('quote')).toBe(3);
    expect(retries.map((x) => x.attempt)).toEqual([1, 2]);
  });

  it('retries a crumb failure with a fresh cookie and crumb', async () => {
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .fail('crumb', { status: 403, body: '' }, 1);
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    // first handshake failed at the crumb; the retry did the whole handshake again
    expect(y.count('cookie')).toBe(2);
    expect(y.count('crumb')).toBe(2);
  });

  it('starts a new session after Yahoo refuses the crumb of a quote request', async () => {
    const y = new RecordedYahoo().quote('AAPL', 'quote-AAPL.json').fail(
      'quote',
      {
        status: 401,
        body: '{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}',
      },
      1,
    );
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    expect(y.count('quote')).toBe(2);
    expect(y.count('crumb')).toBe(2);
  });

  it('retries a timeout', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .fail('quote', { throws: timeout as unknown as Error }, 1);
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.ticks).toHaveLength(1);
    expect(y.count('quote')).toBe(2);
  });

  it('retries a response that fails validation, then reports it with the symbol', async () => {
    const bad = {
      quoteResponse: {
        result: [{ symbol: 'AAPL', quoteType: 'EQUITY', regularMarketTime: 'not a time' }],
        error: null,
      },
    };
    const y = new RecordedYahoo().quoteBody('AAPL', bad);
    const r = await yahoo(y).quotes(['AAPL']);
    expect(r.ticks).toEqual([]);
    expect(y.count('quote')).toBe(noWait.maxAttempts);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ symbol: 'AAPL', kind: 'validation', attempts: noWait.maxAttempts });
  });

  it('isolates a permanently failing symbol: the others still get their quotes', async () => {
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .quote('QQQ', 'quote-QQQ.json')
      .fail('quote', { status: 500, body: 'boom' }, 1_000, 'BAD');
    const r = await yahoo(y).quotes(['AAPL', 'BAD', 'QQQ']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL', 'QQQ']);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ symbol: 'BAD', kind: 'server', attempts: noWait.maxAttempts });
    expect(r.failures[0]?.reason).toMatch(/quote failed after 4 attempt/);
  });

  it('a batch rate-limited (429) on every try is reported once, not asked again symbol by symbol', async () => {
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .quote('QQQ', 'quote-QQQ.json')
      .fail('quote', { status: 429, body: 'Too Many Requests' }, 1_000);
    const r = await yahoo(y).quotes(['AAPL', 'BTC-USD', 'QQQ']);
    // Each symbol alone would be refused the same way: 3 x 4 more requests to a Yahoo asking for fewer.
    expect(y.count('quote')).toBe(noWait.maxAttempts);
    expect(r.ticks).toEqual([]);
    expect(r.failures).toEqual([
      expect.objectContaining({
        symbol: 'AAPL,BTC-USD,QQQ',
        at: 'quote',
        kind: 'rate-limit',
        attempts: noWait.maxAttempts,
      }),
    ]);
  });

  it('classes a 503 with a JSON error body as a server failure, retried, with its status', async () => {
    const unavailable = (key: string) => ({
      status: 503,
      body: JSON.stringify({
        [key]: { result: null, error: { code: 'Service Unavailable', description: 'Try again later' } },
      }),
    });
    const y = new RecordedYahoo()
      .quote('AAPL', 'quote-AAPL.json')
      .fail('quote', unavailable('quoteResponse'), 1_000, 'BAD');
    const r = await yahoo(y).quotes(['AAPL', 'BAD']);
    expect(r.ticks.map((t) => t.symbol)).toEqual(['AAPL']);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ symbol: 'BAD', kind: 'server', attempts: noWait.maxAttempts });
    expect(r.failures[0]?.reason).toMatch(/\(server\): HTTPError: 503: Try again later$/);

    const c = new RecordedYahoo().fail('chart', unavailable('chart'), 1_000);
    const b = await yahoo(c).bars('AAPL', { after: Date.parse('2024-10-02T13:00:00Z') });
    expect(b.failure).toMatchObject({ symbol: 'AAPL', kind: 'server', attempts: noWait.maxAttempts });

    // 500 itself is a server error too.
    const e = new RecordedYahoo().fail('chart', { ...unavailable('chart'), status: 500 }, 1_000);
    const b500 = await yahoo(e).bars('AAPL', { after: Date.parse('2024-10-02T13:00:00Z') });
    expect(b500.failure).toMatchObject({ symbol: 'AAPL', kind: 'server', attempts: noWait.maxAttempts });
    expect(b500.failure?.reason).toMatch(/\(server\): HTTPError: 500: Try again later$/);
  });

  it('does not retry a symbol Yahoo does not know (404) and never throws', async () => {
    const y = new RecordedYahoo();
    const r = await yahoo(y).bars('ZZZZ', { after: Date.parse('2024-10-02T13:00:00Z') });
    expect(r.bars).toEqual([]);
    expect(r.failure).toMatchObject({ symbol: 'ZZZZ', kind: 'not-found', attempts: 1 });
  });
});

describe('Yahoo 1-minute chart', () => {
  const CSV = readFileSync(new URL('../../../data/samples/aapl-2024-10-02.csv', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

  it('drops the null bar and the trailing bar: the 389 bars of the flattened sample', async () => {
    const y = new RecordedYahoo().chart(
      'AAPL',
      'chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json',
    );
    const r = await yahoo(y, Date.parse('2024-10-04T00:00:00Z')).bars('AAPL', {
      from: Date.parse('2024-10-02T00:00:00Z'),
      to: Date.parse('2024-10-03T00:00:00Z'),
    });
    expect(r.failure).toBeUndefined();
    expect(r.nullBars).toBe(1);
    expect(r.incompleteBars).toBe(1);
    expect(r.bars).toHaveLength(CSV.length);
    expect(r.bars.map((b) => new Date(b.start).toISOString().replace('.000Z', 'Z'))).toEqual(
      CSV.map((c) => c[2]),
    );
    expect(r.bars.some((b) => b.start === Date.parse('2024-10-02T15:15:00Z'))).toBe(false);
    for (const [i, b] of r.bars.entries()) {
      const c = CSV[i]!;
      // Yahoo's 32-bit prices (225.6999969482422) come out as the decimals the CSV holds (225.7).
      expect([b.open, b.high, b.low, b.close, b.volume]).toEqual(c.slice(3, 8).map(Number));
      expect(b.session).toBe('regular');
      expect(b.interval).toBe('1m');
    }
  });

  it('sends only bars after the cursor and none still in progress', async () => {
    const y = new RecordedYahoo().chart(
      'AAPL',
      'chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json',
    );
    // clock at 14:00:30Z: the 14:00 bar is in progress, the 13:59 bar is the last complete one
    const r = await yahoo(y, Date.parse('2024-10-02T14:00:30Z')).bars('AAPL', {
      after: Date.parse('2024-10-02T13:49:00Z'),
    });
    expect(r.bars.map((b) => new Date(b.start).toISOString())).toEqual(
      Array.from({ length: 10 }, (_, i) =>
        new Date(Date.parse('2024-10-02T13:50:00Z') + i * 60_000).toISOString(),
      ),
    );
  });

  it('asks for regular-session bars unless told to include pre/post market, and not at all when no minute can have completed', async () => {
    const y = new RecordedYahoo().chart(
      'AAPL',
      'chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json',
    );
    const yd = yahoo(y, Date.parse('2024-10-02T14:00:30Z'));
    await yd.bars('AAPL', { after: Date.parse('2024-10-02T13:49:00Z') });
    await yd.bars('AAPL', { after: Date.parse('2024-10-02T13:49:00Z'), includePrePost: true });
    const urls = y.requests.filter((r) => r.route === 'chart').map((r) => new URL(r.url).searchParams);
    expect(urls.map((q) => q.get('includePrePost'))).toEqual(['false', 'true']);
    // The cursor is the 13:59 bar: the 14:00 bar is still in progress at 14:00:30, nothing to ask for.
    const r = await yd.bars('AAPL', { after: Date.parse('2024-10-02T13:59:00Z') });
    expect(r).toMatchObject({ bars: [], issues: [] });
    expect(y.count('chart')).toBe(2);
  });

  it('returns no bars and no failure for the empty weekend chart', async () => {
    const y = new RecordedYahoo().chart(
      'AAPL',
      'chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.json',
    );
    const r = await yahoo(y, Date.parse('2025-02-03T00:00:00Z')).bars('AAPL', {
      from: Date.parse('2025-02-01T00:00:00Z'),
      to: Date.parse('2025-02-02T00:00:00Z'),
    });
    expect(r.failure).toBeUndefined();
    expect(r.bars).toEqual([]);
    expect(r.issues).toEqual([]);
  });

  it("keeps a 24/7 market's 23:59 bar: Yahoo's crypto and FX trading periods end at 23:59:00, not midnight", () => {
    // The shape of Yahoo's multi-day BTC-USD chart: one period per UTC day, [00:00, 23:59:00]
    // (as its currentTradingPeriod in the recorded shared/data/yahoo/chart/chart-BTC-USD-*.json:
    // regular end - start = 86,340 s). The market trades through 23:59; so do the minutes here.
    const day1 = Date.parse('2024-03-31T00:00:00Z') / 1000;
    const day2 = day1 + 86_400;
    const period = (start: number) => [{ timezone: 'UTC', start, end: start + 86_340, gmtoffset: 0 }];
    const timestamp = [day2 - 180, day2 - 120, day2 - 60, day2, day2 + 60];
    const body = {
      chart: {
        result: [
          {
            meta: {
              currency: 'USD',
              symbol: 'BTC-USD',
              instrumentType: 'CRYPTOCURRENCY',
              timezone: 'UTC',
              exchangeTimezoneName: 'UTC',
              dataGranularity: '1m',
              tradingPeriods: [period(day1), period(day2)],
            },
            timestamp,
            indicators: {
              quote: [
                {
                  open: [69001, 69002, 69003, 69004, 69005],
                  high: [69011, 69012, 69013, 69014, 69015],
                  low: [68991, 68992, 68993, 68994, 68995],
                  close: [69006, 69007, 69008, 69009, 69010],
                  volume: [1, 2, 3, 4, 5],
                },
              ],
            },
          },
        ],
        error: null,
      },
    };
    const r = chartToBars(rawChartToChartLike(body), {
      now: (day2 + 180) * 1000,
      symbol: 'BTC-USD',
      sessionFor: sessionOf,
    });
    expect(r.bars.map((b) => new Date(b.start).toISOString())).toEqual([
      '2024-03-31T23:57:00.000Z',
      '2024-03-31T23:58:00.000Z',
      '2024-03-31T23:59:00.000Z',
      '2024-04-01T00:00:00.000Z',
      '2024-04-01T00:01:00.000Z',
    ]);
    expect(r.bars.every((b) => b.session === 'none')).toBe(true);
    expect(r.incompleteBars).toBe(0);
  });

  it('labels sessions by New York time when Yahoo gives no trading periods', () => {
    expect(sessionOf('AAPL', Date.parse('2024-10-02T13:29:00Z'))).toBe('pre');
    expect(sessionOf('AAPL', Date.parse('2024-10-02T13:30:00Z'))).toBe('regular');
    expect(sessionOf('AAPL', Date.parse('2024-10-02T20:00:00Z'))).toBe('post');
    expect(sessionOf('BTC-USD', Date.parse('2024-10-02T13:30:00Z'))).toBe('none');
  });
});

describe('fromFloat32: the decimal a 32-bit float stands for', () => {
  it('gives the shortest decimal that is the same 32-bit float, and leaves anything else alone', () => {
    expect(fromFloat32(225.6999969482422)).toBe(225.7);
    expect(fromFloat32(223.9217071533203)).toBe(223.9217);
    expect(fromFloat32(Math.fround(0.1))).toBe(0.1);
    // 1234.5678 and 1234.5677 are the same 32-bit float (1234.5677490234375): the nearer decimal.
    expect(fromFloat32(Math.fround(1234.5678))).toBe(1234.5677);
    expect(fromFloat32(1205461)).toBe(1205461);
    // A 64-bit price (the quote API's) is no 32-bit float: unchanged.
    expect(fromFloat32(225.67)).toBe(225.67);
    expect(fromFloat32(0.1)).toBe(0.1);
    for (const x of [0, -0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40 + 1])
      expect(Object.is(fromFloat32(x), x)).toBe(true);
  });

  it('is the same 32-bit float, in as few significant digits as any decimal that is (property)', () => {
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(1e-6), max: Math.fround(1e7) }),
        (f) => {
          const d = fromFloat32(f);
          expect(Math.fround(d)).toBe(f);
          const digits = (x: number) => x.toExponential().split('e')[0]!.replace(/[-.]/g, '').length;
          for (let p = 1; p < digits(d); p++) expect(Math.fround(Number(f.toPrecision(p)))).not.toBe(f);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('Yahoo 1-minute chart rows out of order or repeated', () => {
  const chart = rawChartToChartLike(
    recordedJson('chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json'),
  );
  const NOW = Date.parse('2024-10-02T14:00:30Z');
  const AFTER = Date.parse('2024-10-02T13:49:00Z');
  const opts = { now: NOW, after: AFTER, symbol: 'AAPL', sessionFor: sessionOf };
  const inOrder = chartToBars(chart, opts);

  it('gives the same bars, in time order, whatever order Yahoo lists the rows in (property)', () => {
    expect(inOrder.bars).toHaveLength(10);
    fc.assert(
      fc.property(
        fc.shuffledSubarray([...chart.quotes.keys()], { minLength: chart.quotes.length }),
        (order) => {
          const r = chartToBars({ ...chart, quotes: order.map((i) => chart.quotes[i]!) }, opts);
          // A row after a later one was dropped without a word, and the cursor then moved past it.
          expect(r.bars).toEqual(inOrder.bars);
          expect(r.issues).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports a repeated minute instead of dropping it silently, and keeps the first', () => {
    const at = chart.quotes.findIndex((q) => yahooTime(q.date) === Date.parse('2024-10-02T13:55:00Z'));
    const row = chart.quotes[at]!;
    const quotes = [...chart.quotes];
    quotes.splice(at + 1, 0, { ...row, close: 999 });
    const r = chartToBars({ ...chart, quotes }, opts);
    expect(r.bars).toEqual(inOrder.bars);
    expect(r.issues).toEqual([
      expect.objectContaining({
        symbol: 'AAPL',
        at: 'bar 2024-10-02T13:55:00.000Z',
        reason: expect.stringMatching(/twice/),
      }),
    ]);
  });
});
