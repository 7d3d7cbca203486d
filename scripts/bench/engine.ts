/**
 * Bench part "engine": the full per-symbol update — one 1-minute bar through change metrics, the
 * default indicator set and every anomaly detector (SymbolAnalytics.applyBar) — in bars per second
 * on one core, over ≥ 1,000,000 bars; the tick path (ticks → bars → rows); and the size of the
 * per-symbol state document for the default set (200-period windows).
 *
 * Input: a seeded random walk (log-normal 1-minute returns with intraday volume shape) on the real
 * US equity calendar, every minute of pre, regular and post sessions of consecutive trading days.
 * Target (here only, never in tests): ≥ 1,000,000 bars/s.
 *
 *   npm run bench -- engine            ENGINE_BARS=2000000 npm run bench -- engine
 */
import { SymbolAnalytics } from '../../src/domain/analytics/index.ts';
import { UsEquityCalendar } from '../../src/domain/calendar/calendar.ts';
import type { Bar, Tick } from '../../src/domain/market/index.ts';

const TARGET_BARS_PER_SECOND = 1_000_000;
const DYNAMODB_ITEM_LIMIT = 400 * 1024;

/** Mulberry32: a tiny seeded PRNG so every run replays the same market. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` consecutive 1-minute bars of one symbol over the pre/regular/post minutes of trading days. */
export function syntheticBars(symbol: string, count: number, seed = 42): Bar[] {
  const rnd = prng(seed);
  const gauss = () => {
    const u = 1 - rnd();
    const v = rnd();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const cal = new UsEquityCalendar();
  const bars: Bar[] = [];
  let price = 100;
  let date = Date.UTC(2015, 0, 2);
  while (bars.length < count) {
    const d = new Date(date);
    const day = cal.dayOf(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
    date += 86_400_000;
    if (day.preOpen === undefined) continue;
    price *= Math.exp(0.01 * gauss()); // overnight gap
    for (let t = day.preOpen; t < (day.postClose as number) && bars.length < count; t += 60_000) {
      const regular = t >= (day.regularOpen as number) && t < (day.regularClose as number);
      const sigma = regular ? 0.0008 : 0.0003;
      const open = price;
      const close = open * Math.exp(sigma * gauss());
      const high = Math.max(open, close) * (1 + Math.abs(sigma * 0.5 * gauss()));
      const low = Math.min(open, close) * (1 - Math.abs(sigma * 0.5 * gauss()));
      const volume = Math.round((regular ? 50_000 : 2_000) * Math.exp(0.5 * gauss()));
      bars.push({
        symbol,
        start: t,
        interval: '1m',
        open,
        high,
        low,
        close,
        volume,
        session: regular ? 'regular' : t < (day.regularOpen as number) ? 'pre' : 'post',
        source: 'synthetic',
      });
      price = close;
    }
  }
  return bars;
}

function ticksOf(bars: readonly Bar[]): Tick[] {
  const ticks: Tick[] = [];
  let cum = 0;
  let day = -1;
  for (const b of bars) {
    const d = Math.floor((b.start - 4 * 3600_000) / 86_400_000);
    if (d !== day) {
      day = d;
      cum = 0;
    }
    const before = cum;
    cum += b.volume;
    const base = { symbol: b.symbol, source: 'synthetic' as const };
    ticks.push({ ...base, time: b.start + 1_000, price: b.open, dayVolume: before });
    ticks.push({ ...base, time: b.start + 20_000, price: b.high, dayVolume: before });
    ticks.push({ ...base, time: b.start + 40_000, price: b.low, dayVolume: before });
    ticks.push({ ...base, time: b.start + 59_000, price: b.close, dayVolume: cum });
  }
  return ticks;
}

export async function run(log: (line: string) => void): Promise<Record<string, unknown>> {
  const n = Number(process.env.ENGINE_BARS ?? 1_000_000);
  if (!Number.isInteger(n) || n < 1_000_000 || n > 100_000_000)
    throw new RangeError(
      `ENGINE_BARS must be an integer between 1000000 (the target's count) and 100000000, got ${JSON.stringify(process.env.ENGINE_BARS)}`,
    );
  const t0 = performance.now();
  const bars = syntheticBars('SPY', n);
  log(
    `generated ${bars.length.toLocaleString('en-US')} bars in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Warm-up on a separate aggregate so the JIT has seen the hot path, then the measured run.
  const warm = new SymbolAnalytics('SPY');
  for (let i = 0; i < 50_000; i++) warm.applyBar(bars[i] as Bar);

  // Three measured passes, each on a fresh aggregate; the best is reported (the machine is shared).
  const PASSES = 3;
  let analytics = new SymbolAnalytics('SPY');
  let anomalies = 0;
  let rejected = 0;
  let checksum = 0;
  const passSeconds: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    analytics = new SymbolAnalytics('SPY');
    anomalies = 0;
    rejected = 0;
    checksum = 0;
    const start = performance.now();
    for (let i = 0; i < bars.length; i++) {
      const r = analytics.applyBar(bars[i] as Bar);
      if (r.row === undefined) rejected++;
      else {
        anomalies += r.row.anomalies.length;
        checksum += r.row.indicators.sma20 ?? 0;
      }
    }
    passSeconds.push((performance.now() - start) / 1000);
  }
  const seconds = Math.min(...passSeconds);
  const barsPerSecond = Math.round(bars.length / seconds);
  const passRates = passSeconds.map((p) => Math.round(bars.length / p));
  log(
    `applyBar (default indicators + detectors): ${barsPerSecond.toLocaleString('en-US')} bars/s best of ${PASSES} ` +
      `(${passRates.map((r) => r.toLocaleString('en-US')).join(' / ')}; ${bars.length.toLocaleString('en-US')} bars a pass; ` +
      `target ${TARGET_BARS_PER_SECOND.toLocaleString('en-US')}: ${barsPerSecond >= TARGET_BARS_PER_SECOND ? 'met' : 'NOT met'}); ` +
      `${anomalies} anomalies, ${rejected} rejected`,
  );

  const snapshotJson = JSON.stringify(analytics.snapshot());
  const snapshotBytes = Buffer.byteLength(snapshotJson, 'utf8');
  const s0 = performance.now();
  const rounds = 2_000;
  for (let i = 0; i < rounds; i++) {
    SymbolAnalytics.restore(JSON.parse(JSON.stringify(analytics.snapshot())));
  }
  const roundTripMicros = ((performance.now() - s0) * 1000) / rounds;
  log(
    `state document (default set, 200-period windows): ${snapshotBytes.toLocaleString('en-US')} bytes ` +
      `= ${((snapshotBytes / DYNAMODB_ITEM_LIMIT) * 100).toFixed(1)} % of a 400 KB DynamoDB item; ` +
      `snapshot → JSON → restore ${roundTripMicros.toFixed(0)} µs`,
  );

  // Tick path: 4 quote ticks per bar through the aggregator (grace 5 s) into rows.
  const tickBars = bars.slice(0, 250_000);
  const ticks = ticksOf(tickBars);
  const tickAnalytics = new SymbolAnalytics('SPY');
  let rows = 0;
  const k0 = performance.now();
  for (let i = 0; i < ticks.length; i++) rows += tickAnalytics.applyTick(ticks[i] as Tick).rows.length;
  rows += tickAnalytics.flush().length;
  const tickSeconds = (performance.now() - k0) / 1000;
  const ticksPerSecond = Math.round(ticks.length / tickSeconds);
  log(
    `applyTick (aggregation + quote change + closed-bar rows): ${ticksPerSecond.toLocaleString('en-US')} ticks/s ` +
      `(${ticks.length.toLocaleString('en-US')} ticks → ${rows.toLocaleString('en-US')} rows)`,
  );

  return {
    bars: bars.length,
    barsPerSecond,
    barsPerSecondPasses: passRates,
    targetBarsPerSecond: TARGET_BARS_PER_SECOND,
    targetMet: barsPerSecond >= TARGET_BARS_PER_SECOND,
    anomalies,
    snapshotBytes,
    snapshotShareOfDynamoItem: Number((snapshotBytes / DYNAMODB_ITEM_LIMIT).toFixed(4)),
    snapshotRoundTripMicros: Number(roundTripMicros.toFixed(1)),
    ticks: ticks.length,
    ticksPerSecond,
    rowsFromTicks: rows,
    checksum: Number(checksum.toFixed(2)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run((line) => console.log(`[engine] ${line}`));
  console.log(JSON.stringify(figures));
}
