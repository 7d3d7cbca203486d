import type { CursorStore } from '../../ports/cursor-store.ts';
import type { EventPublisher, FailedEvent } from '../../ports/event-publisher.ts';
import type { BarFeed, FeedFailure, QuoteFeed, SourceIssue } from '../../ports/market-source.ts';
import { errorMessage, sleep } from './backoff.ts';
import { isMarketOpen } from './market-hours.ts';

export type IngestMode = 'quotes' | 'bars' | 'both';

/** Yahoo serves at most 8 days of 1-minute bars per request (and 30 days back). */
export const MAX_BAR_WINDOW_MS = 7 * 24 * 3_600_000;

export interface PollOptions {
  readonly symbols: readonly string[];
  /** What this poll fetches: quotes, bars or both. */
  readonly quotes: boolean;
  readonly bars: boolean;
  readonly now: number;
  /** Equities also in pre/post market. */
  readonly extendedHours?: boolean;
  /** Poll symbols whose market is closed too. */
  readonly whenClosed?: boolean;
  /** First bar poll of a symbol without a cursor reaches this far back (default 60 min). */
  readonly lookbackMs?: number;
  /**
   * No symbol's bar request starts after this instant (epoch ms): the symbols not reached are
   * deferred to the next poll (their cursors untouched, nothing lost), so a slow Yahoo cannot keep
   * the poll running past the invocation's end. Checked before each symbol, and before each retry
   * of a quote or bar request (one that would start after it fails instead); absent: no limit.
   */
  readonly deadline?: number;
  /** The clock the deadline is read against (default Date.now). */
  readonly clock?: () => number;
}

export interface PollDeps {
  readonly quoteFeed: QuoteFeed;
  readonly barFeed: BarFeed;
  readonly cursors: CursorStore;
  readonly publisher: EventPublisher;
  /**
   * Per symbol, the time of the last quote the stream took, kept between polls (for the life of a
   * warm Lambda container): a quote no newer than it (nothing traded since; Yahoo serves the same
   * quote at every poll, and all night with whenClosed) is not sent again, only counted. Absent:
   * every quote is sent.
   */
  readonly quoteTimes?: Map<string, number>;
}

export interface PollResult {
  /** Symbols polled for quotes (market open) or bars (open, or closed in the last minutes). */
  readonly polled: readonly string[];
  /** Symbols skipped because their market is closed. */
  readonly skippedClosed: readonly string[];
  readonly ticksPublished: number;
  /** Quotes not sent because they were no newer than the last one the stream took (see quoteTimes). */
  readonly quotesUnchanged: number;
  readonly barsPublished: number;
  /** Symbols whose bar cursor moved, with the new cursor. */
  readonly cursors: Readonly<Record<string, number>>;
  /** Symbols whose bars were not fetched: the poll's deadline came first (fetched next poll). */
  readonly deferred: readonly string[];
  /** Rejected data (e.g. an unusable quote), with the symbol. */
  readonly issues: readonly SourceIssue[];
  /** Yahoo requests that failed after retries, and cursor-store errors. */
  readonly failures: readonly FeedFailure[];
  /** Events the stream did not take after bounded retries. */
  readonly publishFailed: readonly FailedEvent[];
}

/**
 * One poll: quotes of the open symbols in one batch, then each open symbol's new completed 1-minute
 * bars after its cursor (also for a few minutes after its market closes, for the session's last bar); everything published and flushed; then each symbol's cursor advanced to
 * its last bar the stream took (stopping before the first bar it did not, so that bar is asked for
 * again next time: at-least-once, never skipped). One symbol's failure never stops the others,
 * and a poll never throws for a symbol's failure.
 */
