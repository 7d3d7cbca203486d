import {
  assetClassOf,
  type Bar,
  formatIssues,
  type MarketState,
  MarketStateSchema,
  ONE_MINUTE_MS,
  type Session,
  type Tick,
  validateBar,
  validateTick,
} from '../../domain/market/index.ts';
import type { SourceIssue } from '../../ports/market-source.ts';

/** Yahoo returns times as Date (after the library's coercion) or epoch seconds (raw). */
export function yahooTime(v: unknown): number | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? v * 1000 : v;
  if (typeof v === 'string' && v !== '') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Yahoo's chart API holds prices as 32-bit floats: a bar that closed at 225.7 arrives as
 * 225.6999969482422, one at 223.9217 as 223.9217071533203. A number that is exactly a 32-bit float
 * becomes the shortest decimal that is the same 32-bit float (225.7, 223.9217): the price as
 * quoted (data/samples/aapl-2024-10-02.csv, flattened from a recorded chart, holds these
 * decimals). Where two decimals of as many digits are the same 32-bit float (above about 1,000
 * with four decimals), the nearer one: Yahoo kept no more than that. Any other value (a 64-bit
 * price, as the quote API sends) is returned as it is.
 */
export function fromFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0 || Math.fround(x) !== x) return x;
  // Nine significant digits always give a 32-bit float back; fewer usually do.
  for (let digits = 1; digits < 9; digits++) {
    const decimal = Number(x.toPrecision(digits));
    if (Math.fround(decimal) === x) return decimal;
  }
  return Number(x.toPrecision(9));
}

const chartPrice = (v: unknown): unknown => (typeof v === 'number' ? fromFloat32(v) : v);

type Raw = Record<string, unknown>;

/**
 * Yahoo's codes for prices quoted in a currency's minor unit: London in pence (`GBp`),
 * Johannesburg in cents (`ZAc`). Their codes in the market's own convention (the London Stock
 * Exchange's GBX), never the major unit's: upper-cased, `GBp` would read as pounds, 100 times the price.
 */
const MINOR_UNITS: ReadonlyMap<string, string> = new Map([
  ['GBp', 'GBX'],
  ['ZAc', 'ZAC'],
]);

/** The tick's currency for Yahoo's `currency`: an upper-case code as it is, a minor unit by its own code, anything else none. */
function currencyOf(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (/^[A-Z]{3}$/.test(v)) return v;
  return MINOR_UNITS.get(v);
}

/**
 * One Yahoo quote to a Tick. The price and time are those of the latest trade Yahoo reports:
 * the regular session's, or the pre/post-market one when it is more recent. Day fields are the
 * regular session's of the tick's trading day: a pre-market tick has none yet (only its previous
 * close, the last session's). Never throws: an unusable quote yields its issues.
 */
