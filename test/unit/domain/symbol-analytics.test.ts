import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AnalyticsConfig,
  DEFAULT_ANALYTICS_CONFIG,
  flattenMetricsRow,
  flattenQuoteMetrics,
  type MetricsRow,
  parseAnalyticsConfig,
  type QuoteMetrics,
  SymbolAnalytics,
  type SymbolAnalyticsSnapshot,
  severityOf,
} from '../../../src/domain/analytics/index.ts';
import { UsEquityCalendar } from '../../../src/domain/calendar/calendar.ts';
import type { Bar, Tick } from '../../../src/domain/market/index.ts';
import { aaplCsvBars, barsToTicks, type RawBar, spy2011Bars, yahooChartAapl } from './helpers/fixtures.ts';

const at = (iso: string) => Date.parse(iso);
const toBar = (symbol: string, r: RawBar): Bar => ({
  symbol,
  interval: '1m',
  session: 'regular', // reclassified by the aggregate's calendar
  source: 'replay',
  ...r,
});
const bar = (symbol: string, iso: string, close: number, extra: Partial<RawBar> = {}): Bar =>
  toBar(symbol, {
    start: at(iso),
    open: extra.open ?? close,
    high: Math.max(extra.high ?? close, extra.open ?? close, close),
    low: Math.min(extra.low ?? close, extra.open ?? close, close),
    close,
    volume: extra.volume ?? 1000,
  });
const config = (patch: Record<string, unknown>): AnalyticsConfig => parseAnalyticsConfig(patch);
const rowsOf = (a: SymbolAnalytics, bars: readonly Bar[]): MetricsRow[] =>
  bars.map((b) => {
    const r = a.applyBar(b);
    if (!r.row) throw new Error(r.rejected?.reason ?? r.covered);
    return r.row;
  });
const relClose = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('change metrics on AAPL 2024-10-02', () => {
  const bars = aaplCsvBars().map((b) => toBar('AAPL', b));

  it('without a known previous close: null change, bar-to-bar change from the previous bar', () => {
    const rows = rowsOf(new SymbolAnalytics('AAPL'), bars.slice(0, 3));
    expect(rows[0]?.change).toEqual({
      previousClose: null,
      change: null,
      changePct: null,
      previousBarClose: null,
      barChange: null,
      barChangePct: null,
    });
    // CSV rows 1 and 2: close 225.7 then 225.94
    expect(rows[1]?.change.previousBarClose).toBe(225.7);
    expect(rows[1]?.change.barChange).toBeCloseTo(0.24, 10);
    expect(rows[1]?.change.barChangePct).toBeCloseTo((0.24 / 225.7) * 100, 10);
  });

  it('uses the previous close a quote reports (Yahoo chartPreviousClose 226.21 = the 2024-10-01 close)', () => {
    const a = new SymbolAnalytics('AAPL');
    const prev = yahooChartAapl().previousClose;
    expect(prev).toBe(226.21);
    const quote: Tick = {
      symbol: 'AAPL',
      time: at('2024-10-02T13:00:00Z'),
      price: 226,
      previousClose: prev,
      source: 'yahoo',
    };
    const q = a.applyTick(quote);
    expect(q.quote?.change.previousClose).toBe(226.21);
    expect(q.quote?.session).toBe('pre');
    const [first] = rowsOf(a, bars.slice(0, 1));
    expect(first?.change.previousClose).toBe(226.21);
    expect(first?.change.change).toBeCloseTo(225.7 - 226.21, 10);
    expect(first?.change.changePct).toBeCloseTo(((225.7 - 226.21) / 226.21) * 100, 10);
  });

  it('rolls the day: the next day’s previous close is the last regular bar’s close, unless a quote says otherwise', () => {
    const trailing = bar('AAPL', '2024-10-03T20:00:00Z', 225.67); // Yahoo's trailing bar, 16:00 ET = post
    const a = new SymbolAnalytics('AAPL');
    const rows = rowsOf(a, [...bars, trailing]);
    const last = rows[rows.length - 1] as MetricsRow;
    expect(last.session).toBe('post');
    expect(last.tradingDay).toBe('2024-10-03');
    // last CSV row (15:59 ET) closes at 226.81; Yahoo's official close (closing auction) is 226.78
    expect(last.change.previousClose).toBe(226.81);
    const b = new SymbolAnalytics('AAPL');
    rowsOf(b, bars);
    const q = b.applyTick({
      symbol: 'AAPL',
      time: at('2024-10-03T12:00:00Z'),
      price: 225,
      previousClose: 226.78,
      source: 'yahoo',
    });
    expect(q.quote?.change.previousClose).toBe(226.78);
    const [r] = rowsOf(b, [trailing]);
    // Yahoo meta: regularMarketPrice 225.67, previousClose 226.78 → -1.11, -0.4895 %
    expect(r?.change.change).toBeCloseTo(-1.11, 10);
    expect(r?.change.changePct).toBeCloseTo(-0.48946, 4);
  });
});

