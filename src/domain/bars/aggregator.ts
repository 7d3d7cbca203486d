/**
 * Ticks → 1-minute bars for ONE symbol, in event time.
 *
 * - A bar covers one exchange minute `[start, start + 60 s)`. Every zone the calendars use is a
 *   whole number of minutes from UTC, so the exchange minute starts on a UTC minute boundary.
 * - A bar stays open until the watermark (the latest tick time seen) reaches
 *   `start + 60 s + graceMs`. Until then out-of-order ticks are folded in by event time: the open is
 *   the price of the earliest tick, the close that of the latest, whatever the arrival order (ticks
 *   with the same time are ordered by cumulative day volume, then price, so the result never
 *   depends on arrival order).
 * - A tick whose bar has already closed is rejected with reason `late`, never merged into another
 *   bar. A tick in a minute when the market is closed (US equities outside 04:00–20:00 New York,
 *   weekends, holidays) is rejected with reason `outside-session`.
 * - Volume: quotes carry the CUMULATIVE day volume. A bar's volume is the increase of that counter
 *   since the end of the previous closed bar. When a bar's counter is below the previous bar's (a new
 *   session or day reset it) the bar's volume is its own counter value, never a negative number, when
 *   the reset fell in that bar's minute: the bar opens the trading day or a session (where a day's
 *   counter restarts) or directly follows the last bar. A reset seen after unseen minutes (the first quote
 *   of a day at 10:15) counts from the bar's own first tick, as the volume before it is not that
 *   bar's. The very first
 *   bar after a cold start counts from its own first tick (earlier volume of the day is unknown), and
 *   so does the first bar of a new trading day whose counter is already above the last day's (the
 *   quotes stopped early one day and resumed late the next: the difference of two days' counters is
 *   no bar's volume).
 *   Ticks without a day volume add no volume.
 * - Minutes without ticks produce no bar (no forward fill).
 *
 * The state is plain data and round-trips through `snapshot()` / `BarAggregator.restore()`.
 */
import { z } from 'zod';
import type { ExchangeCalendar } from '../calendar/calendar.ts';
import { type Bar, ONE_MINUTE_MS } from '../market/bar.ts';
import { type Source, SourceSchema } from '../market/tick.ts';
import { formatIssues, issuesFromZod } from '../market/validation.ts';

/** What the aggregator needs from a tick (a validated `Tick` fits). */
export interface TickInput {
  readonly time: number;
  readonly price: number;
  readonly dayVolume?: number | undefined;
  readonly source: Source;
}

export type TickRejectionCode = 'late' | 'outside-session';

export interface TickRejection {
  readonly code: TickRejectionCode;
  readonly time: number;
  readonly reason: string;
}

export interface TickOutcome {
  /** Bars closed by this tick's watermark advance, oldest first (usually none). */
  readonly closed: readonly Bar[];
  /** Set when the tick was not folded into any bar. */
  readonly rejected?: TickRejection;
}

export interface BarAggregatorOptions {
  /** How long after a minute ends its bar still accepts late ticks (event time, ms). Default 5 s. */
  readonly graceMs?: number;
}

export const DEFAULT_GRACE_MS = 5_000;

interface OpenBar {
  start: number;
  session: Bar['session'];
  source: Source;
  openTime: number;
  openCum: number; // -1 when the opening tick had no day volume (tie-break key)
  open: number;
  closeTime: number;
  closeCum: number;
  close: number;
  high: number;
  low: number;
  minCum: number | null;
  maxCum: number | null;
}

const num = z.number().refine(Number.isFinite, 'must be a finite number');
const OpenBarSchema = z.object({
  start: num,
  session: z.enum(['pre', 'regular', 'post', 'none']),
  source: SourceSchema,
  openTime: num,
  openCum: num,
  open: num,
  closeTime: num,
  closeCum: num,
  close: num,
  high: num,
  low: num,
  minCum: num.nullable(),
  maxCum: num.nullable(),
});

/** Shape check of a stored aggregator snapshot; errors name the field. */
export const BarAggregatorSnapshotSchema = z.object({
  v: z.literal(1, { error: 'must be 1 (the supported version)' }),
  symbol: z.string(),
  graceMs: num.min(0),
  watermark: num.nullable(),
  lastClosedStart: num.nullable(),
  lastCum: num.nullable(),
  open: z.array(OpenBarSchema),
});

