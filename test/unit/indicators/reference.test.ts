/**
 * Each indicator against published worked examples (to the precision each example is written
 * with) and, where no worked example exists, against the published formula computed naively
 * (O(n) per point) in this file over real market data.
 */
import { describe, expect, it } from 'vitest';
import {
  ATR,
  BollingerBands,
  EMA,
  MACD,
  ReturnsZScore,
  ROC,
  RollingStdDev,
  RSI,
  SMA,
  VWAP,
  WMA,
} from '../../../src/domain/indicators/index.ts';
import { aaplDaily, aaplMinutes, csvRows, halfUlpOfText, spyMinutes } from './data.ts';

/** |actual − expected| within `tol`, with a message naming the row. */
function near(actual: number | undefined, expected: number, tol: number, what: string): void {
  expect(actual, what).toBeTypeOf('number');
  const diff = Math.abs((actual as number) - expected);
  if (!(diff <= tol)) expect.fail(`${what}: got ${actual}, expected ${expected} ± ${tol} (off by ${diff})`);
}

const rel = (expected: number) => 1e-10 * Math.max(1, Math.abs(expected));

describe('worked examples (StockCharts, SPY)', () => {
  it.each([
    ['SMA(10)', 'stockcharts-sma-10.csv', () => new SMA({ period: 10 })],
    ['EMA(10), SMA-seeded', 'stockcharts-ema-10.csv', () => new EMA({ period: 10 })],
    ['Wilder RSI(14)', 'stockcharts-wilder-rsi-14.csv', () => new RSI({ period: 14 })],
  ])('%s matches every row of %s', (_name, file, make) => {
    const x = make();
    const rows = csvRows(file);
    let checked = 0;
    rows.forEach(([input, expected], i) => {
      const v = x.update(Number(input));
      if (expected) {
        near(v, Number(expected), halfUlpOfText(expected), `row ${i + 1}`);
        checked++;
      } else {
        expect(v, `row ${i + 1} is still warming up`).toBeUndefined();
      }
    });
    expect(checked).toBe(rows.length - x.requiredInputs + 1);
  });

  it('Wilder ATR(14) matches every row of stockcharts-atr-14.csv', () => {
    const atr = new ATR({ period: 14 });
    let checked = 0;
    for (const [date, high, low, close, , expected] of csvRows('stockcharts-atr-14.csv')) {
      const v = atr.update({ high: Number(high), low: Number(low), close: Number(close) });
      if (Number(expected) === 0) {
        expect(v, date).toBeUndefined();
      } else {
        // The example prints ATR to 9–15 decimals; beyond 1e-12 it is float noise of its own sums.
        near(v, Number(expected), Math.max(halfUlpOfText(expected!), 1e-12), date!);
        checked++;
      }
    }
    expect(checked).toBe(17);
  });

  it('Bollinger(20, 2) population matches stockcharts-bollinger-20.csv (middle, bands, BandWidth, %B)', () => {
    const bb = new BollingerBands({ period: 20, multiplier: 2 });
    let checked = 0;
    for (const [date, close, middle, , upper, lower, width, , , percentB] of csvRows(
      'stockcharts-bollinger-20.csv',
    )) {
      const v = bb.update(Number(close));
      if (!middle) {
        expect(v, date).toBeUndefined();
        continue;
      }
      near(v?.middle, Number(middle), halfUlpOfText(middle), `${date} middle`);
      near(v?.upper, Number(upper), halfUlpOfText(upper!), `${date} upper`);
      near(v?.lower, Number(lower), halfUlpOfText(lower!), `${date} lower`);
      near(v?.width, Number(width), halfUlpOfText(width!), `${date} width`);
      near(v?.percentB, Number(percentB), halfUlpOfText(percentB!), `${date} %B`);
      checked++;
    }
    expect(checked).toBe(23);
  });

  it('Bollinger(20, 2) sample SD matches the SPY file where its bands depend only on rows in the file', () => {
    const bb = new BollingerBands({ period: 20, multiplier: 2, deviation: 'sample' });
    const rows = csvRows('spy-bollinger-20-sample-sd.csv');
    let checked = 0;
    rows.forEach((r, i) => {
      const v = bb.update(Number(r[4]));
      if (i < 19) return; // these rows' bands use closes from before the file starts
      near(v?.upper, Number(r[7]), 1e-9, `${r[0]} upper`);
      near(v?.lower, Number(r[8]), 1e-9, `${r[0]} lower`);
      near(v?.percentB, Number(r[9]), 1e-9, `${r[0]} %B`);
      checked++;
    });
    expect(checked).toBe(rows.length - 19);
  });

  it('population and sample bands differ by sqrt(n / (n − 1)) on the same data', () => {
    const pop = new BollingerBands({ deviation: 'population' });
    const sam = new BollingerBands({ deviation: 'sample' });
    for (const r of csvRows('spy-bollinger-20-sample-sd.csv')) {
      pop.update(Number(r[4]));
      sam.update(Number(r[4]));
    }
    const p = pop.value!;
    const s = sam.value!;
    near((s.upper - s.middle) / (p.upper - p.middle), Math.sqrt(20 / 19), 1e-12, 'band ratio');
  });
});

