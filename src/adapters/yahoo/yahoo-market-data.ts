import YahooFinance from 'yahoo-finance2';
import { ExtendedCookieJar } from 'yahoo-finance2/lib/cookieJar';
import type { Bar, Session, Tick } from '../../domain/market/index.ts';
import { type BackoffOptions, errorMessage, retry } from '../../pipeline/ingest/backoff.ts';
import { sessionOf } from '../../pipeline/ingest/market-hours.ts';
import type { SourceIssue } from '../../ports/market-source.ts';
import { type ChartLike, chartToBars, quoteToTick } from './map.ts';

/** The two Yahoo calls this project makes, as the library exposes them. */
export interface YahooApi {
  quote(symbols: string[], opts: { return: 'array' }): Promise<unknown[]>;
  chart(
    symbol: string,
    opts: { period1: Date; period2: Date; interval: '1m'; includePrePost: boolean },
  ): Promise<ChartLike>;
}

export interface YahooClientOptions {
  /** Replaces `globalThis.fetch` (tests serve recorded responses through it). */
  readonly fetch?: typeof fetch;
  /** Per HTTP request; a request that takes longer is aborted and counts as a timeout. */
  readonly timeoutMs?: number;
  /** Where the library's own log lines go (default: dropped at debug/info, kept at warn/error). */
  readonly logger?: { warn(...a: unknown[]): void; error(...a: unknown[]): void };
}

/**
 * A fresh `yahoo-finance2` client: the given fetch with a per-request timeout, notices and the
 * version check off, validation errors thrown (not printed).
 */
export function createYahooClient(o: YahooClientOptions = {}): YahooApi {
  const base = o.fetch ?? globalThis.fetch;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const timedFetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const res = await base(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    // yahoo-finance2 turns a JSON error body (`{"chart":{"error":{…}}}`) into an Error without the
    // HTTP status, so a 5xx with one would be classed 'other'. Keep the status for the classifier.
    if (res.status >= 500) throw await serverError(res);
    return res;
  }) as typeof fetch;
  const quiet = () => {};
  const yf = new YahooFinance({
    fetch: timedFetch,
    // A jar per client (the library's default jar is shared by every instance in the process), so a
    // new client after a crumb/cookie failure really starts a new Yahoo session.
    cookieJar: new ExtendedCookieJar(),
    suppressNotices: ['yahooSurvey', 'ripHistorical'],
    versionCheck: false,
    validation: { logErrors: false },
    logger: {
      info: quiet,
      debug: quiet,
      dir: quiet,
      warn: (...a: unknown[]) => o.logger?.warn(...a),
      error: (...a: unknown[]) => o.logger?.error(...a),
    },
  });
  return yf as unknown as YahooApi;
}

/** A Yahoo 5xx as yahoo-finance2 reports one without a JSON body: an `HTTPError` whose `code` is the status. */
async function serverError(res: Response): Promise<Error> {
  const text = (await res.text().catch(() => '')).trim();
  let detail = text.slice(0, 300);
  try {
    const j = JSON.parse(text) as Record<string, { error?: { description?: unknown } } | undefined>;
    const description = Object.values(j)[0]?.error?.description;
    if (typeof description === 'string') detail = description;
  } catch {
    // not JSON: the text itself
  }
  const status = [String(res.status), res.statusText].filter(Boolean).join(' ');
  const message = detail ? `${status}: ${detail}` : status;
  return Object.assign(new Error(message), { name: 'HTTPError', code: res.status });
}

export type YahooFailureKind =
  | 'rate-limit'
  | 'crumb'
  | 'validation'
  | 'timeout'
  | 'server'
  | 'network'
  | 'not-found'
  | 'other';

