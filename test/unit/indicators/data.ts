import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../fixtures/indicators/', import.meta.url));

/** Rows of a fixture CSV (header dropped), split on `sep`. */
export function csvRows(file: string, sep = ','): string[][] {
  return readFileSync(dir + file, 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((line) => line.split(sep));
}

/** Half a unit of the last decimal written in `text`: the precision a worked example gives. */
export function halfUlpOfText(text: string): number {
  const dot = text.indexOf('.');
  const decimals = dot < 0 ? 0 : text.length - dot - 1;
  return 0.5 * 10 ** -decimals;
}

export interface DailyBar {
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Yahoo daily AAPL 2016–2018 (real data). */
export function aaplDaily(): DailyBar[] {
  return csvRows('aapl-daily-2016-2018.csv').map((r) => ({
    date: r[0]!,
    open: Number(r[1]),
    high: Number(r[2]),
    low: Number(r[3]),
    close: Number(r[4]),
    volume: Number(r[6]),
  }));
}

export interface MinuteBar {
  /** ET session date, used as the VWAP session key. */
  session: string;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** AAPL 1-minute regular-session bars of 2024-10-02 (Yahoo). */
export function aaplMinutes(): MinuteBar[] {
  return csvRows('aapl-2024-10-02.csv').map((r) => ({
    session: r[1]!.slice(0, 10),
    high: Number(r[4]),
    low: Number(r[5]),
    close: Number(r[6]),
    volume: Number(r[7]),
  }));
}

/**
 * SPY 1-minute bars 2011-01-03..05 (NinjaTrader, UTC bar END, extended hours). The session key is
 * the New York calendar date of the bar start (January: UTC−5).
 */
export function spyMinutes(): MinuteBar[] {
  return readFileSync(`${dir}spy-1m-2011-01-03-to-05-ninjatrader.csv`, 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((line) => {
      const [stamp, , high, low, close, volume] = line.split(';');
      const d = stamp!;
      const endUtc = Date.UTC(
        +d.slice(0, 4),
        +d.slice(4, 6) - 1,
        +d.slice(6, 8),
        +d.slice(9, 11),
        +d.slice(11, 13),
      );
      const startEt = new Date(endUtc - 60_000 - 5 * 3_600_000);
      return {
        session: startEt.toISOString().slice(0, 10),
        high: Number(high),
        low: Number(low),
        close: Number(close),
        volume: Number(volume),
      };
    });
}

/** A seeded PRNG (mulberry32) so generated series are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Geometric Brownian motion closes with per-step volatility `sigma`, plus a candle around each. */
export function gbmCandles(n: number, seed: number, start = 100, sigma = 0.001) {
  const rnd = seededRandom(seed);
  const closes = new Float64Array(n);
  const highs = new Float64Array(n);
  const lows = new Float64Array(n);
  const volumes = new Float64Array(n);
  let p = start;
  for (let i = 0; i < n; i++) {
    const u1 = rnd() || 1e-12;
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rnd());
    const prev = p;
    p = p * Math.exp(sigma * z - (sigma * sigma) / 2);
    closes[i] = p;
    highs[i] = Math.max(prev, p) * (1 + rnd() * sigma);
    lows[i] = Math.min(prev, p) * (1 - rnd() * sigma);
    volumes[i] = Math.floor(rnd() * 10_000) + 1;
  }
  return { closes, highs, lows, volumes };
}