export interface BarAggregatorSnapshot {
  readonly v: 1;
  readonly symbol: string;
  readonly graceMs: number;
  readonly watermark: number | null;
  readonly lastClosedStart: number | null;
  readonly lastCum: number | null;
  readonly open: readonly OpenBar[];
}

const NO_BARS: readonly Bar[] = Object.freeze([]) as readonly Bar[];

/** a is later than b in event order: time, then cumulative volume, then price. */
function later(t1: number, c1: number, p1: number, t2: number, c2: number, p2: number): boolean {
  if (t1 !== t2) return t1 > t2;
  if (c1 !== c2) return c1 > c2;
  return p1 > p2;
}

export class BarAggregator {
  readonly symbol: string;
  readonly graceMs: number;
  private readonly calendar: ExchangeCalendar;
  private watermark: number | null = null;
  private lastClosedStart: number | null = null;
  private lastCum: number | null = null;
  private open: OpenBar[] = [];

  constructor(symbol: string, calendar: ExchangeCalendar, options: BarAggregatorOptions = {}) {
    const grace = options.graceMs ?? DEFAULT_GRACE_MS;
    if (!Number.isFinite(grace) || grace < 0) {
      throw new RangeError(`graceMs must be a finite number >= 0, got ${grace}`);
    }
    this.symbol = symbol;
    this.calendar = calendar;
    this.graceMs = grace;
  }

  /** Number of bars currently open (waiting for their grace window to pass). */
  get openBars(): number {
    return this.open.length;
  }

  /** Latest tick time seen (the watermark), or undefined before the first tick. */
  get lastEventTime(): number | undefined {
    return this.watermark ?? undefined;
  }

  /** Start of the latest bar closed (later ticks of its minute or before are `late`), or undefined. */
  get lastClosedBarStart(): number | undefined {
    return this.lastClosedStart ?? undefined;
  }

  /** Folds one tick in. Returns the bars that closed because time moved on, and any rejection. */
  addTick(tick: TickInput): TickOutcome {
    const t = tick.time;
    const start = t - (((t % ONE_MINUTE_MS) + ONE_MINUTE_MS) % ONE_MINUTE_MS);
    const closesAt = start + ONE_MINUTE_MS + this.graceMs;
    if (
      (this.watermark !== null && closesAt <= this.watermark) ||
      (this.lastClosedStart !== null && start <= this.lastClosedStart)
    ) {
      return {
        closed: NO_BARS,
        rejected: {
          code: 'late',
          time: t,
          reason: `tick at ${new Date(t).toISOString()} is late: its bar ${new Date(start).toISOString()} closed (grace ${this.graceMs} ms, latest event ${new Date(Math.max(this.watermark ?? 0, this.lastClosedStart ?? 0)).toISOString()})`,
        },
      };
    }
    const session = this.calendar.sessionAt(start);
    if (session === 'closed') {
      return {
        closed: this.advance(t),
        rejected: {
          code: 'outside-session',
          time: t,
          reason: `tick at ${new Date(t).toISOString()} is outside trading hours (${this.calendar.id} is closed on ${this.calendar.tradingDayAt(start).date} at that time)`,
        },
      };
    }
    const cum = tick.dayVolume ?? -1;
    const price = tick.price;
    let bar: OpenBar | undefined;
    const open = this.open;
    let i = open.length - 1;
    while (i >= 0 && (open[i] as OpenBar).start > start) i--;
    if (i >= 0 && (open[i] as OpenBar).start === start) bar = open[i] as OpenBar;
    if (bar === undefined) {
      const hasCum = tick.dayVolume !== undefined;
      open.splice(i + 1, 0, {
        start,
        session,
        source: tick.source,
        openTime: t,
        openCum: cum,
        open: price,
        closeTime: t,
        closeCum: cum,
        close: price,
        high: price,
        low: price,
        minCum: hasCum ? cum : null,
        maxCum: hasCum ? cum : null,
      });
    } else {
      if (later(bar.openTime, bar.openCum, bar.open, t, cum, price)) {
        bar.openTime = t;
        bar.openCum = cum;
        bar.open = price;
      }
      if (later(t, cum, price, bar.closeTime, bar.closeCum, bar.close)) {
        bar.closeTime = t;
        bar.closeCum = cum;
        bar.close = price;
      }
      if (price > bar.high) bar.high = price;
      if (price < bar.low) bar.low = price;
      if (tick.dayVolume !== undefined) {
        if (bar.minCum === null || cum < bar.minCum) bar.minCum = cum;
        if (bar.maxCum === null || cum > bar.maxCum) bar.maxCum = cum;
      }
    }
    return { closed: this.advance(t) };
  }

