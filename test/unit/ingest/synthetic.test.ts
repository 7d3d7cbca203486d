import { describe, expect, it } from 'vitest';
import { SyntheticMarket } from '../../../src/adapters/synthetic/synthetic-source.ts';
import { calendarForSymbol } from '../../../src/domain/calendar/calendar.ts';
import { type Tick, validateTick } from '../../../src/domain/market/index.ts';

async function ticks(o: ConstructorParameters<typeof SyntheticMarket>[0]): Promise<Tick[]> {
  const out: Tick[] = [];
  for await (const e of new SyntheticMarket(o).events()) if (e.kind === 'tick') out.push(e.tick);
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Lag-1 autocorrelation (the sample estimator from any statistics text). */
function autocorr1(xs: number[]): number {
  const m = mean(xs);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    den += (xs[i]! - m) ** 2;
    if (i > 0) num += (xs[i]! - m) * (xs[i - 1]! - m);
  }
  return num / den;
}

describe('SyntheticMarket', () => {
  it('is reproducible: the same seed gives the same ticks, another seed different ones', async () => {
    const a = await ticks({ symbols: ['AAA', 'BBB'], seed: 7, count: 500 });
    const b = await ticks({ symbols: ['AAA', 'BBB'], seed: 7, count: 500 });
    const c = await ticks({ symbols: ['AAA', 'BBB'], seed: 8, count: 500 });
    expect(a).toEqual(b);
    expect(a.map((t) => t.price)).not.toEqual(c.map((t) => t.price));
  });

  it('emits valid ticks for every symbol in turn, each symbol in increasing time', async () => {
    const symbols = ['AAPL', 'MSFT', 'BTC-USD'];
    const out = await ticks({ symbols, seed: 1, count: 300, stepMs: 500 });
    expect(out).toHaveLength(300);
    expect(out.slice(0, 3).map((t) => t.symbol)).toEqual(symbols);
    for (const t of out) expect(validateTick(t, Number.POSITIVE_INFINITY).ok).toBe(true);
    for (const s of symbols) {
      const times = out.filter((t) => t.symbol === s).map((t) => t.time);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(500);
    }
  });

  it('clusters volatility: squared returns are autocorrelated with GARCH, not without', async () => {
    const n = 20_000;
    const sq = async (garch: { alpha: number; beta: number }) => {
      const p = (
        await ticks({ symbols: ['X'], seed: 3, count: n, garch, jumps: { probability: 0, sigma: 0 } })
      ).map((t) => t.price);
      const r = p.slice(1).map((x, i) => Math.log(x / p[i]!));
      return autocorr1(r.map((x) => x * x));
    };
    const clustered = await sq({ alpha: 0.15, beta: 0.8 });
    const iid = await sq({ alpha: 0, beta: 0 });
    expect(clustered).toBeGreaterThan(0.1);
    expect(Math.abs(iid)).toBeLessThan(0.05);
  });

  it('jumps: with jumps on, the largest move is far beyond the diffusion', async () => {
    const base = { symbols: ['X'], seed: 5, count: 20_000, garch: { alpha: 0, beta: 0 } };
    const maxMove = (p: number[]) => Math.max(...p.slice(1).map((x, i) => Math.abs(Math.log(x / p[i]!))));
    const calm = maxMove((await ticks({ ...base, jumps: { probability: 0, sigma: 0 } })).map((t) => t.price));
    const jumpy = maxMove(
      (await ticks({ ...base, jumps: { probability: 0.001, sigma: 0.02 } })).map((t) => t.price),
    );
    expect(jumpy).toBeGreaterThan(3 * calm);
  });

  it('volume is U-shaped over the session: higher at the open and close than at midday', async () => {
    const stepMs = 60_000;
    const out = await ticks({ symbols: ['X'], seed: 9, count: 390, stepMs });
    const vol = out.map((t, i) => t.dayVolume! - (i > 0 ? out[i - 1]!.dayVolume! : 0));
    const first = mean(vol.slice(0, 30));
    const middle = mean(vol.slice(180, 210));
    const last = mean(vol.slice(360, 390));
    expect(first).toBeGreaterThan(1.8 * middle);
    expect(last).toBeGreaterThan(1.8 * middle);
  });

  it('runs through the exchange sessions only: no US equity tick while it is closed, a new day each session', async () => {
    // Six sessions of 390 one-minute steps from Wednesday 2024-10-02, over a weekend: an endless
    // --synthetic run went on through nights and weekends, where the processor dead-letters every tick.
    const symbols = ['AAPL', 'MSFT', 'BTC-USD'];
    const out = await ticks({ symbols, seed: 1, count: 3 * 390 * 6, stepMs: 60_000 });
    const us = calendarForSymbol('AAPL');
    const outside = out.filter((t) => t.symbol !== 'BTC-USD' && us.sessionAt(t.time) !== 'regular');
    expect(outside.map((t) => new Date(t.time).toISOString()).slice(0, 3)).toEqual([]);
    const days = [...new Set(out.map((t) => us.tradingDayAt(t.time).date))];
    expect(days).toEqual([
      '2024-10-02',
      '2024-10-03',
      '2024-10-04',
      '2024-10-07',
      '2024-10-08',
      '2024-10-09',
    ]);
    for (const s of symbols) {
      const own = out.filter((t) => t.symbol === s);
      for (let i = 1; i < own.length; i++) {
        const [a, b] = [own[i - 1]!, own[i]!];
        expect(b.time).toBeGreaterThan(a.time);
        if (us.tradingDayAt(a.time).date === us.tradingDayAt(b.time).date) continue;
        // The first tick of a session opens its day: only its own volume, the day's open carried over.
        expect(b.dayVolume).toBeLessThan(a.dayVolume!);
        expect(b.dayOpen).not.toBe(own[0]!.dayOpen);
      }
    }
  });

  it('paces to the configured rate and rejects a bad rate', async () => {
    const waits: number[] = [];
    let now = 0;
    await ticks({
      symbols: ['A', 'B'],
      count: 5,
      rate: 10,
      clock: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    expect(waits).toEqual([100, 100, 100, 100]);
    expect(() => new SyntheticMarket({ symbols: ['A'], rate: 0 })).toThrow(/rate must be a positive number/);
  });

  it('ends at once when the signal aborts during a pause, with no tick after the abort', async () => {
    // 0.1 events/s: 10 s between two ticks. Ctrl-C must not wait that out, nor let a tick through.
    const abort = new AbortController();
    const got: number[] = [];
    const started = performance.now();
    for await (const e of new SyntheticMarket({ symbols: ['AAPL'], rate: 0.1 }).events(abort.signal)) {
      if (e.kind === 'tick') got.push(e.tick.time);
      setTimeout(() => abort.abort(), 50);
    }
    expect(got).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