/** Classifies a Yahoo failure for retries, logs and metrics. */
export function classifyYahooError(err: unknown): { kind: YahooFailureKind; retryable: boolean } {
  const e = err as { name?: string; message?: string; code?: unknown; cause?: unknown } | undefined;
  const name = e?.name ?? '';
  const msg = (e?.message ?? String(err)).toLowerCase();
  const status = typeof e?.code === 'number' ? e.code : undefined;
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    msg.includes('timeout') ||
    msg.includes('timed out')
  ) {
    return { kind: 'timeout', retryable: true };
  }
  if (status === 429 || msg.includes('too many requests')) return { kind: 'rate-limit', retryable: true };
  if (msg.includes('crumb') || msg.includes('cookie') || status === 401 || msg.includes('unauthorized')) {
    return { kind: 'crumb', retryable: true };
  }
  if (name === 'FailedYahooValidationError' || msg.includes('validat'))
    return { kind: 'validation', retryable: true };
  if (status !== undefined && status >= 500) return { kind: 'server', retryable: true };
  if (status === 404 || msg.includes('not found') || msg.includes('no data found')) {
    return { kind: 'not-found', retryable: false };
  }
  if (
    name === 'BadRequestError' ||
    name === 'InvalidOptionsError' ||
    (status !== undefined && status >= 400)
  ) {
    return { kind: 'other', retryable: false };
  }
  if (name === 'TypeError' || msg.includes('fetch failed') || msg.includes('econn')) {
    return { kind: 'network', retryable: true };
  }
  return { kind: 'other', retryable: true };
}

/**
 * Failures a symbol of a batched request can cause (a quote that fails validation, an error status
 * Yahoo gives for one symbol): worth asking each symbol alone. The others (rate-limit, timeout,
 * network, crumb) are about Yahoo or the connection, whatever the symbols.
 */
const SYMBOL_SPECIFIC: ReadonlySet<YahooFailureKind> = new Set([
  'validation',
  'server',
  'not-found',
  'other',
]);

/** One failed Yahoo request for a symbol (after retries), for logs and metrics. */
export interface YahooFailure extends SourceIssue {
  readonly kind: YahooFailureKind;
  readonly attempts: number;
}

export interface YahooMarketDataOptions {
  /** Builds a client; called again after a crumb/cookie failure so the retry starts a fresh session. */
  readonly client: () => YahooApi;
  readonly backoff: BackoffOptions;
  /** Called on every retry (for logs). */
  readonly onRetry?: (info: {
    symbols: string[];
    call: 'quote' | 'chart';
    attempt: number;
    delayMs: number;
    error: string;
  }) => void;
  readonly sessionFor?: (symbol: string, start: number) => Session;
  readonly now?: () => number;
  /** The clock a request's deadline is read against (default Date.now). */
  readonly clock?: () => number;
}

export interface QuotesResult {
  readonly ticks: Tick[];
  readonly issues: SourceIssue[];
  readonly failures: YahooFailure[];
  /** HTTP-level quote calls attempted (including retries). */
  readonly requests: number;
}

export interface BarsResult {
  readonly bars: Bar[];
  readonly issues: SourceIssue[];
  readonly failure?: YahooFailure;
  readonly nullBars: number;
  readonly incompleteBars: number;
}

/** Yahoo Finance as a market-data source: batched quotes and 1-minute candles, retried and isolated per symbol. */
export class YahooMarketData {
  private api: YahooApi | undefined;
  private readonly o: YahooMarketDataOptions;

  constructor(o: YahooMarketDataOptions) {
    this.o = o;
  }

  private client(): YahooApi {
    this.api ??= this.o.client();
    return this.api;
  }

  private async call<T>(
    call: 'quote' | 'chart',
    symbols: string[],
    fn: (api: YahooApi) => Promise<T>,
    deadline: number | undefined,
  ): Promise<
    { ok: true; value: T; attempts: number } | { ok: false; failure: YahooFailure; attempts: number }
  > {
    const out = await retry(
      () => fn(this.client()),
      (err) => classifyYahooError(err).retryable,
      this.o.backoff,
      (err, attempt, delayMs) => {
        // A crumb/cookie failure: drop the session so the retry fetches a new cookie and crumb.
        if (classifyYahooError(err).kind === 'crumb') this.api = undefined;
        this.o.onRetry?.({ symbols, call, attempt, delayMs, error: errorMessage(err) });
      },
      { ...(deadline !== undefined ? { deadline } : {}), ...(this.o.clock ? { clock: this.o.clock } : {}) },
    );
    if (out.ok) return { ok: true, value: out.value as T, attempts: out.attempts };
    const kind = classifyYahooError(out.error).kind;
    return {
      ok: false,
      attempts: out.attempts,
      failure: {
        ...(symbols.length === 1 ? { symbol: symbols[0] } : {}),
        at: call,
        kind,
        attempts: out.attempts,
        reason: `${call} failed after ${out.attempts} attempt(s) (${kind}${out.outOfTime ? '; no time left in the poll for another try' : ''}): ${errorMessage(out.error)}`,
      },
    };
  }