export async function pollOnce(o: PollOptions, d: PollDeps): Promise<PollResult> {
  const open = o.whenClosed
    ? [...o.symbols]
    : o.symbols.filter((s) => isMarketOpen(s, o.now, o.extendedHours));
  // A session's last bar completes at the close, when the market no longer counts as open: bars
  // are also fetched for a while after the close, so that bar goes out now, not next session.
  const barSymbols = o.bars ? o.symbols.filter((s) => open.includes(s) || closedLately(s, o)) : [];
  const skippedClosed = o.symbols.filter((s) => !open.includes(s) && !barSymbols.includes(s));
  const issues: SourceIssue[] = [];
  const failures: FeedFailure[] = [];
  let ticksPublished = 0;
  let quotesUnchanged = 0;
  const deferred: string[] = [];
  const ticksSent: { symbol: string; time: number }[] = [];
  let barsPublished = 0;
  const barsBySymbol = new Map<string, number[]>();
  if (open.length > 0 && o.quotes) {
    const q = await d.quoteFeed.quotes(open, o.deadline !== undefined ? { deadline: o.deadline } : {});
    issues.push(...q.issues);
    failures.push(...q.failures);
    for (const tick of q.ticks) {
      const last = d.quoteTimes?.get(tick.symbol);
      if (last !== undefined && tick.time <= last) {
        quotesUnchanged++;
        continue;
      }
      await d.publisher.publish({ kind: 'tick', tick });
      ticksSent.push({ symbol: tick.symbol, time: tick.time });
      ticksPublished++;
    }
  }
  if (o.bars) {
    const clock = o.clock ?? Date.now;
    for (const [i, symbol] of barSymbols.entries()) {
      if (o.deadline !== undefined && clock() >= o.deadline) {
        deferred.push(...barSymbols.slice(i));
        break;
      }
      let cursor: number | undefined;
      try {
        cursor = await d.cursors.get(symbol, 'bars-1m');
      } catch (err) {
        failures.push(cursorStoreFailure(symbol, 'cannot read the bar cursor', err));
        continue;
      }
      const earliest = o.now - MAX_BAR_WINDOW_MS;
      const from = cursor !== undefined ? cursor + 60_000 : o.now - (o.lookbackMs ?? 3_600_000);
      if (from < earliest) {
        issues.push({
          symbol,
          at: 'bars',
          reason: `bars from ${new Date(from).toISOString()} to ${new Date(earliest).toISOString()} are beyond one request's reach and are skipped (use npm run backfill)`,
        });
      }
      const r = await d.barFeed.bars(symbol, {
        ...(cursor !== undefined ? { after: cursor } : {}),
        from: Math.max(from, earliest),
        to: o.now,
        // Extended hours poll pre/post market: their minutes are bars too. The processor computes
        // VWAP, the opening gap and the session checks from regular bars only; the other indicators
        // take every session's bars unless its indicatorSessions is 'regular'.
        ...(o.extendedHours ? { includePrePost: true } : {}),
        ...(o.deadline !== undefined ? { deadline: o.deadline } : {}),
      });
      issues.push(...r.issues);
      if (r.failure) failures.push(r.failure);
      const starts: number[] = [];
      for (const bar of r.bars) {
        await d.publisher.publish({ kind: 'bar', bar });
        starts.push(bar.start);
        barsPublished++;
      }
      if (starts.length > 0) barsBySymbol.set(symbol, starts);
    }
  }
  const report = await d.publisher.flush();
  if (d.quoteTimes) {
    // Only what the stream took: a quote it did not take goes out again at the next poll.
    const notTaken = new Set(
      report.failed.flatMap((f) =>
        f.event.kind === 'tick' ? [`${f.event.tick.symbol}@${f.event.tick.time}`] : [],
      ),
    );
    for (const t of ticksSent) {
      if (notTaken.has(`${t.symbol}@${t.time}`)) continue;
      if (t.time > (d.quoteTimes.get(t.symbol) ?? Number.NEGATIVE_INFINITY))
        d.quoteTimes.set(t.symbol, t.time);
    }
  }
  const firstFailedBar = firstUndeliveredBars(report.failed);
  const cursors: Record<string, number> = {};
  for (const [symbol, starts] of barsBySymbol) {
    const stop = firstFailedBar.get(symbol);
    const delivered = stop === undefined ? starts : starts.filter((s) => s < stop);
    const last = delivered.at(-1);
    if (last === undefined) continue;
    try {
      await d.cursors.advance(symbol, 'bars-1m', last);
      cursors[symbol] = last;
    } catch (err) {
      failures.push(cursorStoreFailure(symbol, 'cannot advance the bar cursor', err));
    }
  }
  return {
    polled: o.symbols.filter((s) => open.includes(s) || barSymbols.includes(s)),
    skippedClosed,
    ticksPublished,
    quotesUnchanged,
    barsPublished,
    cursors,
    deferred,
    issues,
    failures,
    publishFailed: report.failed,
  };
}