describe('previous close', () => {
  it('is the last REGULAR close of the previous trading day: post-market bars do not move it', () => {
    const a = new SymbolAnalytics('AAPL');
    const rows = rowsOf(a, [
      bar('AAPL', '2024-10-02T19:59:00Z', 100), // 15:59 ET regular
      bar('AAPL', '2024-10-02T21:30:00Z', 110), // 17:30 ET post
      bar('AAPL', '2024-10-03T08:00:00Z', 104), // 04:00 ET pre, next day
    ]);
    expect(rows[1]?.change.previousClose).toBeNull();
    expect(rows[2]?.change.previousClose).toBe(100);
    expect(rows[2]?.change.previousBarClose).toBe(110);
    expect(rows[2]?.change.changePct).toBeCloseTo(4, 10);
  });

  it('carries over weekends and holidays, but is unknown after a trading day the symbol missed', () => {
    const a = new SymbolAnalytics('AAPL');
    const rows = rowsOf(a, [
      bar('AAPL', '2024-08-30T19:59:00Z', 100), // Friday 15:59 ET
      // Monday 2024-09-02 is Labor Day (closed)
      bar('AAPL', '2024-09-03T13:30:00Z', 101), // Tuesday: previous close is Friday's
      bar('AAPL', '2024-09-03T19:59:00Z', 102),
      // no bar at all on Wednesday 2024-09-04 (the feed was down)
      bar('AAPL', '2024-09-05T13:30:00Z', 108), // Thursday: Wednesday's close is unknown
      bar('AAPL', '2024-09-05T19:59:00Z', 109),
      bar('AAPL', '2024-09-06T08:00:00Z', 110), // Friday pre-market only (the poller stopped at 04:01)
      bar('AAPL', '2024-09-09T13:30:00Z', 111), // Monday: Friday's regular close is unknown
    ]);
    expect(rows.map((r) => r.change.previousClose)).toEqual([null, 100, 100, null, null, 109, null]);
    expect(rows[3]?.change.changePct).toBeNull();
    // an 8 % move over two days is not reported as one day's move
    expect(rows.flatMap((r) => r.anomalies.map((x) => x.kind))).not.toContain('price-move');
    // a quote of the day after a missed day knows no previous close either (unless it reports one)
    const q = (iso: string) => {
      const b = new SymbolAnalytics('AAPL');
      rowsOf(b, [bar('AAPL', '2024-09-03T19:59:00Z', 102)]);
      return b.applyTick({ symbol: 'AAPL', time: at(iso), price: 103, source: 'yahoo' }).quote?.change
        .previousClose;
    };
    expect(q('2024-09-04T13:30:05Z')).toBe(102);
    expect(q('2024-09-05T13:30:05Z')).toBeNull();
  });

  it('for crypto is the last close of the previous UTC day', () => {
    const a = new SymbolAnalytics('BTC-USD');
    const rows = rowsOf(a, [
      bar('BTC-USD', '2025-02-01T23:59:00Z', 100_000),
      bar('BTC-USD', '2025-02-02T00:00:00Z', 101_000),
    ]);
    expect(rows.map((r) => r.session)).toEqual(['none', 'none']);
    expect(rows[1]?.change.previousClose).toBe(100_000);
    expect(rows[1]?.tradingDay).toBe('2025-02-02');
  });
});

describe('indicators in the row', () => {
  it('session VWAP: Σ typical price × volume / Σ volume over the day’s regular bars, null before the open', () => {
    const a = new SymbolAnalytics('AAPL');
    const pre = rowsOf(a, [bar('AAPL', '2024-10-02T13:00:00Z', 225, { volume: 5000 })]);
    expect(pre[0]?.indicators.vwap).toBeNull();
    const raw = aaplCsvBars().slice(0, 3);
    const rows = rowsOf(
      a,
      raw.map((b) => toBar('AAPL', b)),
    );
    let pv = 0;
    let v = 0;
    raw.forEach((b, i) => {
      pv += ((b.high + b.low + b.close) / 3) * b.volume;
      v += b.volume;
      expect(relClose(rows[i]?.indicators.vwap as number, pv / v)).toBe(true);
    });
    // next trading day: restarts
    const [next] = rowsOf(a, [bar('AAPL', '2024-10-03T13:30:00Z', 220, { high: 221, low: 219, volume: 10 })]);
    expect(next?.indicators.vwap).toBeCloseTo(220, 10);
  });

  it('session VWAP: post-market rows carry the day’s regular-session VWAP; pre-market rows and a day without regular bars have none', () => {
    const a = new SymbolAnalytics('AAPL');
    const rows = rowsOf(a, [
      bar('AAPL', '2024-10-02T19:58:00Z', 100, { high: 101, low: 99, volume: 300 }), // 15:58 ET
      bar('AAPL', '2024-10-02T19:59:00Z', 103, { high: 104, low: 102, volume: 100 }), // 15:59 ET
      bar('AAPL', '2024-10-02T20:30:00Z', 90, { high: 91, low: 89, volume: 1_000_000 }), // 16:30 ET post
      bar('AAPL', '2024-10-03T12:00:00Z', 95, { volume: 50 }), // 08:00 ET pre, next day
      // 2024-10-04: no regular bar reached the engine; a post-market bar only
      bar('AAPL', '2024-10-04T21:00:00Z', 96, { volume: 50 }),
    ]);
    // typical prices 100 and 103: (100 · 300 + 103 · 100) / 400; the post-market bar is not in it
    const regular = (100 * 300 + 103 * 100) / 400;
    expect(rows.map((r) => r.session)).toEqual(['regular', 'regular', 'post', 'pre', 'post']);
    expect(rows[1]?.indicators.vwap).toBeCloseTo(regular, 10);
    expect(rows[2]?.indicators.vwap).toBeCloseTo(regular, 10);
    expect(rows[3]?.indicators.vwap).toBeNull();
    expect(rows[4]?.indicators.vwap).toBeNull();
  });

  it('flattens multi-valued indicators into named columns and reports null while warming up', () => {
    const rows = rowsOf(
      new SymbolAnalytics('SPY'),
      spy2011Bars()
        .slice(0, 40)
        .map((b) => toBar('SPY', b)),
    );
    const keys = Object.keys(rows[0]?.indicators ?? {});
    expect(keys).toEqual([
      'sma20',
      'sma200',
      'ema20',
      'rsi14',
      'macd',
      'macdSignal',
      'macdHistogram',
      'bb20Upper',
      'bb20Middle',
      'bb20Lower',
      'atr14',
      'vwap',
      'roc10',
    ]);
    expect(rows[18]?.indicators.sma20).toBeNull();
    const closes = spy2011Bars()
      .slice(0, 20)
      .map((b) => b.close);
    expect(relClose(rows[19]?.indicators.sma20 as number, closes.reduce((s, c) => s + c, 0) / 20)).toBe(true);
    expect(rows[39]?.indicators.sma200).toBeNull();
  });

  it("indicatorSessions 'regular' keeps pre/post bars out of the indicators", () => {
    const a = new SymbolAnalytics(
      'AAPL',
      config({ indicatorSessions: 'regular', indicators: [{ name: 'sma2', type: 'SMA', period: 2 }] }),
    );
    const rows = rowsOf(a, [
      bar('AAPL', '2024-10-02T13:30:00Z', 10),
      bar('AAPL', '2024-10-02T13:31:00Z', 20),
      bar('AAPL', '2024-10-02T20:00:00Z', 1000), // post
      bar('AAPL', '2024-10-03T13:30:00Z', 30),
    ]);
    expect(rows.map((r) => r.indicators.sma2)).toEqual([null, 15, 15, 25]);
  });
});