  /**
   * Quotes for all symbols in one request (the library sends them as one `symbols=` list). If that
   * request keeps failing in a way a symbol can cause (validation, an error status), each symbol is
   * asked for on its own, so one bad symbol cannot starve the others; a rate limit, a timeout, a
   * network or crumb failure is reported once for the request (symbol: the list). A symbol missing
   * from the response or with an unusable quote is reported, not thrown.
   */
  async quotes(symbols: readonly string[], opts: { deadline?: number } = {}): Promise<QuotesResult> {
    const ticks: Tick[] = [];
    const issues: SourceIssue[] = [];
    const failures: YahooFailure[] = [];
    let requests = 0;
    if (symbols.length === 0) return { ticks, issues, failures, requests };
    const now = this.o.now?.() ?? Date.now();
    const take = (symbolsAsked: readonly string[], quotes: unknown[]) => {
      const seen = new Set<string>();
      for (const q of quotes) {
        if (!q || typeof q !== 'object') continue;
        const r = quoteToTick(q as Record<string, unknown>, now);
        const sym = (q as { symbol?: unknown }).symbol;
        if (typeof sym === 'string') seen.add(sym);
        if (r.ok) {
          if (symbolsAsked.includes(r.tick.symbol)) ticks.push(r.tick);
        } else issues.push(r.issue);
      }
      for (const s of symbolsAsked) {
        if (!seen.has(s))
          issues.push({ symbol: s, at: 'quote', reason: 'Yahoo returned no quote for this symbol' });
      }
    };
    const all = await this.call(
      'quote',
      [...symbols],
      (api) => api.quote([...symbols], { return: 'array' }),
      opts.deadline,
    );
    requests += all.attempts;
    if (all.ok) {
      take(symbols, all.value);
      return { ticks, issues, failures, requests };
    }
    if (symbols.length === 1) {
      failures.push({ ...all.failure, symbol: symbols[0] });
      return { ticks, issues, failures, requests };
    }
    if (!SYMBOL_SPECIFIC.has(all.failure.kind)) {
      // Rate limited, timed out, unreachable, no session: no symbol is to blame, and each one alone
      // would fail the same way, one retried request after another (under a 429, more requests;
      // against a Yahoo that hangs, each symbol's tries of a full timeout, past the invocation's
      // end). One failure for the one request, naming its symbols.
      failures.push({ ...all.failure, symbol: symbols.join(',') });
      return { ticks, issues, failures, requests };
    }
    // Isolate: one request per symbol.
    for (const s of symbols) {
      const one = await this.call('quote', [s], (api) => api.quote([s], { return: 'array' }), opts.deadline);
      requests += one.attempts;
      if (one.ok) take([s], one.value);
      else failures.push(one.failure);
    }
    return { ticks, issues, failures, requests };
  }

  /**
   * Completed 1-minute bars of `symbol` that start after `after` (epoch ms; the cursor), from
   * `from` (default: `after` + 1 min, or 1 hour ago) to before `to` (default now). Yahoo serves 1-minute history for
   * the last 30 days, at most 8 days per request.
   */
  async bars(
    symbol: string,
    opts: { after?: number; from?: number; to?: number; includePrePost?: boolean; deadline?: number } = {},
  ): Promise<BarsResult> {
    const now = this.o.now?.() ?? Date.now();
    const to = opts.to ?? now;
    const from = opts.from ?? (opts.after !== undefined ? opts.after + 60_000 : now - 3_600_000);
    // Nothing can have completed since the cursor: no request.
    if (to - from < 60_000) return { bars: [], issues: [], nullBars: 0, incompleteBars: 0 };
    const r = await this.call(
      'chart',
      [symbol],
      (api) =>
        api.chart(symbol, {
          period1: new Date(from),
          period2: new Date(to),
          interval: '1m',
          includePrePost: opts.includePrePost ?? false,
        }),
      opts.deadline,
    );
    if (!r.ok) return { bars: [], issues: [], failure: r.failure, nullBars: 0, incompleteBars: 0 };
    const out = chartToBars(r.value, {
      now,
      symbol,
      ...(opts.after !== undefined ? { after: opts.after } : {}),
      sessionFor: this.o.sessionFor ?? sessionOf,
    });
    // Yahoo appends a row at its latest market time whatever period2 asked for: a bar from outside
    // the range, possibly days later (published, it would run ahead of the range's later bars).
    const bars = out.bars.filter((b) => b.start < to);
    return { bars, issues: out.issues, nullBars: out.nullBars, incompleteBars: out.incompleteBars };
  }
}
