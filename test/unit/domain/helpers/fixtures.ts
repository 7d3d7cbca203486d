/** Parsers for the market fixtures (test-only; the product's replay parsers live in src/adapters/replay). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bar, Session } from '../../../../src/domain/market/index.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/market/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(FIXTURES + name, 'utf8');
}

/** A bar from a file, before session classification. */
export interface RawBar {
  readonly start: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** aapl-2024-10-02.csv: symbol,bar_start_et,bar_start_utc,open,high,low,close,volume */
export function aaplCsvBars(): RawBar[] {
  return fixtureText('aapl-2024-10-02.csv')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [, , utc, o, h, l, c, v] = line.split(',');
      return {
        start: Date.parse(utc as string),
        open: Number(o),
        high: Number(h),
        low: Number(l),
        close: Number(c),
        volume: Number(v),
      };
    });
}

/** spy-2011-01-ninjatrader.csv: `YYYYMMDD HHMMSS;o;h;l;c;v`, UTC, the time is the bar END. */
export function spy2011Bars(): RawBar[] {
  return fixtureText('spy-2011-01-ninjatrader.csv')
    .trim()
    .split('\n')
    .map((line) => {
      const [stamp, o, h, l, c, v] = line.split(';');
      const s = stamp as string;
      const end = Date.UTC(
        Number(s.slice(0, 4)),
        Number(s.slice(4, 6)) - 1,
        Number(s.slice(6, 8)),
        Number(s.slice(9, 11)),
        Number(s.slice(11, 13)),
        Number(s.slice(13, 15)),
      );
      return {
        start: end - 60_000,
        open: Number(o),
        high: Number(h),
        low: Number(l),
        close: Number(c),
        volume: Number(v),
      };
    });
}

/** sp500-2019-11-05-to-08.csv: `M/D/YYYY H:MM` New York time (bar start, EST in November 2019 after the 3rd). */
export function sp500Bars(): RawBar[] {
  return fixtureText('sp500-2019-11-05-to-08.csv')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [stamp, o, c, h, l, v] = line.split(',');
      const [date, time] = (stamp as string).split(' ');
      const [mo, d, y] = (date as string).split('/').map(Number);
      const [hh, mm] = (time as string).split(':').map(Number);
      // 2019-11-03 ended daylight saving time: these dates are EST, UTC-5.
      const start = Date.UTC(y as number, (mo as number) - 1, d as number, (hh as number) + 5, mm as number);
      return { start, open: Number(o), high: Number(h), low: Number(l), close: Number(c), volume: Number(v) };
    });
}

/** The recorded Yahoo 1m chart: its bars, with the all-null bar reported separately. */
export function yahooChartAapl(): { bars: RawBar[]; nullBarStarts: number[]; previousClose: number } {
  const recorded = JSON.parse(
    fixtureText('chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json'),
  ) as { response: { body: string } };
  const body = JSON.parse(recorded.response.body) as {
    chart: {
      result: Array<{
        meta: { chartPreviousClose: number };
        timestamp: number[];
        indicators: {
          quote: Array<Record<'open' | 'high' | 'low' | 'close' | 'volume', Array<number | null>>>;
        };
      }>;
    };
  };
  const r = body.chart.result[0];
  if (!r) throw new Error('chart fixture has no result');
  const q = r.indicators.quote[0];
  if (!q) throw new Error('chart fixture has no quote');
  const bars: RawBar[] = [];
  const nullBarStarts: number[] = [];
  r.timestamp.forEach((ts, i) => {
    const o = q.open[i];
    const h = q.high[i];
    const l = q.low[i];
    const c = q.close[i];
    const v = q.volume[i];
    if (o == null || h == null || l == null || c == null) {
      nullBarStarts.push(ts * 1000);
      return;
    }
    bars.push({ start: ts * 1000, open: o, high: h, low: l, close: c, volume: v ?? 0 });
  });
  return { bars, nullBarStarts, previousClose: r.meta.chartPreviousClose };
}

/** A tick as the aggregator takes it. */
export interface TestTick {
  readonly symbol: string;
  readonly time: number;
  readonly price: number;
  readonly dayVolume?: number;
  readonly source: 'replay';
}

/**
 * Replays bars as the quote ticks a feed would have sent: open at :00, high at :15, low at :30,
 * close at :59, with a cumulative day volume that rises by the bar's volume inside the bar and
 * restarts from 0 when `dayOf(start)` changes (a new trading day).
 */
export function barsToTicks(
  symbol: string,
  bars: readonly RawBar[],
  dayOf: (t: number) => string,
): TestTick[] {
  const ticks: TestTick[] = [];
  let cum = 0;
  let day = '';
  for (const b of bars) {
    const d = dayOf(b.start);
    if (d !== day) {
      day = d;
      cum = 0;
    }
    const before = cum;
    cum += b.volume;
    ticks.push({ symbol, time: b.start, price: b.open, dayVolume: before, source: 'replay' });
    ticks.push({ symbol, time: b.start + 15_000, price: b.high, dayVolume: before, source: 'replay' });
    ticks.push({ symbol, time: b.start + 30_000, price: b.low, dayVolume: before, source: 'replay' });
    ticks.push({ symbol, time: b.start + 59_000, price: b.close, dayVolume: cum, source: 'replay' });
  }
  return ticks;
}

export function countBySession(bars: readonly Pick<Bar, 'session'>[]): Record<Session, number> {
  const out: Record<Session, number> = { pre: 0, regular: 0, post: 0, none: 0 };
  for (const b of bars) out[b.session]++;
  return out;
}