describe('anomaly detectors', () => {
  const prevDay = (symbol: string, close: number) => bar(symbol, '2024-10-01T19:59:00Z', close);

  it('price move: fires once per episode, again on escalation or direction flip, re-arms below threshold × 0.8', () => {
    const a = new SymbolAnalytics(
      'AAPL',
      config({ detectors: { disabled: ['volume-spike', 'return-zscore', 'opening-gap'] } }),
    );
    rowsOf(a, [prevDay('AAPL', 100)]);
    const closes = [103, 105.5, 106, 107.6, 104.5, 105.2, 99, 94, 89.9];
    const rows = rowsOf(
      a,
      closes.map((c, i) => bar('AAPL', `2024-10-02T13:${30 + i}:00Z`, c)),
    );
    const fired = rows.map((r) => r.anomalies.map((x) => `${x.severity}:${x.value.toFixed(1)}`).join(','));
    expect(fired).toEqual([
      '', // +3 %
      'info:5.5', // crosses +5 %
      '', // +6 %: same episode
      'warning:7.6', // 7.6 / 5 = 1.52 ≥ 1.5: escalates
      '', // +4.5 %: below 5 but above 4 (rearm 0.8): episode continues
      '', // +5.2 %: same episode, lower severity
      '', // -1 %: episode ends
      'info:-6.0', // new episode, down
      'critical:-10.1', // escalates: 10.1 / 5 ≥ 2
    ]);
    const x = rows[1]?.anomalies[0];
    expect(x).toMatchObject({
      kind: 'price-move',
      symbol: 'AAPL',
      at: at('2024-10-02T13:31:00Z'),
      threshold: 5,
    });
    expect(x?.message).toMatch(/AAPL up \+5\.50 % vs previous close 100/);
  });

  it('price move: an episode ends with the trading day, so the next day’s move against its own previous close fires', () => {
    const a = new SymbolAnalytics(
      'AAPL',
      config({ detectors: { disabled: ['volume-spike', 'return-zscore', 'opening-gap'] } }),
    );
    const rows = rowsOf(a, [
      prevDay('AAPL', 100),
      bar('AAPL', '2024-10-02T13:30:00Z', 106), // +6 % vs 100
      bar('AAPL', '2024-10-02T19:59:00Z', 106), // same episode; the day closes at 106
      bar('AAPL', '2024-10-03T13:30:00Z', 111.5), // +5.19 % vs 106: a new day's move
    ]);
    const fired = rows.map((r) => r.anomalies.map((x) => `${x.severity}:${x.value.toFixed(2)}`).join(','));
    expect(fired).toEqual(['', 'info:6.00', '', `info:${(((111.5 - 106) / 106) * 100).toFixed(2)}`]);
  });

  it('price move is judged in the pre-market too (against the previous regular close); volume and return z-score are not', () => {
    const a = new SymbolAnalytics('AAPL');
    const rows = rowsOf(a, [
      prevDay('AAPL', 100),
      bar('AAPL', '2024-10-02T12:00:00Z', 106, { volume: 1_000_000 }), // 08:00 ET, after earnings, say
    ]);
    expect(rows[1]?.session).toBe('pre');
    expect(rows[1]?.anomalies.map((x) => [x.kind, x.severity])).toEqual([['price-move', 'info']]);
    expect(rows[1]?.anomalies[0]?.value).toBeCloseTo(6, 10);
  });

  it('price move thresholds are per symbol', () => {
    const cfg = config({ overrides: { TSLA: { priceMovePct: 8 } } });
    for (const [symbol, expected] of [
      ['AAPL', 1],
      ['TSLA', 0],
    ] as const) {
      const a = new SymbolAnalytics(symbol, cfg);
      rowsOf(a, [prevDay(symbol, 100)]);
      const [r] = rowsOf(a, [bar(symbol, '2024-10-02T13:30:00Z', 106, { open: 100 })]);
      expect(
        r?.anomalies.filter((x) => x.kind === 'price-move'),
        symbol,
      ).toHaveLength(expected);
    }
  });

  it('opening gap: first regular bar vs previous close, once a day, not in the pre-market', () => {
    const a = new SymbolAnalytics(
      'AAPL',
      config({ detectors: { disabled: ['price-move', 'volume-spike', 'return-zscore'] } }),
    );
    rowsOf(a, [prevDay('AAPL', 100)]);
    const rows = rowsOf(a, [
      bar('AAPL', '2024-10-02T12:00:00Z', 104, { open: 104 }), // pre-market
      bar('AAPL', '2024-10-02T13:30:00Z', 102, { open: 102.5 }),
      bar('AAPL', '2024-10-02T13:31:00Z', 110, { open: 110 }),
    ]);
    expect(rows[0]?.anomalies).toEqual([]);
    expect(rows[1]?.anomalies).toHaveLength(1);
    expect(rows[1]?.anomalies[0]).toMatchObject({ kind: 'opening-gap', severity: 'info', threshold: 2 });
    expect(rows[1]?.anomalies[0]?.value).toBeCloseTo(2.5, 10);
    expect(rows[2]?.anomalies).toEqual([]);
  });

  it('volume spike against the mean of the previous window', () => {
    const a = new SymbolAnalytics(
      'AAPL',
      config({ detectors: { volumeWindow: 5, disabled: ['price-move', 'return-zscore', 'opening-gap'] } }),
    );
    const volumes = [100, 100, 100, 100, 100, 499, 600, 100, 100, 100, 100, 3000];
    const rows = rowsOf(
      a,
      volumes.map((v, i) => bar('AAPL', `2024-10-02T14:${10 + i}:00Z`, 100, { volume: v })),
    );
    // bar 5: 499 / 100 = 4.99 < 5; bar 6: 600 / mean(100,100,100,100,499) = 600 / 179.8 = 3.34
    // bar 11: 3000 / mean(600,100,100,100,100)= 3000 / 200 = 15 → critical (≥ 2 × 5)
    const fired = rows.map((r) => r.anomalies.map((x) => `${x.severity}:${x.value.toFixed(2)}`).join(','));
    expect(fired).toEqual(['', '', '', '', '', '', '', '', '', '', '', 'critical:15.00']);
    const b = new SymbolAnalytics(
      'AAPL',
      config({ detectors: { volumeWindow: 2, disabled: ['price-move', 'return-zscore', 'opening-gap'] } }),
    );
    const r2 = rowsOf(
      b,
      [100, 100, 600, 3000, 100, 100, 1000].map((v, i) =>
        bar('AAPL', `2024-10-02T14:${10 + i}:00Z`, 100, { volume: v }),
      ),
    );
    // 600 / 100 = 6 → info; 3000 / 350 = 8.57 → warning (escalation); 100 / 1800 ends it; 1000 / 100 = 10 → critical
    expect(r2.map((r) => r.anomalies.map((x) => x.severity).join(','))).toEqual([
      '',
      '',
      'info',
      'warning',
      '',
      '',
      'critical',
    ]);
  });

  it('volume spike: regular bars against regular volume, extended hours only when asked', () => {
    const only = { volumeWindow: 3, disabled: ['price-move', 'return-zscore', 'opening-gap'] };
    const bars = [
      bar('AAPL', '2024-10-01T13:30:00Z', 100, { volume: 50_000 }), // previous day's regular bars
      bar('AAPL', '2024-10-01T13:31:00Z', 100, { volume: 50_000 }),
      bar('AAPL', '2024-10-01T13:32:00Z', 100, { volume: 50_000 }),
      bar('AAPL', '2024-10-02T12:00:00Z', 100, { volume: 100 }), // thin pre-market
      bar('AAPL', '2024-10-02T12:01:00Z', 100, { volume: 100 }),
      bar('AAPL', '2024-10-02T12:02:00Z', 100, { volume: 100 }),
      bar('AAPL', '2024-10-02T12:03:00Z', 100, { volume: 5_000 }), // 50× the pre-market mean
      bar('AAPL', '2024-10-02T13:30:00Z', 100, { volume: 120_000 }), // the open: 2.4× regular, not a spike
    ];
    const fired = (extendedHoursAlerts: boolean) =>
      rowsOf(new SymbolAnalytics('AAPL', config({ detectors: { ...only, extendedHoursAlerts } })), bars).map(
        (r) => r.anomalies.map((x) => `${r.session}:${x.value}`).join(','),
      );
    expect(fired(false)).toEqual(['', '', '', '', '', '', '', '']);
    expect(fired(true)).toEqual(['', '', '', '', '', '', 'pre:50', '']);
  });

  it('return z-score against the previous window (sample deviation), not on a day’s first bar', () => {
    const window = 5;
    const a = new SymbolAnalytics(
      'AAPL',
      config({
        detectors: {
          returnWindow: window,
          returnZ: 3,
          disabled: ['price-move', 'volume-spike', 'opening-gap'],
        },
      }),
    );
    const closes = [100, 100.1, 100.0, 100.2, 100.1, 100.15, 102];
    const rows = rowsOf(
      a,
      closes.map((c, i) => bar('AAPL', `2024-10-02T14:${10 + i}:00Z`, c)),
    );
    // by hand: returns r_i = c_i / c_{i-1} - 1; z of the last against the 5 before it, sample sd
    const r = closes.slice(1).map((c, i) => c / (closes[i] as number) - 1);
    const ref = r.slice(0, window);
    const mean = ref.reduce((s, x) => s + x, 0) / window;
    const sd = Math.sqrt(ref.reduce((s, x) => s + (x - mean) ** 2, 0) / (window - 1));
    const z = ((r[window] as number) - mean) / sd;
    expect(z).toBeGreaterThan(6);
    const last = rows[rows.length - 1]?.anomalies ?? [];
    expect(last).toHaveLength(1);
    expect(last[0]?.kind).toBe('return-zscore');
    expect(last[0]?.severity).toBe('critical');
    expect(relClose(last[0]?.value as number, z)).toBe(true);
    expect(rows.slice(0, -1).every((x) => x.anomalies.length === 0)).toBe(true);
    // calm again, then the next day's first bar jumps 5 % (overnight): not scored as a 1-minute return
    const calm = [102.1, 102.0, 102.1, 102.0, 102.1, 102.0];
    const calmRows = rowsOf(
      a,
      calm.map((c, i) => bar('AAPL', `2024-10-02T15:${10 + i}:00Z`, c)),
    );
    expect(calmRows.every((x) => x.anomalies.length === 0)).toBe(true);
    const [open] = rowsOf(a, [bar('AAPL', '2024-10-03T13:30:00Z', 107.1)]);
    expect(open?.anomalies.filter((x) => x.kind === 'return-zscore')).toEqual([]);
    // …although, as a 1-minute return, it would be far beyond the threshold:
    const all = [...closes, ...calm, 107.1];
    const rs = all.slice(1).map((c, i) => c / (all[i] as number) - 1);
    const w = rs.slice(-window - 1, -1);
    const m = w.reduce((s2, x) => s2 + x, 0) / window;
    const sd2 = Math.sqrt(w.reduce((s2, x) => s2 + (x - m) ** 2, 0) / (window - 1));
    expect(((rs.at(-1) as number) - m) / sd2).toBeGreaterThan(3);
  });

  it('severity levels', () => {
    const levels = DEFAULT_ANALYTICS_CONFIG.severity;
    expect([5, 7.49, 7.5, 9.99, 10, -12].map((v) => severityOf(v, 5, levels))).toEqual([
      'info',
      'info',
      'warning',
      'warning',
      'critical',
      'critical',
    ]);
  });
});

