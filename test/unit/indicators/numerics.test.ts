/**
 * Long-run accuracy: after a million updates — including a burst of prices nine orders of
 * magnitude larger, which wrecks a plain running sum — each windowed indicator still equals a
 * naive recomputation over its final window.
 */
import { describe, expect, it } from 'vitest';
import {
  BollingerBands,
  ReturnsZScore,
  RollingStdDev,
  SMA,
  VWAP,
  WMA,
} from '../../../src/domain/indicators/index.ts';
import { gbmCandles } from './data.ts';

const N = 1_000_000;
const BURST_START = 400_000;
const BURST_END = 401_000;
const { closes: gbm, highs, lows, volumes } = gbmCandles(N, 7);
/** GBM around 100, except 1,000 prices around 1e9 in the middle. */
const prices = gbm.map((p, i) => (i >= BURST_START && i < BURST_END ? p * 1e7 : p));
const tail = (n: number) => Array.from(prices.subarray(N - n));

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function sd(xs: readonly number[], sample: boolean): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - (sample ? 1 : 0)));
}
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const TOL = 1e-12;

describe('no drift over 1,000,000 updates', () => {
  it('the data defeats a plain running sum (so the checks below can fail)', () => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += prices[i]! - (i >= 20 ? prices[i - 20]! : 0);
    expect(relErr(sum / 20, mean(tail(20)))).toBeGreaterThan(1e-9);
  });

  it('SMA(20) and SMA(200) equal the mean of the final window', () => {
    for (const period of [20, 200]) {
      const sma = new SMA({ period });
      for (let i = 0; i < N; i++) sma.update(prices[i]!);
      expect(relErr(sma.value!, mean(tail(period)))).toBeLessThan(TOL);
    }
  });

  it('WMA(30) equals the weighted mean of the final window', () => {
    const wma = new WMA({ period: 30 });
    for (let i = 0; i < N; i++) wma.update(prices[i]!);
    const w = tail(30);
    const want = w.reduce((a, x, k) => a + (k + 1) * x, 0) / 465;
    expect(relErr(wma.value!, want)).toBeLessThan(TOL);
  });

  it('RollingStdDev and Bollinger(20, 2) equal the two-pass statistics of the final window', () => {
    for (const deviation of ['population', 'sample'] as const) {
      const s = new RollingStdDev({ period: 20, deviation });
      const bb = new BollingerBands({ period: 20, multiplier: 2, deviation });
      for (let i = 0; i < N; i++) {
        s.update(prices[i]!);
        bb.update(prices[i]!);
      }
      const want = sd(tail(20), deviation === 'sample');
      expect(relErr(s.value!, want)).toBeLessThan(1e-9);
      expect(relErr(bb.value!.upper - bb.value!.middle, 2 * want)).toBeLessThan(1e-9);
      expect(relErr(bb.value!.middle, mean(tail(20)))).toBeLessThan(TOL);
    }
  });

  it('ReturnsZScore(20) equals the z-score recomputed from the final returns', () => {
    const z = new ReturnsZScore({ period: 20 });
    for (let i = 0; i < N; i++) z.update(prices[i]!);
    const r = (i: number) => prices[i]! / prices[i - 1]! - 1;
    const window = Array.from({ length: 20 }, (_, k) => r(N - 21 + k));
    const want = (r(N - 1) - mean(window)) / sd(window, true);
    expect(Math.abs(z.value! - want)).toBeLessThan(1e-9);
  });

  it('VWAP over one 1,000,000-bar session (a 24/7 instrument) equals Σpv / Σv', () => {
    const vwap = new VWAP();
    let pv = 0;
    let v = 0;
    for (let i = 0; i < N; i++) {
      const bar = { high: highs[i]!, low: lows[i]!, close: gbm[i]!, volume: volumes[i]!, sessionId: 'all' };
      vwap.update(bar);
    }
    // reference: pairwise (tree) summation, accurate to a few ulps
    const terms = Array.from({ length: N }, (_, i) => ((highs[i]! + lows[i]! + gbm[i]!) / 3) * volumes[i]!);
    const pairwise = (xs: number[], lo: number, hi: number): number =>
      hi - lo <= 8
        ? xs.slice(lo, hi).reduce((a, b) => a + b, 0)
        : pairwise(xs, lo, (lo + hi) >> 1) + pairwise(xs, (lo + hi) >> 1, hi);
    pv = pairwise(terms, 0, N);
    v = pairwise(Array.from(volumes), 0, N);
    expect(relErr(vwap.value!, pv / v)).toBeLessThan(TOL);
  });
});
