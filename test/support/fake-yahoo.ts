/**
 * Yahoo answered from RECORDED responses (test/fixtures/yahoo) behind the yahoo-finance2 client's
 * fetch: no request leaves the process.
 */
import { readFileSync } from 'node:fs';

export type Json = Record<string, unknown>;

/** The body of a recorded Yahoo response in test/fixtures/yahoo. */
export function recordedBody(file: string): Json {
  const j = JSON.parse(readFileSync(new URL(`../fixtures/yahoo/${file}`, import.meta.url), 'utf8')) as {
    response: { bodyJson?: Json; body?: string };
  };
  return j.response.bodyJson ?? (JSON.parse(j.response.body ?? '') as Json);
}

export type Served = { status: number; body: string };

/**
 * Yahoo as the yahoo-finance2 client sees it through its fetch: the cookie and crumb handshake,
 * /v7/finance/quote composed from per-symbol quote objects (symbols it does not know are left out,
 * as Yahoo does), /v8/finance/chart per symbol (404 "No data found" when unknown). Every request
 * is logged. Anything else answers 404; nothing goes to the network.
 */
export class FakeYahoo {
  readonly requests: { route: string; symbols: string[]; url: string }[] = [];
  readonly quotes = new Map<string, Json>();
  readonly charts = new Map<string, Served | ((url: URL) => Served)>();
  private readonly silent = new Set<'quote' | 'chart'>();

  quote(symbol: string, q: Json): this {
    this.quotes.set(symbol, q);
    return this;
  }

  /** What `symbol`'s chart requests get: a body, a response, or a response made for each request. */
  chart(symbol: string, body: Json | Served | ((url: URL) => Served)): this {
    this.charts.set(
      symbol,
      typeof body === 'function' || ('status' in body && 'body' in body)
        ? (body as Served | ((url: URL) => Served))
        : { status: 200, body: JSON.stringify(body) },
    );
    return this;
  }

  /**
   * Requests of `route` are logged and never answered, as by a Yahoo that hangs: each ends only
   * when the client aborts it (its timeout).
   */
  hang(route: 'quote' | 'chart'): this {
    this.silent.add(route);
    return this;
  }

  count(route: string, symbol?: string): number {
    return this.requests.filter((r) => r.route === route && (!symbol || r.symbols.includes(symbol))).length;
  }

  readonly fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const json = (status: number, body: string) =>
      new Response(body, { status, headers: { 'content-type': 'application/json;charset=utf-8' } });
    if (url.hostname === 'finance.yahoo.com') {
      this.requests.push({ route: 'cookie', symbols: [], url: url.href });
      return new Response('<html></html>', {
        status: 200,
        headers: { 'set-cookie': 'A3=d=recorded; Max-Age=31557600; Domain=.yahoo.com; Path=/; Secure' },
      });
    }
    if (url.pathname.endsWith('/getcrumb')) {
      this.requests.push({ route: 'crumb', symbols: [], url: url.href });
      return new Response('recordedCrumb', { status: 200 });
    }
    if (url.pathname === '/v7/finance/quote') {
      const symbols = (url.searchParams.get('symbols') ?? '').split(',').filter((s) => s !== '');
      this.requests.push({ route: 'quote', symbols, url: url.href });
      if (this.silent.has('quote')) return never(init?.signal);
      const result = symbols.flatMap((s) => this.quotes.get(s) ?? []);
      return json(200, JSON.stringify({ quoteResponse: { result, error: null } }));
    }
    if (url.pathname.startsWith('/v8/finance/chart/')) {
      const symbol = decodeURIComponent(url.pathname.slice('/v8/finance/chart/'.length));
      this.requests.push({ route: 'chart', symbols: [symbol], url: url.href });
      if (this.silent.has('chart')) return never(init?.signal);
      const chart = this.charts.get(symbol);
      const served = (typeof chart === 'function' ? chart(url) : chart) ?? {
        status: 404,
        body: JSON.stringify({
          chart: {
            result: null,
            error: { code: 'Not Found', description: 'No data found, symbol may be delisted' },
          },
        }),
      };
      return json(served.status, served.body);
    }
    this.requests.push({ route: 'other', symbols: [], url: url.href });
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
}

/** A response that never comes: rejects with the signal's reason when it aborts. */
function never(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