describe("quotes and a bar feed together (the poller's both mode)", () => {
  // As the poller publishes them: its first poll's look-back delivers the first bar; then a quote
  // at :05 and :35 of every minute, and each poll's completed bars after its quote — so the quotes
  // close a minute's bar before the feed's bar of that minute arrives.
  const bars = aaplCsvBars()
    .slice(0, 60)
    .map((r) => toBar('AAPL', r));
  const quote = (time: number, price: number): Tick => ({ symbol: 'AAPL', time, price, source: 'yahoo' });
  type Event = { tick: Tick } | { bar: Bar };
  /** Quotes of minutes 1 … upTo − 1, and the feed's bars of minutes 0 … feedUpTo − 1. */
  const mixed = (upTo: number, feedUpTo = upTo): Event[] => [
    ...(feedUpTo > 0 ? [{ bar: bars[0]! }] : []),
    ...bars
      .slice(1, upTo)
      .flatMap((b, k): Event[] => [
        { tick: quote(b.start + 5_000, b.open) },
        { tick: quote(b.start + 35_000, b.close) },
        ...(k >= 1 && k < feedUpTo ? [{ bar: bars[k]! }] : []),
      ]),
  ];
  const apply = (a: SymbolAnalytics, events: readonly Event[]) => {
    const rows: MetricsRow[] = [];
    const covered: string[] = [];
    for (const e of events) {
      if ('tick' in e) {
        const r = a.applyTick(e.tick);
        expect(r.rejected).toBeUndefined();
        rows.push(...r.rows);
      } else {
        const r = a.applyBar(e.bar);
        expect(r.rejected).toBeUndefined();
        if (r.row) rows.push(r.row);
        else covered.push(r.covered ?? String(r.rejected?.reason));
      }
    }
    return { rows, covered };
  };

  it('takes every bar from the feed: the rows are those of the bars alone, nothing rejected or covered', () => {
    const { rows, covered } = apply(new SymbolAnalytics('AAPL'), mixed(60));
    expect(covered).toEqual([]);
    expect(rows).toEqual(rowsOf(new SymbolAnalytics('AAPL'), bars.slice(0, 59)));
  });

  it('builds the bars from the quotes when the feed goes quiet, and takes them from the feed again when it is back', () => {
    expect(DEFAULT_ANALYTICS_CONFIG.feedBarWaitMs).toBe(10 * 60_000);
    const a = new SymbolAnalytics('AAPL');
    // The feed delivers minutes 0-19, then nothing; the quotes go on to minute 30.
    const before = apply(a, mixed(31, 20)).rows;
    expect(before).toEqual(rowsOf(new SymbolAnalytics('AAPL'), bars.slice(0, 20)));
    expect(a.snapshot().heldBars?.map((b) => b.start)).toEqual(bars.slice(20, 30).map((b) => b.start));
    // The quote at 31:05 closes minute 30 and is ten minutes past minute 20's end: the quotes'
    // bars of minutes 20-30 are applied, in order, and from then on as they close.
    const released = a.applyTick(quote(bars[31]!.start + 5_000, bars[31]!.open)).rows;
    expect(released.map((r) => r.start)).toEqual(bars.slice(20, 31).map((b) => b.start));
    // A quotes' bar spans its two quotes: open at :05, close at :35.
    expect(released[5]).toMatchObject({ open: bars[25]!.open, close: bars[25]!.close, volume: 0 });
    expect(a.snapshot().heldBars).toBeUndefined();
    const next = a.applyTick(quote(bars[32]!.start + 5_000, bars[32]!.open));
    expect(next.rows.map((r) => r.start)).toEqual([bars[31]!.start]);
    // The feed catches up: the minutes the quotes built are covered; the first newer bar is applied,
    // and from then on the quotes' bars are held for the feed's again.
    for (const b of bars.slice(20, 32)) expect(a.applyBar(b).covered).toMatch(/already built from quotes/);
    expect(a.applyBar(bars[32]!).row?.start).toBe(bars[32]!.start);
    expect(a.applyTick(quote(bars[33]!.start + 5_000, bars[33]!.open)).rows).toEqual([]);
    expect(a.applyTick(quote(bars[34]!.start + 5_000, bars[34]!.open)).rows).toEqual([]);
    expect(a.snapshot().heldBars?.map((b) => b.start)).toEqual([bars[33]!.start]);
  });

  it('never holds the bars of a symbol fed only quotes', () => {
    const a = new SymbolAnalytics('AAPL');
    const { rows } = apply(a, mixed(10, 0));
    expect(rows.map((r) => r.start)).toEqual(bars.slice(1, 9).map((b) => b.start));
    expect(a.snapshot()).toMatchObject({ quoteBars: true });
    expect(a.snapshot().heldBars).toBeUndefined();
  });

  it('snapshot → restore → continue equals an uninterrupted run, held bars included', () => {
    const events = mixed(45, 20);
    const whole = apply(new SymbolAnalytics('AAPL'), events);
    let held = 0;
    for (let cut = 1; cut < events.length; cut += 7) {
      const first = new SymbolAnalytics('AAPL');
      const a = apply(first, events.slice(0, cut));
      const doc = JSON.parse(JSON.stringify(first.snapshot())) as SymbolAnalyticsSnapshot;
      held += doc.heldBars?.length ?? 0;
      const b = apply(SymbolAnalytics.restore(doc), events.slice(cut));
      expect([...a.rows, ...b.rows], `cut ${cut}`).toEqual(whole.rows);
    }
    expect(held).toBeGreaterThan(0);
  });

  /**
   * Quotes a few seconds out of order at random seconds of each minute of `series`; each feed bar
   * some time after its minute, or never (a quiet feed: the quotes' bars are then applied after the
   * wait). Then every quote again, as a replay or a resent record folds in those still inside open
   * bars, on the engine as it is and on one restored from its snapshot: each gets the row it had.
   */
  const quotesFoldedInAgainKeepTheirRows = (series: readonly Bar[], maxMinutes = 30) => {
    const symbol = series[0]!.symbol;
    const minute = fc.record({
      quotes: fc.array(fc.record({ at: fc.integer({ min: 0, max: 59_999 }), jitter: fc.nat(8_000) }), {
        maxLength: 3,
      }),
      feed: fc.option(fc.integer({ min: 0, max: 150_000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(0, 5_000, 30_000, 90_000),
        fc.constantFrom(0, 120_000, 600_000),
        fc.array(minute, { minLength: 1, maxLength: maxMinutes }),
        (graceMs, feedBarWaitMs, minutes) => {
          const cfg = config({ graceMs, feedBarWaitMs });
          const arrivals: { at: number; order: number; event: Event }[] = [];
          minutes.forEach((m, i) => {
            const b = series[i]!;
            for (const q of m.quotes) {
              const time = b.start + q.at;
              arrivals.push({
                at: time + q.jitter,
                order: arrivals.length,
                event: { tick: { symbol, time, price: b.close, source: 'yahoo' } },
              });
            }
            if (m.feed !== undefined)
              arrivals.push({ at: b.start + 60_000 + m.feed, order: arrivals.length, event: { bar: b } });
          });
          arrivals.sort((x, y) => x.at - y.at || x.order - y.order);
          const a = new SymbolAnalytics(symbol, cfg);
          const first = new Map<number, QuoteMetrics>();
          for (const { event } of arrivals) {
            if ('bar' in event) a.applyBar(event.bar);
            else {
              const r = a.applyTick(event.tick);
              if (!r.rejected && !first.has(event.tick.time)) first.set(event.tick.time, r.quote!);
            }
          }
          const doc = JSON.parse(JSON.stringify(a.snapshot())) as SymbolAnalyticsSnapshot;
          for (const engine of [a, SymbolAnalytics.restore(doc, cfg)]) {
            for (const { event } of arrivals) {
              if (!('tick' in event)) continue;
              const r = engine.applyTick(event.tick);
              if (r.rejected) continue;
              expect(r.rows).toEqual([]);
              expect(r.quote, `quote at ${new Date(event.tick.time).toISOString()}`).toEqual(
                first.get(event.tick.time),
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  };

  it('a quote folded in again gets the row it had, whatever came between (feed bars late or missing, quiet feeds, any grace)', () => {
    quotesFoldedInAgainKeepTheirRows(bars);
  });

  it('a crypto quote folded in again across midnight UTC gets the row it had, previous close included', () => {
    // The AAPL minutes as BTC-USD's, from 23:57 UTC: its day before closes with its last bar.
    const from = at('2024-10-02T23:57:00Z') - bars[0]!.start;
    const btc = bars.map((b) => ({ ...b, symbol: 'BTC-USD', start: b.start + from }));
    quotesFoldedInAgainKeepTheirRows(btc, 6);
  });

  it('holds the quotes bars of a state stored before this release (no quoteBars field) for the feed', () => {
    const a = new SymbolAnalytics('AAPL');
    apply(a, mixed(5, 0));
    const { quoteBars: _, ...older } = a.snapshot();
    // Unchanged, it would apply the quotes' bar of minute 4 as the next quote closes it.
    expect(a.applyTick(quote(bars[5]!.start + 5_000, bars[5]!.open)).rows.map((r) => r.start)).toEqual([
      bars[4]!.start,
    ]);
    const restored = SymbolAnalytics.restore(older as SymbolAnalyticsSnapshot);
    expect(restored.applyTick(quote(bars[5]!.start + 5_000, bars[5]!.open)).rows).toEqual([]);
    expect(restored.applyBar(bars[4]!).row).toMatchObject({ start: bars[4]!.start, volume: bars[4]!.volume });
  });
});

describe('rejections', () => {
  it('reports a replayed bar as covered, and rejects a bar of another symbol and a bar in a closed market', () => {
    const a = new SymbolAnalytics('AAPL');
    const b = bar('AAPL', '2024-10-02T13:30:00Z', 100);
    expect(a.applyBar(b).row).toBeDefined();
    const before = JSON.stringify(a.snapshot());
    const again = a.applyBar(b);
    expect(again.rejected).toBeUndefined();
    expect(again.covered).toMatch(/2024-10-02T13:30:00.000Z is not after the last applied bar/);
    expect(JSON.stringify(a.snapshot())).toBe(before);
    expect(a.applyBar({ ...b, symbol: 'MSFT', start: b.start + 60_000 }).rejected?.code).toBe(
      'symbol-mismatch',
    );
    expect(a.applyBar(bar('AAPL', '2024-10-05T13:30:00Z', 100)).rejected).toMatchObject({
      code: 'outside-session',
      reason: expect.stringContaining('2024-10-05'),
    });
  });
});

describe('one JSON state document', () => {
  const spy = spy2011Bars().map((b) => toBar('SPY', b));

  it('snapshot → JSON → restore → continue equals an uninterrupted run (bars, across days and sessions)', () => {
    const whole = rowsOf(new SymbolAnalytics('SPY'), spy);
    expect(whole.some((r) => r.anomalies.length > 0)).toBe(true);
    for (const cut of [1, 389, 700, 5000, 9999]) {
      const first = new SymbolAnalytics('SPY');
      const a = rowsOf(first, spy.slice(0, cut));
      const doc = JSON.parse(JSON.stringify(first.snapshot())) as SymbolAnalyticsSnapshot;
      const b = rowsOf(SymbolAnalytics.restore(doc), spy.slice(cut));
      expect([...a, ...b], `cut ${cut}`).toEqual(whole);
    }
  });

  it('snapshot → restore → continue equals an uninterrupted run (ticks with open bars)', () => {
    const cal = new UsEquityCalendar();
    const ticks = barsToTicks(
      'SPY',
      spy2011Bars().slice(600, 1800),
      (t) => cal.tradingDayAt(t).date,
    ) as Tick[];
    const run = (a: SymbolAnalytics, ts: readonly Tick[]) => ts.flatMap((t) => [...a.applyTick(t).rows]);
    const wholeA = new SymbolAnalytics('SPY');
    const whole = [...run(wholeA, ticks), ...wholeA.flush()];
    for (const cut of [3, 1001, 2502]) {
      const first = new SymbolAnalytics('SPY');
      const a = run(first, ticks.slice(0, cut));
      const restored = SymbolAnalytics.restore(JSON.parse(JSON.stringify(first.snapshot())));
      const b = [...run(restored, ticks.slice(cut)), ...restored.flush()];
      expect([...a, ...b], `cut ${cut}`).toEqual(whole);
    }
  });

  it('fits a DynamoDB item with a wide margin: < 40 KB (10 % of 400 KB) for the default set with 200-period windows', () => {
    const a = new SymbolAnalytics('SPY');
    rowsOf(a, spy.slice(0, 1000)); // every window full
    const bytes = Buffer.byteLength(JSON.stringify(a.snapshot()), 'utf8');
    expect(DEFAULT_ANALYTICS_CONFIG.detectors.returnWindow).toBe(200);
    expect(DEFAULT_ANALYTICS_CONFIG.detectors.volumeWindow).toBe(200);
    expect(bytes).toBeLessThan(40 * 1024);
    expect(bytes).toBeGreaterThan(3 * 200 * 4); // three full 200-windows are really in it
  });

  it('restoring under a changed config keeps matching indicators and starts new ones', () => {
    const first = new SymbolAnalytics('SPY');
    rowsOf(first, spy.slice(0, 300));
    const cfg = config({
      indicators: [
        ...DEFAULT_ANALYTICS_CONFIG.indicators.filter((s) => s.name !== 'roc10'),
        { name: 'wma50', type: 'WMA', period: 50 },
      ],
    });
    const restored = SymbolAnalytics.restore(JSON.parse(JSON.stringify(first.snapshot())), cfg);
    const cont = new SymbolAnalytics('SPY');
    const ref = rowsOf(cont, spy.slice(0, 301)).at(-1);
    const [row] = rowsOf(restored, spy.slice(300, 301));
    expect(row?.indicators.sma200).toBe(ref?.indicators.sma200);
    expect(row?.indicators.wma50).toBeNull();
    expect('roc10' in (row?.indicators ?? {})).toBe(false);
  });

  it('restores the detectors’ episode state: a gap or a persisting move does not fire twice', () => {
    const run = (restoreAfter: number | undefined) => {
      let a = new SymbolAnalytics('AAPL');
      const bars = [
        bar('AAPL', '2024-10-01T19:59:00Z', 100),
        bar('AAPL', '2024-10-02T13:30:00Z', 106, { open: 103 }), // gap +3 %, move +6 %
        bar('AAPL', '2024-10-02T13:31:00Z', 106.5, { open: 103.5 }),
        bar('AAPL', '2024-10-02T13:32:00Z', 107, { open: 106.5 }),
      ];
      return bars.map((b, i) => {
        if (i === restoreAfter) a = SymbolAnalytics.restore(JSON.parse(JSON.stringify(a.snapshot())));
        return (a.applyBar(b).row as MetricsRow).anomalies.map((x) => x.kind);
      });
    };
    const expected = [[], ['opening-gap', 'price-move'], [], []];
    expect(run(undefined)).toEqual(expected);
    expect(run(2)).toEqual(expected);
    expect(run(3)).toEqual(expected);
  });

  it('refuses a document of another version', () => {
    const doc = new SymbolAnalytics('SPY').snapshot();
    expect(() => SymbolAnalytics.restore({ ...doc, v: 2 } as never)).toThrow(
      /v: must be 1 \(the supported version\)/,
    );
  });

  it('names the broken field of a corrupted document', () => {
    const doc = JSON.parse(JSON.stringify(new SymbolAnalytics('SPY').snapshot()));
    expect(() => SymbolAnalytics.restore({ ...doc, previousClose: 'abc' })).toThrow(/previousClose: /);
    expect(() => SymbolAnalytics.restore({ ...doc, episodes: {} })).toThrow(/episodes\.priceMove: /);
    expect(() => SymbolAnalytics.restore({ ...doc, aggregator: { ...doc.aggregator, open: [{}] } })).toThrow(
      /aggregator\.open\.0\.start: /,
    );
    expect(() => SymbolAnalytics.restore(null as never)).toThrow(/invalid symbol analytics snapshot/);
  });
});

describe('configuration', () => {
  it('names the bad field', () => {
    expect(() => parseAnalyticsConfig({ detectors: { priceMovePct: -1 } })).toThrow(
      /detectors\.priceMovePct: must be positive/,
    );
    expect(() => parseAnalyticsConfig({ indicators: [{ name: 'x', type: 'SMA', period: 0 }] })).toThrow(
      /indicators\.0\.period: must be at least 1/,
    );
    expect(() =>
      parseAnalyticsConfig({
        indicators: [
          { name: 'a', type: 'SMA', period: 2 },
          { name: 'a', type: 'EMA', period: 2 },
        ],
      }),
    ).toThrow(/indicators\.1\.name: duplicate indicator name a/);
    expect(() => parseAnalyticsConfig({ graceMs: -5 })).toThrow(/graceMs: must not be negative/);
  });

  it('refuses at parse time the indicators that could not be built', () => {
    const bad = (spec: Record<string, unknown>) => () => parseAnalyticsConfig({ indicators: [spec] });
    expect(bad({ name: 'm', type: 'MACD', fast: 26, slow: 12 })).toThrow(
      /indicators\.0\.fast: must be shorter than slow \(12\)/,
    );
    expect(bad({ name: 'm', type: 'MACD', fast: 30 })).toThrow(
      /indicators\.0\.fast: must be shorter than slow \(26\)/,
    );
    // the returns z-score takes the sample deviation by default
    expect(bad({ name: 'z', type: 'ReturnsZScore', period: 1 })).toThrow(
      /indicators\.0\.period: must be at least 2 with the sample deviation/,
    );
    expect(bad({ name: 's', type: 'RollingStdDev', period: 1, deviation: 'sample' })).toThrow(
      /indicators\.0\.period: must be at least 2/,
    );
    expect(bad({ name: 'b', type: 'BollingerBands', period: 1, deviation: 'sample' })).toThrow(
      /indicators\.0\.period: must be at least 2/,
    );
    // what parses can be built
    const ok = parseAnalyticsConfig({
      indicators: [
        { name: 's', type: 'RollingStdDev', period: 1 },
        { name: 'z', type: 'ReturnsZScore', period: 1, deviation: 'population' },
        { name: 'm', type: 'MACD', fast: 3, slow: 4, signal: 1 },
      ],
    });
    expect(() => new SymbolAnalytics('AAPL', ok)).not.toThrow();
  });

  it('merges a partial config over the defaults', () => {
    const c = parseAnalyticsConfig({ detectors: { priceMovePct: 3 } });
    expect(c.detectors.priceMovePct).toBe(3);
    expect(c.detectors.returnZ).toBe(DEFAULT_ANALYTICS_CONFIG.detectors.returnZ);
    expect(c.indicators).toEqual(DEFAULT_ANALYTICS_CONFIG.indicators);
  });
});

describe('flat views', () => {
  it('puts OHLCV, session, change and indicator columns in one record', () => {
    const a = new SymbolAnalytics('AAPL', config({ indicators: [{ name: 'sma1', type: 'SMA', period: 1 }] }));
    const [r] = rowsOf(a, [
      bar('AAPL', '2024-10-02T13:30:00Z', 225.7, {
        open: 225.89,
        high: 226.11,
        low: 225.42,
        volume: 1205461,
      }),
    ]);
    expect(flattenMetricsRow(r as MetricsRow)).toEqual({
      sma1: 225.7,
      open: 225.89,
      high: 226.11,
      low: 225.42,
      close: 225.7,
      volume: 1205461,
      session: 'regular',
      tradingDay: '2024-10-02',
      previousClose: null,
      change: null,
      changePct: null,
      previousBarClose: null,
      barChange: null,
      barChangePct: null,
      anomalies: 0,
    });
    const q = a.applyTick({
      symbol: 'AAPL',
      time: at('2024-10-02T13:31:10Z'),
      price: 226,
      source: 'yahoo',
    }).quote;
    expect(flattenQuoteMetrics(q as QuoteMetrics)).toMatchObject({
      price: 226,
      session: 'regular',
      previousBarClose: 225.7,
    });
  });
});
