import type { CursorStore } from '../../ports/cursor-store.ts';
import type { EventPublisher, PublishReport } from '../../ports/event-publisher.ts';
import type { BarFeed, FeedFailure, SourceIssue } from '../../ports/market-source.ts';
import { cursorStoreFailure, firstUndeliveredBars, MAX_BAR_WINDOW_MS } from './poll.ts';

export interface BackfillOptions {
  readonly symbols: readonly string[];
  /** Start and end of the range (epoch ms), already checked and clamped by the caller. */
  readonly from: number;
  readonly to: number;
  /**
   * How far back the source keeps 1-minute bars (Yahoo: YAHOO_1M_HISTORY_MS). A window is asked for
   * from no earlier than that, measured when it is asked for: a long run would otherwise ask, for a
   * range starting at the edge, for a start the source has dropped meanwhile, and be refused.
   */
  readonly historyMs?: number;
  /** Symbols backfilled at a time (default 1: one after another). */
  readonly concurrency?: number;
}

/** Yahoo keeps about 30 days of 1-minute bars and refuses a request that starts earlier. */
export const YAHOO_1M_HISTORY_MS = 30 * 24 * 3_600_000;

export interface BackfillDeps {
  readonly barFeed: BarFeed;
  readonly publisher: EventPublisher;
  /** With `--update-cursor`: each symbol's bar cursor is moved past its delivered bars. */
  readonly cursors?: CursorStore;
  /** Called after each window of each symbol (the progress bar), with the bars published so far. */
  readonly onWindow?: (p: { readonly symbol: string; readonly bars: number }) => void;
  /** The wall clock (default Date.now), for `historyMs`. */
  readonly clock?: () => number;
}

export interface BackfillResult {
  /** The windows requested for each symbol, in order ([from, to) epoch ms). */
  readonly windows: readonly (readonly [number, number])[];
  /** Bars handed to the publisher. */
  readonly bars: number;
  /** What the stream took and did not take (one flush at the end). */
  readonly report: PublishReport;
  /** Yahoo requests that failed after retries, and cursor-store errors. */
  readonly failures: readonly FeedFailure[];
  /** Rejected data (e.g. a minute listed twice). */
  readonly issues: readonly SourceIssue[];
  /**
   * Per symbol whose window Yahoo failed to serve: that window and the later ones, not fetched (a
   * re-run from `from` sends them in order; sent after the later bars, they would be refused as late).
   */
  readonly notFetched: readonly NotFetched[];
  /** With a cursor store: the symbols whose cursor was advanced, with the value asked for. */
  readonly cursors: Readonly<Record<string, number>>;
}

/** A symbol's windows left out after one Yahoo failed to serve: [`from`, `to`) is not on the stream. */
export interface NotFetched {
  readonly symbol: string;
  /** Where the failed request started: its window's start, or the oldest minute Yahoo still kept. */
  readonly from: number;
  /** End of the range. */
  readonly to: number;
}

/** The range cut into windows Yahoo serves in one request (at most 8 days of 1-minute bars). */
export function backfillWindows(from: number, to: number): [number, number][] {
  const windows: [number, number][] = [];
  for (let a = from; a < to; a += MAX_BAR_WINDOW_MS) windows.push([a, Math.min(to, a + MAX_BAR_WINDOW_MS)]);
  return windows;
}

/** Symbols backfilled at a time by default (`--concurrency`). */
export const DEFAULT_BACKFILL_CONCURRENCY = 4;

/** What one symbol's windows gave. */
interface SymbolOutcome {
  readonly failures: FeedFailure[];
  readonly issues: SourceIssue[];
  notFetched?: NotFetched;
  lastBar?: number;
}

/**
 * Backfills 1-minute bars (`npm run backfill`): up to `concurrency` symbols at a time, each symbol's
 * windows one after another in time order, each window asked for after the symbol's last bar so far
 * (bars never overlap between windows); everything published, then flushed once. A symbol's bars go
 * to the publisher in time order (its queue keeps them so whatever else is published meanwhile); the
 * results are listed in the order of `symbols`. A Yahoo failure for one symbol does not stop the
 * others; it ends that symbol's range there (its later windows are not fetched, see `notFetched`), a
 * "No data found" answer included (a window with no trading is an empty chart, not a failure).
 * With a cursor store, each symbol's cursor is advanced to its last bar, or up to the first bar the
 * stream did not take (the publisher is expected to hold a symbol's later bars after that one).
 */