// ---------------------------------------------------------------------------------------------
// Naive references, written from the published formulas, O(n) per point.

function naiveMean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function naiveSd(xs: readonly number[], sample: boolean): number {
  const m = naiveMean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - (sample ? 1 : 0)));
}

/** EMA with multiplier 2/(n+1) seeded by the SMA of the first n values (StockCharts). */
function naiveEmaSeries(xs: readonly number[], n: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  let ema: number | undefined;
  xs.forEach((x, i) => {
    if (i === n - 1) ema = naiveMean(xs.slice(0, n));
    else if (i >= n) ema = x * (2 / (n + 1)) + ema! * (1 - 2 / (n + 1));
    out.push(ema);
  });
  return out;
}

const closes = aaplDaily().map((b) => b.close);

describe('formula references over real AAPL daily closes (2016–2018)', () => {
  it('SMA(50) equals the mean of each 50-close window', () => {
    const sma = new SMA({ period: 50 });
    closes.forEach((c, i) => {
      const v = sma.update(c);
      if (i < 49) {
        expect(v).toBeUndefined();
        return;
      }
      const want = naiveMean(closes.slice(i - 49, i + 1));
      near(v, want, rel(want), `bar ${i}`);
    });
  });

  it('WMA(10) equals Σ weight·close / Σ weight with weights 1..10 (newest heaviest)', () => {
    const wma = new WMA({ period: 10 });
    closes.forEach((c, i) => {
      const v = wma.update(c);
      if (i < 9) {
        expect(v).toBeUndefined();
        return;
      }
      let num = 0;
      for (let k = 0; k < 10; k++) num += (k + 1) * closes[i - 9 + k]!;
      near(v, num / 55, rel(num / 55), `bar ${i}`);
    });
  });

  it('MACD(12, 26, 9) equals EMA12 − EMA26, its SMA-seeded EMA9 and their difference', () => {
    const macd = new MACD();
    const e12 = naiveEmaSeries(closes, 12);
    const e26 = naiveEmaSeries(closes, 26);
    const line = closes.map((_, i) => (e26[i] === undefined ? undefined : e12[i]! - e26[i]!));
    const defined = line.filter((x): x is number => x !== undefined);
    const sig = naiveEmaSeries(defined, 9);
    closes.forEach((c, i) => {
      const v = macd.update(c);
      if (i < 33) {
        expect(v, `bar ${i}`).toBeUndefined();
        return;
      }
      const want = { macd: line[i]!, signal: sig[i - 25]! };
      near(v?.macd, want.macd, 1e-9, `bar ${i} macd`);
      near(v?.signal, want.signal, 1e-9, `bar ${i} signal`);
      near(v?.histogram, want.macd - want.signal, 1e-9, `bar ${i} histogram`);
    });
    expect(macd.requiredInputs).toBe(34);
  });

  it('ROC(12) equals (close − close 12 bars ago) / close 12 bars ago × 100', () => {
    const roc = new ROC({ period: 12 });
    closes.forEach((c, i) => {
      const v = roc.update(c);
      if (i < 12) {
        expect(v).toBeUndefined();
        return;
      }
      const want = ((c - closes[i - 12]!) / closes[i - 12]!) * 100;
      near(v, want, rel(want), `bar ${i}`);
    });
  });

  it.each([
    'population',
    'sample',
  ] as const)('RollingStdDev(20, %s) equals the two-pass SD of each window', (d) => {
    const sd = new RollingStdDev({ period: 20, deviation: d });
    closes.forEach((c, i) => {
      const v = sd.update(c);
      if (i < 19) {
        expect(v).toBeUndefined();
        return;
      }
      const want = naiveSd(closes.slice(i - 19, i + 1), d === 'sample');
      near(v, want, rel(want), `bar ${i}`);
    });
  });

  it('Wilder ATR(14) equals the mean of the first 14 true ranges, then (ATR·13 + TR) / 14', () => {
    // True range (Wilder): the first candle's high − low; then max(high, previous close) −
    // min(low, previous close), so a gap counts. These daily bars gap 7 times in the first 15 days:
    // the warm-up's true ranges are checked too, not only the smoothing after it.
    const bars = aaplDaily();
    const tr = bars.map((b, i) => {
      if (i === 0) return b.high - b.low;
      const pc = bars[i - 1]!.close;
      return Math.max(b.high, pc) - Math.min(b.low, pc);
    });
    const atr = new ATR({ period: 14 });
    let want = 0;
    bars.forEach((b, i) => {
      const v = atr.update({ high: b.high, low: b.low, close: b.close });
      if (i < 13) {
        expect(v, `bar ${i}`).toBeUndefined();
        return;
      }
      want = i === 13 ? naiveMean(tr.slice(0, 14)) : (want * 13 + tr[i]!) / 14;
      near(v, want, 1e-9, `bar ${i}`);
    });
  });

  it('ReturnsZScore(20) scores each return against the 20 returns before it (sample SD)', () => {
    const z = new ReturnsZScore({ period: 20 });
    const returns = closes.map((c, i) => (i === 0 ? Number.NaN : c / closes[i - 1]! - 1));
    let extreme = 0;
    closes.forEach((c, i) => {
      const v = z.update(c);
      if (i < 21) {
        expect(v, `bar ${i}`).toBeUndefined();
        return;
      }
      const window = returns.slice(i - 20, i);
      const want = (returns[i]! - naiveMean(window)) / naiveSd(window, true);
      near(v, want, 1e-9, `bar ${i}`);
      extreme = Math.max(extreme, Math.abs(want));
    });
    expect(extreme).toBeGreaterThan(3); // the data holds real outliers, so the scale is exercised
  });
});

