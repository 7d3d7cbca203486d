/**
 * The bundled real 1-minute data through the aggregation: each file's bars are replayed as quote
 * ticks (open, high, low, close with a cumulative day volume) and must come back as the same bars,
 * with the exact number of bars per session.
 */
import { describe, expect, it } from 'vitest';
import { BarAggregator } from '../../../src/domain/bars/aggregator.ts';
import { UsEquityCalendar } from '../../../src/domain/calendar/calendar.ts';
import type { Bar } from '../../../src/domain/market/index.ts';
import {
  aaplCsvBars,
  barsToTicks,
  countBySession,
  type RawBar,
  sp500Bars,
  spy2011Bars,
  yahooChartAapl,
} from './helpers/fixtures.ts';

function aggregate(symbol: string, raw: readonly RawBar[], graceMs = 0) {
  const calendar = new UsEquityCalendar();
  const dayOf = (t: number) => calendar.tradingDayAt(t).date;
  const agg = new BarAggregator(symbol, new UsEquityCalendar(), { graceMs });
  const bars: Bar[] = [];
  const rejected: string[] = [];
  for (const t of barsToTicks(symbol, raw, dayOf)) {
    const r = agg.addTick(t);
    bars.push(...r.closed);
    if (r.rejected) rejected.push(`${r.rejected.code} ${new Date(t.time).toISOString()}`);
  }
  bars.push(...agg.flush());
  return { bars, rejected, dayOf };
}

const ohlcv = (b: RawBar | Bar) => [b.start, b.open, b.high, b.low, b.close, b.volume];

describe('Yahoo 1m chart AAPL 2024-10-02 (null bar, trailing bar)', () => {
  const chart = yahooChartAapl();

  it('has the quirks the fixture is known for', () => {
    // python3 -c json: 391 timestamps, close[105] is null at 1727882100 (11:15 ET), last ts 1727985600
    expect(chart.bars).toHaveLength(390);
    expect(chart.nullBarStarts).toEqual([Date.parse('2024-10-02T15:15:00Z')]);
  });

  it('aggregates to 389 regular bars + the trailing bar in the next day’s post session', () => {
    const { bars, rejected } = aggregate('AAPL', chart.bars);
    expect(rejected).toEqual([]);
    // 391 timestamps - 1 null = 390 bars: 389 from 09:30 to 15:59 ET on 10-02 and one at 2024-10-03 16:00 ET
    expect(countBySession(bars)).toEqual({ pre: 0, regular: 389, post: 1, none: 0 });
    const trailing = bars[bars.length - 1] as Bar;
    expect(new Date(trailing.start).toISOString()).toBe('2024-10-03T20:00:00.000Z');
    expect(trailing.session).toBe('post');
    // no bar for the null minute: never filled, never merged into a neighbour
    expect(bars.some((b) => b.start === Date.parse('2024-10-02T15:15:00Z'))).toBe(false);
  });

  it('reproduces the independently flattened CSV of the same day bar for bar', () => {
    const { bars } = aggregate('AAPL', chart.bars);
    const regular = bars.filter((b) => b.session === 'regular');
    // Yahoo's chart carries float32 prices (225.88999938964844); the CSV holds their shortest decimal (225.89).
    const f32 = (b: RawBar): RawBar => ({
      ...b,
      open: Math.fround(b.open),
      high: Math.fround(b.high),
      low: Math.fround(b.low),
      close: Math.fround(b.close),
    });
    expect(regular.map(ohlcv)).toEqual(aaplCsvBars().map(f32).map(ohlcv));
  });

  it('the CSV (bar start, ET) alone: 389 regular bars from 09:30 to 15:59', () => {
    // tail -n +2 aapl-2024-10-02.csv | wc -l → 389; all bar_start_et between 09:30 and 15:59
    const { bars } = aggregate('AAPL', aaplCsvBars());
    expect(countBySession(bars)).toEqual({ pre: 0, regular: 389, post: 0, none: 0 });
    expect(bars[0]).toMatchObject({ open: 225.89, high: 226.11, low: 225.42, close: 225.7, volume: 1205461 });
  });
});

