import { setTimeout as delay } from 'node:timers/promises';
import { calendarForSymbol, type ExchangeCalendar } from '../../domain/calendar/calendar.ts';
import type { MarketEvent, Tick } from '../../domain/market/index.ts';
import { sleep } from '../../pipeline/ingest/backoff.ts';
import type { MarketSource, SourceIssue } from '../../ports/market-source.ts';

/** Seeded PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Standard normal by Box–Muller. */
function normal(rnd: () => number): number {
  let u = 0;
  while (u === 0) u = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

export interface SyntheticOptions {
  readonly symbols: readonly string[];
  readonly seed?: number;
  /** Events per second across all symbols, paced in wall-clock time; `max` = no pacing. */
  readonly rate?: number | 'max';
  /** Simulated time of the first tick (default 2024-10-02 09:30 New York = 13:30Z). */
  readonly start?: number;
  /** Simulated time between two ticks of one symbol (default 1 s). */
  readonly stepMs?: number;
  /** Stop after this many events (default: endless until aborted). */
  readonly count?: number;
  /** Annualised volatility the GARCH process reverts to (default 0.25). */
  readonly annualVolatility?: number;
  /** GARCH(1,1) weights (default α 0.08, β 0.90). */
  readonly garch?: { readonly alpha: number; readonly beta: number };
  /** Jumps: probability per step and size standard deviation in log-price (default 1e-4, 0.01). */
  readonly jumps?: { readonly probability: number; readonly sigma: number };
  /**
   * Length of the simulated session for the U-shaped volume curve (default 6.5 h), for a market of
   * symbols without sessions (crypto, FX, futures); with a US equity or index among the symbols,
   * the exchange's regular sessions set the clock and the curve.
   */
  readonly sessionMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

const YEAR_SECONDS = 252 * 6.5 * 3600;

interface SymbolState {
  readonly symbol: string;
  price: number;
  variance: number;
  lastReturn: number;
  dayOpen: number;
  dayHigh: number;
  dayLow: number;
  dayVolume: number;
  readonly baseVolume: number;
}

/** A regular session of an exchange calendar (epoch ms). */
interface RegularSession {
  readonly open: number;
  readonly close: number;
}

/** The regular session under way at `t`, or else the next one to open (weekends and holidays skipped). */
function regularSessionFrom(calendar: ExchangeCalendar, t: number): RegularSession {
  let at = t;
  for (let days = 0; days < 366; days++) {
    const day = calendar.tradingDayAt(at);
    if (day.regularOpen !== undefined && day.regularClose !== undefined && at < day.regularClose)
      return { open: day.regularOpen, close: day.regularClose };
    at = day.end;
  }
  throw new Error(`${calendar.id} has no regular session in the year after ${new Date(t).toISOString()}`);
}

/**
 * A seeded, reproducible multi-symbol market for demos and load tests. Each symbol's log price
 * follows geometric Brownian motion whose per-step variance is a GARCH(1,1) process (volatility
 * clustering: σ²ₜ = ω + α·r²ₜ₋₁ + β·σ²ₜ₋₁, reverting to the target volatility), plus occasional
 * normal jumps; traded volume per step follows an intraday U shape (high at the open and close).
 * Symbols take turns, one tick each per step; event times are simulated, so the same seed gives
 * the same ticks at any rate. With a US equity or index among the symbols, simulated time runs
 * through the exchange's regular sessions only: at the close it jumps to the next session's open
 * (nights, weekends and holidays skipped, where the processor would reject the ticks), and each
 * session starts a new day (day open, high, low and volume reset).
 */
export class SyntheticMarket implements MarketSource {
  readonly name: string;
  private readonly o: SyntheticOptions;

  constructor(o: SyntheticOptions) {
    if (o.symbols.length === 0) throw new Error('synthetic market needs at least one symbol');
    if (o.rate !== undefined && o.rate !== 'max' && !(o.rate > 0)) {
      throw new Error(`rate must be a positive number of events per second or "max", got ${o.rate}`);
    }
    this.o = o;
    this.name = `synthetic:${o.symbols.join(',')}#${o.seed ?? 1}`;
  }

  issues(): readonly SourceIssue[] {
    return [];
  }

  /** U-shaped intraday volume multiplier at fraction `x` ∈ [0, 1] of the session (mean ≈ 1). */
  static volumeShape(x: number): number {
    const c = Math.min(1, Math.max(0, x)) * 2 - 1;
    return 0.5 + 1.5 * c * c;
  }

  async *events(signal?: AbortSignal): AsyncGenerator<MarketEvent> {
    const o = this.o;
    const rnd = seededRandom(o.seed ?? 1);
    const stepMs = o.stepMs ?? 1_000;
    const start = o.start ?? Date.parse('2024-10-02T13:30:00Z');
    const sessionMs = o.sessionMs ?? 6.5 * 3_600_000;
    const dt = stepMs / 1000 / YEAR_SECONDS;
    const targetVar = (o.annualVolatility ?? 0.25) ** 2 * dt;
    const alpha = o.garch?.alpha ?? 0.08;
    const beta = o.garch?.beta ?? 0.9;
    if (alpha < 0 || beta < 0 || alpha + beta >= 1)
      throw new Error('GARCH needs alpha ≥ 0, beta ≥ 0 and alpha + beta < 1');
    const omega = targetVar * (1 - alpha - beta);
    const jumpP = o.jumps?.probability ?? 1e-4;
    const jumpSigma = o.jumps?.sigma ?? 0.01;
    const states: SymbolState[] = o.symbols.map((symbol) => {
      const price = Math.round((20 + rnd() * 480) * 100) / 100;
      return {
        symbol,
        price,
        variance: targetVar,
        lastReturn: 0,
        dayOpen: price,
        dayHigh: price,
        dayLow: price,
        dayVolume: 0,
        baseVolume: 50 + Math.floor(rnd() * 500),
      };
    });
    const rate = o.rate ?? 'max';
    const clock = o.clock ?? Date.now;
    // The pause between ticks ends at once when the signal aborts (at a low rate, seconds).
    const wait =
      o.sleep ?? ((ms: number) => (signal ? delay(ms, undefined, { signal }).catch(() => {}) : sleep(ms)));
    const w0 = clock();
    let emitted = 0;
    const exchange = o.symbols.map(calendarForSymbol).find((c) => c.hasSessions);
    let session = exchange ? regularSessionFrom(exchange, start) : undefined;
    for (let t = session ? Math.max(start, session.open) : start; ; t += stepMs) {
      if (exchange && session && t >= session.close) {
        session = regularSessionFrom(exchange, t);
        t = session.open;
        for (const s of states) {
          s.dayOpen = s.dayHigh = s.dayLow = Math.round(s.price * 10_000) / 10_000;
          s.dayVolume = 0;
        }
      }
      const shape = SyntheticMarket.volumeShape(
        session ? (t - session.open) / (session.close - session.open) : ((t - start) % sessionMs) / sessionMs,
      );
      for (const s of states) {
        if (signal?.aborted || (o.count !== undefined && emitted >= o.count)) return;
        s.variance = omega + alpha * s.lastReturn * s.lastReturn + beta * s.variance;
        let r = Math.sqrt(s.variance) * normal(rnd);
        s.lastReturn = r;
        if (rnd() < jumpP) r += jumpSigma * normal(rnd);
        s.price = Math.max(0.01, s.price * Math.exp(r - s.variance / 2));
        const volume = Math.max(0, Math.round(s.baseVolume * shape * (0.5 + rnd())));
        s.dayVolume += volume;
        s.dayHigh = Math.max(s.dayHigh, s.price);
        s.dayLow = Math.min(s.dayLow, s.price);
        const tick: Tick = {
          symbol: s.symbol,
          time: t,
          price: Math.round(s.price * 10_000) / 10_000,
          dayOpen: s.dayOpen,
          dayHigh: Math.round(s.dayHigh * 10_000) / 10_000,
          dayLow: Math.round(s.dayLow * 10_000) / 10_000,
          dayVolume: s.dayVolume,
          currency: 'USD',
          source: 'synthetic',
        };
        if (rate !== 'max') {
          const pause = w0 + (emitted * 1000) / rate - clock();
          if (pause > 0) {
            await wait(pause);
            if (signal?.aborted) return;
          }
        }
        emitted++;
        yield { kind: 'tick', tick };
      }
    }
  }
}