describe('session VWAP over real 1-minute bars', () => {
  /** Σ typical·volume / Σ volume over the session so far, recomputed from scratch each bar. */
  function naiveVwap(bars: ReturnType<typeof spyMinutes>, i: number): number | undefined {
    let pv = 0;
    let vol = 0;
    for (let k = i; k >= 0 && bars[k]!.session === bars[i]!.session; k--) {
      const b = bars[k]!;
      pv += ((b.high + b.low + b.close) / 3) * b.volume;
      vol += b.volume;
    }
    return vol > 0 ? pv / vol : undefined;
  }

  it.each([
    ['AAPL 2024-10-02 (Yahoo, one regular session)', aaplMinutes()],
    ['SPY 2011-01-03..05 (NinjaTrader, three sessions with extended hours)', spyMinutes()],
  ])('%s', (_name, bars) => {
    const vwap = new VWAP();
    let resets = 0;
    bars.forEach((b, i) => {
      if (i > 0 && b.session !== bars[i - 1]!.session) resets++;
      const v = vwap.update({
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        sessionId: b.session,
      });
      const want = naiveVwap(bars, i);
      if (want === undefined) expect(v).toBeUndefined();
      else near(v, want, rel(want), `bar ${i}`);
    });
    expect(resets).toBe(new Set(bars.map((b) => b.session)).size - 1);
  });

  it('restarts at the first bar of a new session', () => {
    const bars = spyMinutes();
    const firstOfDay2 = bars.findIndex((b) => b.session !== bars[0]!.session);
    const vwap = new VWAP();
    for (const b of bars.slice(0, firstOfDay2 + 1)) vwap.update({ ...b, sessionId: b.session });
    const b = bars[firstOfDay2]!;
    near(vwap.value, (b.high + b.low + b.close) / 3, 1e-12, 'first bar of the new session');
    expect(vwap.sessionId).toBe(b.session);
  });

  it('has no value while the session has traded no volume (FX-style quotes)', () => {
    const vwap = new VWAP();
    expect(vwap.update({ high: 1.1, low: 1.09, close: 1.095, volume: 0, sessionId: 'd1' })).toBeUndefined();
    expect(vwap.isStable).toBe(false);
    near(vwap.update({ high: 1.2, low: 1.1, close: 1.15, volume: 10, sessionId: 'd1' }), 1.15, 1e-15, 'vwap');
  });
});

