import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/yahoo/', import.meta.url));

/** The response body of a recorded yahoo-finance2 exchange (`bodyJson` or, in older files, `body`). */
export function recordedBody(file: string): string {
  const j = JSON.parse(readFileSync(FIXTURES + file, 'utf8')) as {
    response: { bodyJson?: unknown; body?: string };
  };
  return j.response.bodyJson !== undefined ? JSON.stringify(j.response.bodyJson) : (j.response.body ?? '');
}

export function recordedJson(file: string): Record<string, unknown> {
  return JSON.parse(recordedBody(file)) as Record<string, unknown>;
}

export type Route = 'cookie' | 'crumb' | 'quote' | 'chart';

/** A scripted failure for the next matching request. */
export type Fault = { status: number; body?: string } | { throws: Error };

/**
 * A fake Yahoo behind the library's injected fetch: serves the cookie and crumb handshake and the
 * recorded quote/chart bodies, keyed by the `symbols` query or the chart symbol. Faults queued per
 * route (or per symbol) are served first, so tests can script 429s, crumb failures and timeouts.
 */
export class RecordedYahoo {
  readonly requests: { route: Route; url: string }[] = [];
  private readonly quoteBodies = new Map<string, string>();
  private readonly chartBodies = new Map<string, string>();
  private readonly faults: { route: Route; symbol?: string; fault: Fault; times: number }[] = [];

  quote(symbols: string, file: string): this {
    this.quoteBodies.set(symbols, recordedBody(file));
    return this;
  }

  quoteBody(symbols: string, body: unknown): this {
    this.quoteBodies.set(symbols, JSON.stringify(body));
    return this;
  }

  chart(symbol: string, file: string): this {
    this.chartBodies.set(symbol, recordedBody(file));
    return this;
  }

  /** Serve `fault` for the next `times` requests of `route` (optionally only those naming `symbol`). */
  fail(route: Route, fault: Fault, times = 1, symbol?: string): this {
    this.faults.push({ route, fault, times, ...(symbol ? { symbol } : {}) });
    return this;
  }

  count(route: Route): number {
    return this.requests.filter((r) => r.route === route).length;
  }

  readonly fetch = (async (input: Parameters<typeof fetch>[0], _init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const route: Route | undefined =
      url.hostname === 'finance.yahoo.com'
        ? 'cookie'
        : url.pathname.endsWith('/getcrumb')
          ? 'crumb'
          : url.pathname.startsWith('/v7/finance/quote')
            ? 'quote'
            : url.pathname.startsWith('/v8/finance/chart/')
              ? 'chart'
              : undefined;
    if (!route) return new Response('not found', { status: 404 });
    this.requests.push({ route, url: url.href });
    const symbol =
      route === 'quote'
        ? (url.searchParams.get('symbols') ?? '')
        : route === 'chart'
          ? decodeURIComponent(url.pathname.split('/').pop() ?? '')
          : undefined;
    const fault = this.faults.find(
      (f) =>
        f.route === route && f.times > 0 && (f.symbol === undefined || symbol?.split(',').includes(f.symbol)),
    );
    if (fault) {
      fault.times--;
      if ('throws' in fault.fault) throw fault.fault.throws;
      return new Response(fault.fault.body ?? '', { status: fault.fault.status });
    }
    switch (route) {
      case 'cookie':
        return new Response('<html></html>', {
          status: 200,
          headers: { 'set-cookie': 'A3=d=recorded; Max-Age=31557600; Domain=.yahoo.com; Path=/; Secure' },
        });
      case 'crumb':
        return new Response('recordedCrumb', { status: 200 });
      case 'quote': {
        const body = this.quoteBodies.get(symbol ?? '');
        if (body === undefined) {
          return new Response(JSON.stringify({ quoteResponse: { result: [], error: null } }), {
            status: 200,
          });
        }
        return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
      }
      case 'chart': {
        const body = this.chartBodies.get(symbol ?? '');
        if (body === undefined) {
          return new Response(
            JSON.stringify({
              chart: {
                result: null,
                error: { code: 'Not Found', description: 'No data found, symbol may be delisted' },
              },
            }),
            { status: 404 },
          );
        }
        return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
      }
    }
  }) as typeof fetch;
}