  /**
   * Moves the watermark to `eventTime` (e.g. the time of a heartbeat or of the last record of a
   * batch) and returns the bars whose grace window has passed.
   */
  advance(eventTime: number): readonly Bar[] {
    if (this.watermark === null || eventTime > this.watermark) this.watermark = eventTime;
    const wm = this.watermark;
    const open = this.open;
    if (open.length === 0 || (open[0] as OpenBar).start + ONE_MINUTE_MS + this.graceMs > wm) return NO_BARS;
    const out: Bar[] = [];
    while (open.length > 0 && (open[0] as OpenBar).start + ONE_MINUTE_MS + this.graceMs <= wm) {
      out.push(this.close(open.shift() as OpenBar));
    }
    return out;
  }

  /** Closes every open bar now (end of a replay, end of session). Later ticks for them are `late`. */
  flush(): readonly Bar[] {
    const out: Bar[] = [];
    for (const b of this.open) out.push(this.close(b));
    this.open = [];
    return out;
  }

  private close(b: OpenBar): Bar {
    let volume = 0;
    if (b.maxCum !== null) {
      const minCum = b.minCum as number;
      if (this.lastCum === null) volume = b.maxCum - minCum;
      // the day counter was reset: everything since the reset is this bar's when the reset fell in
      // it (the regular open, or no minute unseen since the last bar); else its first tick's counter
      // holds volume of unseen minutes
      else if (minCum < this.lastCum) volume = this.resetIn(b.start) ? b.maxCum : b.maxCum - minCum;
      // a new trading day's counter already above the last day's: the day's earlier volume is unknown
      else if (this.startsNewDay(b.start)) volume = b.maxCum - minCum;
      else volume = b.maxCum - this.lastCum;
      this.lastCum = b.maxCum;
    }
    this.lastClosedStart = b.start;
    return {
      symbol: this.symbol,
      start: b.start,
      interval: '1m',
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume,
      session: b.session,
      source: b.source,
    };
  }

  /**
   * Whether a counter reset seen in the bar starting at `start` happened within that minute: the
   * bar opens its trading day or a session (where a day counter restarts), or it directly follows the
   * last closed bar, so no minute went unseen since the old counter was last read.
   */
  private resetIn(start: number): boolean {
    if (this.lastClosedStart === start - ONE_MINUTE_MS) return true;
    const day = this.calendar.tradingDayAt(start);
    return [day.start, day.preOpen, day.regularOpen].some(
      (t) => t !== undefined && start === t - (t % ONE_MINUTE_MS),
    );
  }

  /** Whether a bar starting at `start` is on a later trading day than the last closed bar. */
  private startsNewDay(start: number): boolean {
    const last = this.lastClosedStart;
    return last !== null && start >= this.calendar.tradingDayAt(last).end;
  }

  snapshot(): BarAggregatorSnapshot {
    return {
      v: 1,
      symbol: this.symbol,
      graceMs: this.graceMs,
      watermark: this.watermark,
      lastClosedStart: this.lastClosedStart,
      lastCum: this.lastCum,
      open: this.open.map((b) => ({ ...b })),
    };
  }

  static restore(snapshot: BarAggregatorSnapshot, calendar: ExchangeCalendar): BarAggregator {
    const parsed = BarAggregatorSnapshotSchema.safeParse(snapshot);
    if (!parsed.success) {
      throw new Error(`invalid bar aggregator snapshot: ${formatIssues(issuesFromZod(parsed.error))}`);
    }
    const s = parsed.data;
    const a = new BarAggregator(s.symbol, calendar, { graceMs: s.graceMs });
    a.watermark = s.watermark;
    a.lastClosedStart = s.lastClosedStart;
    a.lastCum = s.lastCum;
    a.open = s.open.map((b) => ({ ...b }));
    return a;
  }
}