/** Each symbol's earliest bar the stream did not take (its cursor must stop before it). */
export function firstUndeliveredBars(failed: readonly FailedEvent[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const f of failed) {
    if (f.event.kind !== 'bar') continue;
    const prev = first.get(f.event.bar.symbol);
    if (prev === undefined || f.event.bar.start < prev) first.set(f.event.bar.symbol, f.event.bar.start);
  }
  return first;
}

const CURSOR_STORE = 'cursor-store';

/** A cursor-store error of `symbol`, reported as a failure like a Yahoo one (never thrown past the summary). */
export function cursorStoreFailure(symbol: string, what: string, err: unknown): FeedFailure {
  return { symbol, at: 'cursor', kind: CURSOR_STORE, attempts: 1, reason: `${what}: ${errorMessage(err)}` };
}

/** Whether a failure is the cursors' table's (cursorStoreFailure), not a Yahoo request's. */
export function isCursorStoreFailure(f: FeedFailure): boolean {
  return f.kind === CURSOR_STORE;
}

/** How long after a close bars are still fetched (the schedule runs every minute). */
export const AFTER_CLOSE_BARS_MS = 5 * 60_000;

/** Whether `symbol`'s market was open at some minute of the last AFTER_CLOSE_BARS_MS. */
function closedLately(symbol: string, o: PollOptions): boolean {
  for (let back = 60_000; back <= AFTER_CLOSE_BARS_MS; back += 60_000) {
    if (isMarketOpen(symbol, o.now - back, o.extendedHours)) return true;
  }
  return false;
}

export interface PollLoopOptions {
  readonly intervalMs: number;
  /** Stop starting polls this long after the first one (the schedule period minus a margin). */
  readonly windowMs: number;
  /** Milliseconds the invocation has left (Lambda's getRemainingTimeInMillis), checked before each poll. */
  readonly remainingMs?: () => number;
  /** A poll is not started with less than this left (default 10 s). */
  readonly safetyMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `poll` every `intervalMs` within one invocation: polls start at t0, t0 + interval, … while
 * they start within `windowMs` and the invocation has time left, so the last one ends before the
 * next scheduled invocation begins. Polls never overlap: a slow poll delays the next; missed slots
 * are skipped, not bunched. `poll` gets the iteration number (0 first).
 */
export async function runPollLoop(
  o: PollLoopOptions,
  poll: (iteration: number) => Promise<void>,
): Promise<number> {
  const clock = o.clock ?? Date.now;
  const wait = o.sleep ?? sleep;
  const t0 = clock();
  const safety = o.safetyMs ?? 10_000;
  let iteration = 0;
  for (let slot = 0; ; ) {
    await poll(iteration++);
    const elapsed = clock() - t0;
    slot = Math.max(slot + 1, Math.ceil(elapsed / o.intervalMs));
    const nextStart = slot * o.intervalMs;
    if (nextStart >= o.windowMs) return iteration;
    if (o.remainingMs && o.remainingMs() - (nextStart - elapsed) < safety) return iteration;
    const delay = nextStart - (clock() - t0);
    if (delay > 0) await wait(delay);
  }
}