export async function backfill(options: BackfillOptions, d: BackfillDeps): Promise<BackfillResult> {
  // A symbol named twice is backfilled once: twice, its bars would be fetched and published twice.
  const o: BackfillOptions = { ...options, symbols: [...new Set(options.symbols)] };
  const windows = backfillWindows(o.from, o.to);
  let bars = 0;

  const backfillSymbol = async (symbol: string): Promise<SymbolOutcome> => {
    const out: SymbolOutcome = { failures: [], issues: [] };
    for (const [a, b] of windows) {
      if (out.notFetched) {
        d.onWindow?.({ symbol, bars });
        continue;
      }
      // The oldest minute the source still keeps, now (a minute of margin for the request's trip).
      const oldest = o.historyMs === undefined ? a : (d.clock ?? Date.now)() - o.historyMs + 60_000;
      const start = Math.max(a, oldest);
      if (start > a) {
        out.issues.push({
          symbol,
          at: 'bars',
          reason: `bars from ${new Date(a).toISOString()} to ${new Date(Math.min(start, b)).toISOString()} are no longer kept by the source (older than its 1-minute history): skipped`,
        });
      }
      if (start >= b) {
        d.onWindow?.({ symbol, bars });
        continue;
      }
      const r = await d.barFeed.bars(symbol, {
        from: start,
        to: b,
        ...(out.lastBar !== undefined ? { after: out.lastBar } : {}),
      });
      if (r.failure) {
        out.failures.push(r.failure);
        // Bars of this window that Yahoo did not serve would, sent after the later windows' bars, be
        // refused as late: the symbol stops here, so a re-run from this window sends them in order.
        // "No data found" (404) too: a window with no trading is an empty chart (200), not that
        // answer, which Yahoo also gives a known symbol when it fails a request.
        out.notFetched = { symbol, from: start, to: o.to };
      }
      out.issues.push(...r.issues);
      for (const x of r.bars) {
        await d.publisher.publish({ kind: 'bar', bar: x });
        out.lastBar = x.start;
        bars++;
      }
      d.onWindow?.({ symbol, bars });
    }
    return out;
  };

  // A small pool: each worker takes the next symbol not started. One that throws (not a Yahoo
  // failure: those are results) stops the others from starting more, and is thrown.
  const outcomes: SymbolOutcome[] = new Array(o.symbols.length);
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < o.symbols.length) {
      const i = next++;
      try {
        outcomes[i] = await backfillSymbol(o.symbols[i]!);
      } catch (err) {
        stopped = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(o.concurrency ?? 1, o.symbols.length));
  await Promise.all(Array.from({ length: workers }, worker));

  const failures = outcomes.flatMap((x) => x.failures);
  const issues = outcomes.flatMap((x) => x.issues);
  const notFetched = outcomes.flatMap((x) => (x.notFetched ? [x.notFetched] : []));
  const lastBar = new Map<string, number>();
  for (const [i, x] of outcomes.entries()) if (x.lastBar !== undefined) lastBar.set(o.symbols[i]!, x.lastBar);
  const report = await d.publisher.flush();
  const cursors: Record<string, number> = {};
  if (d.cursors) {
    const firstFailed = firstUndeliveredBars(report.failed);
    for (const [symbol, last] of lastBar) {
      const failed = firstFailed.get(symbol);
      const stop = failed !== undefined ? failed - 60_000 : last;
      if (stop > 0 && stop <= last) {
        try {
          await d.cursors.advance(symbol, 'bars-1m', stop);
          cursors[symbol] = stop;
        } catch (err) {
          // Reported with the rest (what was delivered is known by now), not thrown past the summary.
          failures.push(
            cursorStoreFailure(
              symbol,
              `cannot advance the bar cursor to ${new Date(stop).toISOString()}`,
              err,
            ),
          );
        }
      }
    }
  }
  return { windows, bars, report, failures, issues, notFetched, cursors };
}

/**
 * Where each symbol left out in part must be backfilled again from, grouped by that instant (in
 * time order): its first bar the stream did not take (the publisher held its later bars) or the
 * start of its window Yahoo failed to serve, whichever is earlier. Started later, a re-run would
 * send bars ahead of the ones before them, which the processor then skips as already covered.
 */
function rerunStarts(o: BackfillOptions, r: BackfillResult): [number, string[]][] {
  const start = firstUndeliveredBars(r.report.failed);
  for (const n of r.notFetched) start.set(n.symbol, Math.min(n.from, start.get(n.symbol) ?? n.from));
  const groups = new Map<number, string[]>();
  for (const symbol of o.symbols) {
    const from = start.get(symbol);
    if (from !== undefined) groups.set(from, [...(groups.get(from) ?? []), symbol]);
  }
  return [...groups].sort(([a], [b]) => a - b);
}

/**
 * What `npm run backfill` prints to stderr at the end, and its exit code. `flags`: the run's other
 * options (`--update-cursor`, `--dry-run`, `--concurrency N`), repeated in the re-run command.
 */
export function backfillSummary(
  o: BackfillOptions,
  r: BackfillResult,
  flags: readonly string[] = [],
): { readonly lines: readonly string[]; readonly exitCode: 0 | 1 } {
  const lines: string[] = [];
  for (const f of r.failures) lines.push(`failed: ${f.symbol ?? ''} ${f.reason}`);
  for (const n of r.notFetched) {
    lines.push(
      `not fetched: ${n.symbol} from ${new Date(n.from).toISOString()} to ${new Date(n.to).toISOString()} (that window failed)`,
    );
  }
  for (const i of r.issues.slice(0, 20)) lines.push(`rejected: ${i.symbol ?? ''} ${i.at ?? ''} ${i.reason}`);
  for (const f of r.report.failed.slice(0, 20)) lines.push(`not delivered: ${f.reason}`);
  for (const [from, symbols] of rerunStarts(o, r)) {
    lines.push(
      `re-run: npm run backfill -- --symbols ${symbols.join(',')} --from ${new Date(from).toISOString()} --to ${new Date(o.to).toISOString()}${flags.map((f) => ` ${f}`).join('')}`,
    );
  }
  lines.push(
    `done: ${r.bars} bars for ${o.symbols.length} symbol(s) from ${new Date(o.from).toISOString()} to ${new Date(o.to).toISOString()}, ` +
      `${r.report.delivered} delivered in ${r.report.calls} PutRecords calls, ${r.report.failed.length} not delivered, ${r.failures.length} failed requests`,
  );
  return { lines, exitCode: r.failures.length > 0 || r.report.failed.length > 0 ? 1 : 0 };
}