export function quoteToTick(
  q: Raw,
  now: number = Date.now(),
): { ok: true; tick: Tick } | { ok: false; issue: SourceIssue } {
  const symbol = typeof q.symbol === 'string' ? q.symbol : undefined;
  const lastClose = num(q.regularMarketPrice);
  let price = lastClose;
  let time = yahooTime(q.regularMarketTime);
  let preMarket = false;
  for (const [p, t] of [
    ['preMarketPrice', 'preMarketTime'],
    ['postMarketPrice', 'postMarketTime'],
  ] as const) {
    const pp = num(q[p]);
    const pt = yahooTime(q[t]);
    if (pp !== undefined && pt !== undefined && (time === undefined || pt > time)) {
      price = pp;
      time = pt;
      preMarket = p === 'preMarketPrice';
    }
  }
  // Before the open Yahoo's regular* fields are still the last session's: its open, range and
  // volume, regularMarketPrice its close, and regularMarketPreviousClose the close before that.
  // A pre-market trade belongs to the next trading day: no day fields yet, and its previous close
  // is that last session's close.
  const day = preMarket
    ? {
        dayOpen: undefined,
        dayHigh: undefined,
        dayLow: undefined,
        previousClose: lastClose,
        dayVolume: undefined,
      }
    : {
        dayOpen: num(q.regularMarketOpen),
        dayHigh: num(q.regularMarketDayHigh),
        dayLow: num(q.regularMarketDayLow),
        previousClose: num(q.regularMarketPreviousClose),
        // A cryptocurrency's regularMarketVolume is its rolling 24-hour volume (it equals
        // volume24Hr), not a counter that grows through a day: bars built from quotes cannot take
        // their volume from it (each dip would read as a reset and give one bar a whole day's volume).
        dayVolume: q.quoteType === 'CRYPTOCURRENCY' ? undefined : num(q.regularMarketVolume),
      };
  const marketState =
    typeof q.marketState === 'string' && MarketStateSchema.safeParse(q.marketState).success
      ? (q.marketState as MarketState)
      : undefined;
  const candidate = {
    symbol,
    time,
    price,
    ...day,
    currency: currencyOf(q.currency),
    marketState,
    source: 'yahoo' as const,
  };
  // Drop optional fields Yahoo did not send (reduced-field responses) or sent as 0 where the
  // schema wants a positive price (Yahoo reports 0 for "unknown" on some instruments).
  for (const k of ['dayOpen', 'dayHigh', 'dayLow', 'previousClose'] as const) {
    if (candidate[k] === undefined || candidate[k] === 0) delete candidate[k];
  }
  for (const k of ['dayVolume', 'currency', 'marketState'] as const) {
    if (candidate[k] === undefined) delete candidate[k];
  }
  const r = validateTick(candidate, now);
  if (r.ok) return { ok: true, tick: r.value };
  return {
    ok: false,
    issue: {
      ...(symbol ? { symbol } : {}),
      at: 'quote',
      reason: `unusable quote: ${formatIssues(r.issues)}`,
    },
  };
}

/** The parts of a Yahoo chart result this project reads (the library's `chart()` or the raw body). */
export interface ChartLike {
  readonly meta: Raw & { readonly symbol?: unknown; readonly tradingPeriods?: unknown };
  readonly quotes: readonly {
    readonly date: unknown;
    readonly open: unknown;
    readonly high: unknown;
    readonly low: unknown;
    readonly close: unknown;
    readonly volume: unknown;
  }[];
}

interface Period {
  readonly start: number;
  readonly end: number;
  readonly session: Session;
}

function periodsOf(tp: unknown, fallback: Session): Period[] {
  const out: Period[] = [];
  const add = (p: unknown, session: Session) => {
    if (Array.isArray(p)) {
      for (const x of p) add(x, session);
      return;
    }
    if (p && typeof p === 'object') {
      const start = yahooTime((p as Raw).start);
      const end = yahooTime((p as Raw).end);
      if (start !== undefined && end !== undefined) out.push({ start, end, session });
    }
  };
  if (Array.isArray(tp)) add(tp, fallback);
  else if (tp && typeof tp === 'object') {
    const o = tp as Raw;
    add(o.pre, 'pre');
    add(o.regular, 'regular');
    add(o.post, 'post');
  }
  return out;
}

/** A Yahoo chart response in raw JSON (`{chart:{result:[…]}}`) to the library's shape. */
export function rawChartToChartLike(body: unknown): ChartLike {
  const result = (body as { chart?: { result?: unknown[]; error?: unknown } })?.chart?.result?.[0] as
    | Raw
    | undefined;
  if (!result || typeof result !== 'object')
    throw new Error('not a Yahoo chart response: chart.result[0] missing');
  const meta = (result.meta ?? {}) as ChartLike['meta'];
  const ts = Array.isArray(result.timestamp) ? (result.timestamp as unknown[]) : [];
  const q = ((result.indicators as Raw | undefined)?.quote as Raw[] | undefined)?.[0] ?? {};
  const col = (k: string) => (Array.isArray(q[k]) ? (q[k] as unknown[]) : []);
  const [open, high, low, close, volume] = ['open', 'high', 'low', 'close', 'volume'].map(col);
  return {
    meta,
    quotes: ts.map((t, i) => ({
      date: t,
      open: open?.[i] ?? null,
      high: high?.[i] ?? null,
      low: low?.[i] ?? null,
      close: close?.[i] ?? null,
      volume: volume?.[i] ?? null,
    })),
  };
}

export interface ChartBars {
  readonly bars: Bar[];
  readonly issues: SourceIssue[];
  /** Bars Yahoo returned with no prices (all-null), dropped. */
  readonly nullBars: number;
  /** Bars dropped as not (yet) complete or outside the trading periods (the trailing price bar). */
  readonly incompleteBars: number;
}