describe('edge values', () => {
  it('RSI is 100 with no losses and 50 with no movement', () => {
    const up = new RSI({ period: 3 });
    for (const p of [1, 2, 3, 4]) up.update(p);
    expect(up.value).toBe(100);
    const flat = new RSI({ period: 3 });
    for (const p of [5, 5, 5, 5]) flat.update(p);
    expect(flat.value).toBe(50);
    // and still 50 while the price stays unchanged after the warm-up (the smoothed averages are 0/0)
    for (let i = 0; i < 10; i++) expect(flat.update(5), `flat input ${i + 5}`).toBe(50);
  });

  it('Bollinger %B is undefined when the bands touch (zero deviation)', () => {
    const bb = new BollingerBands({ period: 3 });
    for (const p of [10, 10, 10]) bb.update(p);
    expect(bb.value).toMatchObject({ middle: 10, upper: 10, lower: 10, width: 0, percentB: undefined });
  });

  it('a price flat for longer than the window has zero deviation: bands on the middle, %B undefined', () => {
    for (const price of [188.44, 0.07, 101_234.57, 3.3]) {
      const bb = new BollingerBands({ period: 20 });
      const sd = new RollingStdDev({ period: 20, deviation: 'sample' });
      // flat from the start, then after a varying stretch: every window checked past several wraps
      const prices = [
        ...Array.from({ length: 107 }, () => price),
        ...Array.from({ length: 33 }, (_, i) => price * (1 + (i % 5) / 100)),
        ...Array.from({ length: 45 }, () => price),
      ];
      prices.forEach((p, i) => {
        bb.update(p);
        sd.update(p);
        const flatFor = i < 107 ? i + 1 : i - 139;
        // a window that turned flat between two ring wraps is exact from the next wrap on
        if (flatFor >= 20 && (i < 107 || i >= 159)) {
          expect(sd.value, `${price} #${i}`).toBe(0);
          expect(bb.value, `${price} #${i}`).toMatchObject({
            middle: price,
            upper: price,
            lower: price,
            width: 0,
            percentB: undefined,
          });
        }
      });
    }
  });

  it('ReturnsZScore is 0 for an unchanged return after a flat window and ±Infinity for a move', () => {
    const z = new ReturnsZScore({ period: 2 });
    for (const p of [10, 10, 10]) z.update(p);
    expect(z.update(10)).toBe(0);
    expect(z.update(11)).toBe(Number.POSITIVE_INFINITY);
    const down = new ReturnsZScore({ period: 2 });
    for (const p of [10, 10, 10]) down.update(p);
    expect(down.update(9)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('ATR uses high − low for the first candle and the previous close afterwards (gaps count)', () => {
    const atr = new ATR({ period: 1 });
    expect(atr.update({ high: 11, low: 10, close: 10.5 })).toBe(1);
    expect(atr.update({ high: 14, low: 13, close: 13.5 })).toBe(3.5); // gap up: high − previous close
    expect(atr.update({ high: 10, low: 9, close: 9.5 })).toBe(4.5); // gap down: previous close − low
    // the same during the warm-up: the second candle's true range already takes the gap
    const warming = new ATR({ period: 2 });
    expect(warming.update({ high: 11, low: 10, close: 10.5 })).toBeUndefined(); // TR 1
    expect(warming.update({ high: 14, low: 13, close: 13.5 })).toBe(2.25); // TR 3.5: (1 + 3.5) / 2
  });
});