describe('SPY January 2011 (NinjaTrader, UTC, bar END times, extended hours)', () => {
  const raw = spy2011Bars();

  it('aggregates to the exact bars per session', () => {
    const { bars, rejected } = aggregate('SPY', raw);
    expect(rejected).toEqual([]);
    // awk over the file: start ET minute = (HH*60+MM - 1 - 300) mod 1440 (EST, end → start), then
    // pre = [240,570), regular = [570,960), post = [960,1200): pre 3310, regular 7800, post 3070.
    expect(bars).toHaveLength(14180); // wc -l
    expect(countBySession(bars)).toEqual({ pre: 3310, regular: 7800, post: 3070, none: 0 });
    expect(bars.map(ohlcv)).toEqual(raw.map(ohlcv));
  });

  it('has 390 regular bars on each of its 20 trading days, none on MLK day', () => {
    const { bars, dayOf } = aggregate('SPY', raw);
    const perDay = new Map<string, number>();
    for (const b of bars)
      if (b.session === 'regular') perDay.set(dayOf(b.start), (perDay.get(dayOf(b.start)) ?? 0) + 1);
    expect(perDay.size).toBe(20);
    expect([...perDay.values()].every((n) => n === 390)).toBe(true);
    expect(perDay.has('2011-01-17')).toBe(false);
    // the first bar: "20110103 090100" ends 04:01 EST, so it starts 04:00 — the first pre-market minute
    expect(bars[0]).toMatchObject({
      start: Date.parse('2011-01-03T09:00:00Z'),
      session: 'pre',
      volume: 1579,
    });
    // the last: "20110201 010000" ends 20:00 EST on Jan 31 → the last post-market minute
    expect(bars[bars.length - 1]).toMatchObject({
      start: Date.parse('2011-02-01T00:59:00Z'),
      session: 'post',
    });
  });

  it('folds ticks arriving out of order within a 30 s grace window into the same bars', () => {
    const calendar = new UsEquityCalendar();
    const ticks = barsToTicks('SPY', raw.slice(0, 2000), (t) => calendar.tradingDayAt(t).date);
    // swap each pair of neighbouring ticks: at most 44 s apart... keep only swaps within 25 s
    const arrival = [...ticks];
    for (let i = 0; i + 1 < arrival.length; i += 2) {
      const a = arrival[i] as (typeof ticks)[number];
      const b = arrival[i + 1] as (typeof ticks)[number];
      if (b.time - a.time <= 25_000) {
        arrival[i] = b;
        arrival[i + 1] = a;
      }
    }
    const agg = new BarAggregator('SPY', new UsEquityCalendar(), { graceMs: 30_000 });
    const bars: Bar[] = [];
    for (const t of arrival) {
      const r = agg.addTick(t);
      expect(r.rejected).toBeUndefined();
      bars.push(...r.closed);
    }
    bars.push(...agg.flush());
    expect(bars.map(ohlcv)).toEqual(raw.slice(0, 2000).map(ohlcv));
  });
});

describe('S&P 500 index 2019-11-05..08 (New York time, bar start, volume 0)', () => {
  it('aggregates to 4 × 390 regular bars and the three 16:00 closing prints', () => {
    const { bars, rejected } = aggregate('^GSPC', sp500Bars());
    expect(rejected).toEqual([]);
    // awk: per date, minute-of-day in [570,960) → 390 on each of 11/5..11/8; 16:00 rows on 11/5, 11/6, 11/7
    expect(countBySession(bars)).toEqual({ pre: 0, regular: 1560, post: 3, none: 0 });
    expect(bars.every((b) => b.volume === 0)).toBe(true);
  });
});