/**
 * 1-minute bars from a Yahoo chart. Dropped: all-null bars, bars not aligned to a minute, bars
 * outside the trading periods Yahoo lists (its trailing "current price" bar; not for crypto, FX
 * and futures, whose periods Yahoo ends at 23:59:00 though they trade on), bars still in
 * progress at `now` (start + 1 min > now), and bars at or before `after` (the cursor). Rows are
 * taken in time order whatever order Yahoo lists them in; a minute listed twice is reported as an
 * issue and its first row kept.
 * `sessionFor` labels bars when Yahoo's trading periods do not.
 */
export function chartToBars(
  chart: ChartLike,
  opts: {
    readonly now?: number;
    readonly after?: number;
    readonly symbol?: string;
    readonly source?: Bar['source'];
    readonly sessionFor: (symbol: string, start: number) => Session;
  },
): ChartBars {
  const now = opts.now ?? Date.now();
  const symbol = opts.symbol ?? (typeof chart.meta.symbol === 'string' ? chart.meta.symbol : undefined);
  const issues: SourceIssue[] = [];
  if (!symbol)
    return {
      bars: [],
      issues: [{ at: 'chart', reason: 'chart has no symbol' }],
      nullBars: 0,
      incompleteBars: 0,
    };
  const periods = periodsOf(chart.meta.tradingPeriods, 'regular');
  const tradesAroundTheClock = assetClassOf(symbol) !== 'equity' && assetClassOf(symbol) !== 'index';
  const bars: Bar[] = [];
  let nullBars = 0;
  let incompleteBars = 0;
  const after = opts.after ?? Number.NEGATIVE_INFINITY;
  // In time order (stable; rows without a time last): a row listed after a later one would
  // otherwise be taken for one at or before the cursor and lost once the cursor moved past it.
  const rows = chart.quotes
    .map((q) => ({ q, start: yahooTime(q.date) }))
    .sort((a, b) =>
      a.start === undefined
        ? b.start === undefined
          ? 0
          : 1
        : b.start === undefined
          ? -1
          : a.start - b.start,
    );
  let previous: number | undefined;
  for (const { q, start } of rows) {
    const fields = [q.open, q.high, q.low, q.close];
    if (fields.every((f) => f === null || f === undefined)) {
      nullBars++;
      continue;
    }
    if (start === undefined || start % ONE_MINUTE_MS !== 0 || start + ONE_MINUTE_MS > now) {
      incompleteBars++;
      continue;
    }
    let session: Session | undefined;
    // A market without sessions (crypto, FX, futures) trades through Yahoo's periods, which end a
    // minute early there ([00:00, 23:59:00] a day for crypto and FX): they would drop each day's
    // 23:59 bar, and the cursor would then move past it for good. (A listing abroad, also without
    // a session here, keeps Yahoo's periods: they are its exchange's hours.)
    const continuous = opts.sessionFor(symbol, start) === 'none';
    if (periods.length > 0 && !tradesAroundTheClock) {
      const p = periods.find((x) => start >= x.start && start < x.end);
      if (!p) {
        incompleteBars++;
        continue;
      }
      session = p.session;
    }
    if (start <= after) continue;
    if (start === previous) {
      issues.push({
        symbol,
        at: `bar ${new Date(start).toISOString()}`,
        reason: 'Yahoo listed this minute twice: the first row is kept, this one dropped',
      });
      continue;
    }
    previous = start;
    const candidate = {
      symbol,
      start,
      interval: '1m',
      open: chartPrice(q.open),
      high: chartPrice(q.high),
      low: chartPrice(q.low),
      close: chartPrice(q.close),
      volume: q.volume ?? 0,
      session: continuous ? 'none' : (session ?? opts.sessionFor(symbol, start)),
      source: opts.source ?? 'yahoo',
    };
    const r = validateBar(candidate, now);
    if (!r.ok) {
      issues.push({ symbol, at: `bar ${new Date(start).toISOString()}`, reason: formatIssues(r.issues) });
      continue;
    }
    bars.push(r.value);
  }
  return { bars, issues, nullBars, incompleteBars };
}
