import type { Bar, MarketEvent, Tick } from '../domain/market/index.ts';

/**
 * Something that was rejected or went wrong while reading a source, reported instead of thrown so
 * that one bad row or one failing symbol loses nothing else.
 */
export interface SourceIssue {
  /** The symbol concerned, when known. */
  readonly symbol?: string;
  /** Where in the input (e.g. `line 12`, `quote`, `chart`). */
  readonly at?: string;
  /** The field concerned, when the issue is about one field. */
  readonly field?: string;
  readonly reason: string;
}

/**
 * A source of market events: Yahoo, a replayed file, a synthetic market. It yields validated
 * events in event-time order per symbol. Iteration pulls: a slow consumer (the bounded publisher)
 * slows the source down, which is the back-pressure.
 */
export interface MarketSource {
  /** Human-readable description for logs, e.g. `replay:data/samples/aapl-2024-10-02.csv`. */
  readonly name: string;
  /** The events. Stops early, without error, when `signal` aborts. */
  events(signal?: AbortSignal): AsyncIterable<MarketEvent>;
  /** Issues found so far (rejected rows, failed symbols); a source may keep only the first ones. */
  issues(): readonly SourceIssue[];
  /** How many issues were found so far, when `issues()` keeps only the first ones. */
  rejectedCount?(): number;
}

/** How many issues a source found, those it did not keep included. */
export const issueCount = (s: MarketSource): number => s.rejectedCount?.() ?? s.issues().length;

/** A request that failed for good (after retries), for logs and metrics. */
export interface FeedFailure extends SourceIssue {
  /** e.g. rate-limit, crumb, validation, timeout, server, network, not-found. */
  readonly kind: string;
  readonly attempts: number;
}

/** Latest quotes for a list of symbols (Yahoo). Never throws for a symbol's failure: reports it. */
export interface QuoteFeed {
  /** `deadline` (epoch ms): no retry starts at or after it (the request fails instead). */
  quotes(
    symbols: readonly string[],
    opts?: { readonly deadline?: number },
  ): Promise<{
    readonly ticks: readonly Tick[];
    readonly issues: readonly SourceIssue[];
    readonly failures: readonly FeedFailure[];
  }>;
}

/** Completed 1-minute bars of one symbol after a cursor, or in a time range (Yahoo). */
export interface BarFeed {
  bars(
    symbol: string,
    opts: {
      readonly after?: number;
      readonly from?: number;
      readonly to?: number;
      /** Also the pre- and post-market minutes (US equities). */
      readonly includePrePost?: boolean;
      /** No retry starts at or after this instant (epoch ms): the request fails instead. */
      readonly deadline?: number;
    },
  ): Promise<{
    readonly bars: readonly Bar[];
    readonly issues: readonly SourceIssue[];
    readonly failure?: FeedFailure;
  }>;
}
