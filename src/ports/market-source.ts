import type { MarketEvent } from '../domain/market/index.ts';

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
  /** Issues found so far (rejected rows, failed symbols). */
  issues(): readonly SourceIssue[];
}
