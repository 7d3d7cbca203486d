/**
 * The per-symbol aggregate: one instrument's bar aggregation, change metrics, indicators and
 * anomaly detectors, applied one tick or one bar at a time, and saved/restored as ONE JSON
 * document (the per-symbol state item in DynamoDB).
 *
 * - `applyTick(tick)`: quote-level change metrics for the tick, plus the metrics rows of the bars
 *   the tick closed (bars close once their grace window has passed in event time).
 * - `applyBar(bar)`: one complete 1-minute bar → one metrics row. Bars must come in time order; a
 *   bar at or before the last applied one changes nothing and is reported as `covered` (a replayed
 *   record, or a minute already built from quotes).
 * - `flush()`: closes the open bars (end of a replay or of a session).
 *
 * A symbol may be fed both quotes and a bar feed (the poller's `both` mode): the feed's bars are
 * the exchange's own 1-minute candles, so they take precedence over the bars built from quotes.
 * Once a feed bar has been applied, a bar the quotes close is held rather than applied; the feed's
 * bar of that minute (or a later one) drops it. When the feed has delivered nothing for
 * `feedBarWaitMs` of event time past a held bar's minute (the feed stopped, or the symbol is fed
 * quotes only), the held bars are applied and the quotes build the bars again until the next feed
 * bar. A symbol fed only quotes from its first event never holds a bar.
 *
 * The session of every bar is (re)classified with the symbol's exchange calendar; bars in a closed
 * market are rejected as `outside-session`. The previous close is the close of the last regular
 * bar of the previous trading day (the last bar, for markets without sessions), or the
 * `previousClose` a quote tick reports for its trading day, which wins when present. On a calendar
 * with sessions it is null when the symbol had no regular bar on the trading day before (a missed
 * day): a close from further back would report a two-day move as the day's change.
 */

import { z } from 'zod';
import {
  BarAggregator,
  type BarAggregatorSnapshot,
  BarAggregatorSnapshotSchema,
  type TickRejectionCode,
} from '../bars/aggregator.ts';
import { calendarForSymbol, type ExchangeCalendar, type SessionOrClosed } from '../calendar/calendar.ts';
import {
  ATR,
  BollingerBands,
  type BollingerBandsValue,
  EMA,
  type IndicatorSnapshot,
  MACD,
  type MACDValue,
  ReturnsZScore,
  ROC,
  RollingStdDev,
  RSI,
  restoreIndicator,
  SMA,
  VWAP,
  WMA,
} from '../indicators/index.ts';
import { type Bar, BarSchema, ONE_MINUTE_MS, type Session } from '../market/bar.ts';
import type { Tick } from '../market/tick.ts';
import { formatIssues, issuesFromZod } from '../market/validation.ts';
import {
  type Anomaly,
  type EpisodeState,
  newEpisode,
  openingGapAnomaly,
  priceMoveAnomaly,
  returnZAnomaly,
  stepEpisode,
  volumeSpikeAnomaly,
} from './anomalies.ts';
import { type ChangeMetrics, changeMetrics } from './change.ts';
import {
  type AnalyticsConfig,
  DEFAULT_ANALYTICS_CONFIG,
  type DetectorSettings,
  detectorSettingsFor,
  type IndicatorSpec,
  IndicatorSpecSchema,
} from './config.ts';

/** The metrics row of one closed bar: what the processor stores. */
export interface MetricsRow {
  readonly symbol: string;
  /** Bar start (epoch ms, exchange minute). */
  readonly start: number;
  /** Trading day `YYYY-MM-DD` of the bar on its exchange calendar. */
  readonly tradingDay: string;
  readonly session: Session;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly change: ChangeMetrics;
  /** Indicator values by column name (`sma20`, `macd`, `macdSignal`, `bb20Upper`…); null while warming up. */
  readonly indicators: Readonly<Record<string, number | null>>;
  readonly anomalies: readonly Anomaly[];
}

/** Quote-level metrics of one tick. */
export interface QuoteMetrics {
  readonly symbol: string;
  readonly time: number;
  readonly price: number;
  readonly tradingDay: string;
  readonly session: SessionOrClosed;
  readonly change: ChangeMetrics;
}

export type RejectionCode = TickRejectionCode | 'symbol-mismatch';

export interface Rejection {
  readonly code: RejectionCode;
  readonly time: number;
  readonly reason: string;
}

export interface TickResult {
  /** Metrics of the tick itself (absent only for a tick of another symbol). */
  readonly quote?: QuoteMetrics;
  /** Rows of the bars this tick closed, oldest first. */
  readonly rows: readonly MetricsRow[];
  /** Set when the tick was not folded into a bar (late, market closed, wrong symbol). */
  readonly rejected?: Rejection;
}

export type BarResult =
  | { readonly row: MetricsRow; readonly rejected?: undefined; readonly covered?: undefined }
  | { readonly row?: undefined; readonly rejected: Rejection; readonly covered?: undefined }
  /** The bar's minute was already applied (a replay, or a bar built from quotes): no row; quote bars are held from now on. */
  | { readonly row?: undefined; readonly rejected?: undefined; readonly covered: string };

export const SYMBOL_ANALYTICS_SNAPSHOT_VERSION = 1;

/**
 * A bar applied, as the quotes are measured against it. `from`: the earliest quote time it counts
 * for besides its minute and grace being over — set for a bar that came after quotes of later times
 * (a feed bar: after the latest quote then; a held bar applied when the feed stayed quiet: from the
 * quote that released it), so a quote folded in again gets the bar it had (absent: a bar the quotes
 * closed, or one applied before any quote).
 */
export interface AppliedBar {
  readonly start: number;
  readonly close: number;
  readonly from?: number;
}

export interface SymbolAnalyticsSnapshot {
  readonly v: typeof SYMBOL_ANALYTICS_SNAPSHOT_VERSION;
  readonly symbol: string;
  readonly calendar: string;
  readonly aggregator: BarAggregatorSnapshot;
  readonly day: string | null;
  readonly previousClose: number | null;
  readonly dayClose: number | null;
  readonly feedPreviousClose: { readonly day: string; readonly value: number } | null;
  readonly lastBar: AppliedBar | null;
  /**
   * The bars closed before `lastBar` that a tick inside the grace window can still be measured
   * against (oldest first); present once the symbol has had a tick (absent for a bar feed, and in
   * states stored before it existed).
   */
  readonly earlierBars?: ReadonlyArray<AppliedBar>;
  readonly lastFedDay: string | null;
  readonly gapChecked: boolean;
  /** Present (true) while the symbol's bars are built from its quotes; absent once a feed bar came. */
  readonly quoteBars?: true;
  /** Bars the quotes closed, held for the feed's bars of the same minutes (absent when none). */
  readonly heldBars?: readonly Bar[];
  readonly indicators: ReadonlyArray<{ readonly spec: IndicatorSpec; readonly state: IndicatorSnapshot }>;
  readonly returns: { readonly window: number; readonly state: IndicatorSnapshot };
  readonly volume: {
    readonly window: number;
    readonly state: IndicatorSnapshot;
    readonly extended: IndicatorSnapshot;
  };
  readonly episodes: {
    readonly priceMove: EpisodeState;
    readonly returnZ: EpisodeState;
    readonly volume: EpisodeState;
  };
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const episode = z.object({ sign: z.number().int().min(-1).max(1), rank: z.number().int().min(0).max(3) });
const indicatorState = z.looseObject({ type: z.string(), version: z.number() });
const dayText = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a YYYY-MM-DD date');

/** Shape check of a stored state document; the indicator states are checked by their own restore. */
export const SymbolAnalyticsSnapshotSchema = z.object({
  v: z.literal(1, { error: 'must be 1 (the supported version)' }),
  symbol: z.string().min(1),
  calendar: z.string(),
  aggregator: BarAggregatorSnapshotSchema,
  day: dayText.nullable(),
  previousClose: finite.nullable(),
  dayClose: finite.nullable(),
  feedPreviousClose: z.object({ day: dayText, value: finite }).nullable(),
  lastBar: z.object({ start: finite, close: finite, from: finite.optional() }).nullable(),
  earlierBars: z.array(z.object({ start: finite, close: finite, from: finite.optional() })).optional(),
  lastFedDay: dayText.nullable(),
  gapChecked: z.boolean(),
  quoteBars: z.literal(true).optional(),
  heldBars: z.array(BarSchema).optional(),
  indicators: z.array(z.object({ spec: IndicatorSpecSchema, state: indicatorState })),
  returns: z.object({ window: z.number().int(), state: indicatorState }),
  volume: z.object({ window: z.number().int(), state: indicatorState, extended: indicatorState }),
  episodes: z.object({ priceMove: episode, returnZ: episode, volume: episode }),
});

export class SymbolAnalyticsSnapshotError extends Error {
  readonly field: string;
  constructor(field: string, detail: string) {
    super(`invalid symbol analytics snapshot: ${detail}`);
    this.field = field;
    this.name = 'SymbolAnalyticsSnapshotError';
  }
}

const K_CLOSE = 0;
const K_MACD = 1;
const K_BB = 2;
const K_ATR = 3;
const K_VWAP = 4;

type AnyInd =
  | SMA
  | EMA
  | WMA
  | RSI
  | ROC
  | RollingStdDev
  | ReturnsZScore
  | MACD
  | BollingerBands
  | ATR
  | VWAP;

interface Slot {
  readonly spec: IndicatorSpec;
  readonly kind: number;
  readonly ind: AnyInd;
  readonly k0: string;
  readonly k1: string;
  readonly k2: string;
}

function createIndicator(spec: IndicatorSpec): AnyInd {
  switch (spec.type) {
    case 'SMA':
      return new SMA({ period: spec.period });
    case 'EMA':
      return new EMA({ period: spec.period });
    case 'WMA':
      return new WMA({ period: spec.period });
    case 'RSI':
      return new RSI({ period: spec.period });
    case 'ROC':
      return new ROC({ period: spec.period });
    case 'ATR':
      return new ATR({ period: spec.period });
    case 'RollingStdDev':
      return new RollingStdDev({
        period: spec.period,
        ...(spec.deviation ? { deviation: spec.deviation } : {}),
      });
    case 'ReturnsZScore':
      return new ReturnsZScore({
        period: spec.period,
        ...(spec.deviation ? { deviation: spec.deviation } : {}),
      });
    case 'MACD':
      return new MACD({ fast: spec.fast ?? 12, slow: spec.slow ?? 26, signal: spec.signal ?? 9 });
    case 'BollingerBands':
      return new BollingerBands({
        period: spec.period ?? 20,
        multiplier: spec.multiplier ?? 2,
        deviation: spec.deviation ?? 'population',
      });
    case 'VWAP':
      return new VWAP();
  }
}

function slotOf(spec: IndicatorSpec, ind: AnyInd): Slot {
  const n = spec.name;
  switch (spec.type) {
    case 'MACD':
      return { spec, ind, kind: K_MACD, k0: n, k1: `${n}Signal`, k2: `${n}Histogram` };
    case 'BollingerBands':
      return { spec, ind, kind: K_BB, k0: `${n}Upper`, k1: `${n}Middle`, k2: `${n}Lower` };
    case 'ATR':
      return { spec, ind, kind: K_ATR, k0: n, k1: '', k2: '' };
    case 'VWAP':
      return { spec, ind, kind: K_VWAP, k0: n, k1: '', k2: '' };
    default:
      return { spec, ind, kind: K_CLOSE, k0: n, k1: '', k2: '' };
  }
}

/** Canonical text of a spec (key order independent) to match saved indicator state to config. */
function specKey(spec: IndicatorSpec): string {
  const o = spec as unknown as Record<string, unknown>;
  return Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${k}=${String(o[k])}`)
    .join(';');
}

const NO_ANOMALIES: readonly Anomaly[] = Object.freeze([]) as readonly Anomaly[];
function withAnomaly(list: Anomaly[] | undefined, a: Anomaly): Anomaly[] {
  if (list === undefined) return [a];
  list.push(a);
  return list;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const NO_ROWS: readonly MetricsRow[] = Object.freeze([]) as readonly MetricsRow[];

export class SymbolAnalytics {
  readonly symbol: string;
  readonly config: AnalyticsConfig;
  readonly calendar: ExchangeCalendar;
  private readonly settings: DetectorSettings;
  private readonly aggregator: BarAggregator;
  private readonly slots: Slot[];
  private readonly returns: ReturnsZScore;
  /** Typical volume of regular (or session-less) bars, and of extended-hours bars, kept apart. */
  private readonly volumeMean: SMA;
  private readonly extendedVolumeMean: SMA;
  private readonly feedsAll: boolean;
  private readonly on: { priceMove: boolean; returnZ: boolean; volume: boolean; gap: boolean };
  private readonly vwapIn = { high: 0, low: 0, close: 0, volume: 0, sessionId: '' };

  private day: string | null = null;
  private previousClose: number | null = null;
  private dayClose: number | null = null;
  private feedPreviousClose: { day: string; value: number } | null = null;
  private lastBar: AppliedBar | null = null;
  /**
   * Bars closed before lastBar, oldest first, back to the first one a tick could be measured
   * against (see barAsOf); kept once the symbol has had a tick (a bar feed's state stays as it was).
   */
  private earlierBars: AppliedBar[] = [];
  private ticksCome = false;
  private lastFedDay: string | null = null;
  private gapChecked = false;
  /** The bars come from the quotes (no feed bar yet, or the feed went quiet); else quote bars are held. */
  private quoteBars = true;
  private heldBars: Bar[] = [];
  private episodes = { priceMove: newEpisode(), returnZ: newEpisode(), volume: newEpisode() };

  constructor(
    symbol: string,
    config: AnalyticsConfig = DEFAULT_ANALYTICS_CONFIG,
    calendar?: ExchangeCalendar,
  ) {
    this.symbol = symbol;
    this.config = config;
    this.calendar = calendar ?? calendarForSymbol(symbol);
    this.settings = detectorSettingsFor(config, symbol);
    this.aggregator = new BarAggregator(symbol, this.calendar, { graceMs: config.graceMs });
    this.slots = config.indicators.map((spec) => slotOf(spec, createIndicator(spec)));
    this.returns = new ReturnsZScore({ period: this.settings.returnWindow, deviation: 'sample' });
    this.volumeMean = new SMA({ period: this.settings.volumeWindow });
    this.extendedVolumeMean = new SMA({ period: this.settings.volumeWindow });
    this.feedsAll = config.indicatorSessions === 'all';
    const off = new Set(this.settings.disabled);
    this.on = {
      priceMove: !off.has('price-move'),
      returnZ: !off.has('return-zscore'),
      volume: !off.has('volume-spike'),
      gap: !off.has('opening-gap'),
    };
  }

  /** Folds a quote tick in: its change metrics, and rows for the bars it closed. */
  applyTick(tick: Tick): TickResult {
    if (tick.symbol !== this.symbol) {
      return { rows: NO_ROWS, rejected: this.mismatch(tick.symbol, tick.time) };
    }
    this.ticksCome = true;
    const tradingDay = this.calendar.tradingDayAt(tick.time);
    const day = tradingDay.date;
    if (tick.previousClose !== undefined) {
      this.feedPreviousClose = { day, value: tick.previousClose };
      if (day === this.day) this.previousClose = tick.previousClose;
    }
    const out = this.aggregator.addTick(tick);
    const rows = this.rowsOf(out.closed, tick.time);
    const previousBar = this.barAsOf(tick.time);
    const previousClose = this.calendar.hasSessions
      ? this.previousCloseFor(day)
      : this.previousCloseWithoutSessions(day, tradingDay.start, previousBar);
    const quote: QuoteMetrics = {
      symbol: this.symbol,
      time: tick.time,
      price: tick.price,
      tradingDay: day,
      session: this.calendar.sessionAt(tick.time),
      change: changeMetrics(tick.price, previousClose, previousBar === null ? null : previousBar.close),
    };
    return out.rejected ? { quote, rows, rejected: out.rejected } : { quote, rows };
  }

  /** Applies one complete 1-minute bar. */
  applyBar(bar: Bar): BarResult {
    if (bar.symbol !== this.symbol) return { rejected: this.mismatch(bar.symbol, bar.start) };
    if (this.lastBar !== null && bar.start <= this.lastBar.start) {
      // The feed is live again (after the quotes took over, say): quote bars are held from here on.
      this.feedBarArrived(bar.start);
      return {
        covered: `bar ${new Date(bar.start).toISOString()} is not after the last applied bar ${new Date(this.lastBar.start).toISOString()} (a replay, or a minute already built from quotes)`,
      };
    }
    const session = this.calendar.sessionAt(bar.start);
    if (session === 'closed') {
      return {
        rejected: {
          code: 'outside-session',
          time: bar.start,
          reason: `bar ${new Date(bar.start).toISOString()} is outside trading hours (${this.calendar.id} is closed on ${this.calendar.tradingDayAt(bar.start).date} at that time)`,
        },
      };
    }
    this.feedBarArrived(bar.start);
    // Quotes up to the latest one seen came before it: folded in again, they must not get it.
    const seen = this.aggregator.lastEventTime;
    return { row: this.step(bar, session, seen === undefined ? undefined : seen + 1) };
  }

  /** Moves event time on (a heartbeat, the end of a batch) and returns rows of bars that closed. */
  advance(eventTime: number): readonly MetricsRow[] {
    return this.rowsOf(this.aggregator.advance(eventTime), eventTime);
  }

  /** Closes all open bars, held ones included, and returns their rows. */
  flush(): readonly MetricsRow[] {
    const rows = this.rowsOf(this.aggregator.flush(), Number.NEGATIVE_INFINITY);
    if (this.heldBars.length === 0) return rows;
    const seen = this.aggregator.lastEventTime;
    return [...rows, ...this.releaseHeld(seen === undefined ? undefined : seen + 1)];
  }

  /** The previous close for a trading day, as far as this aggregate knows it. */
  previousCloseFor(day: string): number | null {
    if (this.feedPreviousClose !== null && this.feedPreviousClose.day === day)
      return this.feedPreviousClose.value;
    if (this.day === null || day === this.day) return this.previousClose;
    if (day > this.day) return this.closeBefore(day);
    return null;
  }

  /**
   * A quote's previous close where the day before closes with its last bar (no sessions), as of the
   * quote's time: the close of the bar it is measured against when that is of an earlier day — not
   * the day's last bar closed so far, which may still have been in its grace when the quote came —
   * the day's own previous close when that bar is of the quote's day, none when no bar is.
   */
  private previousCloseWithoutSessions(day: string, dayStart: number, bar: AppliedBar | null): number | null {
    if (this.feedPreviousClose !== null && this.feedPreviousClose.day === day)
      return this.feedPreviousClose.value;
    if (bar === null) return null;
    return bar.start < dayStart ? bar.close : this.previousCloseFor(day);
  }

  /**
   * The close the trading day `day` (later than `this.day`) follows: this day's close when this day
   * is the trading day before it; null (unknown) when the symbol missed a trading day in between or
   * saw no regular bar on the one before. Markets without sessions (crypto, FX, futures; no trading
   * day calendar of their own) carry the last known close over.
   */
  private closeBefore(day: string): number | null {
    if (!this.calendar.hasSessions) return this.dayClose ?? this.previousClose;
    return this.previousTradingDay(day) === this.day ? this.dayClose : null;
  }

  /**
   * The bar a tick at `time` is measured against: the latest closed by then in event time (its
   * minute and the grace window over), as an in-order feed has it when the tick comes.
   * Not simply the latest bar closed so far: a tick folded in again (a replay inside the reorder
   * window, after the bar before it closed) would get another value for the same row.
   */
  private barAsOf(time: number): AppliedBar | null {
    if (this.lastBar === null || this.countsFor(this.lastBar, time)) return this.lastBar;
    for (let i = this.earlierBars.length - 1; i >= 0; i--) {
      const b = this.earlierBars[i]!;
      if (this.countsFor(b, time)) return b;
    }
    return null;
  }

  /**
   * Whether a quote at `time` is measured against bar `b` (or a later one): its minute and grace are
   * over by then, and it was not applied after quotes of that time or later (`from`). Once true for
   * a time, true for every later time.
   */
  private countsFor(b: AppliedBar, time: number): boolean {
    return b.start + ONE_MINUTE_MS + this.config.graceMs <= time && (b.from === undefined || b.from <= time);
  }

  /** The trading day before `day` on the calendar (weekends and holidays skipped). */
  private previousTradingDay(day: string): string | undefined {
    const cal = this.calendar;
    let d = cal.tradingDayAt(Date.parse(`${day}T12:00:00Z`));
    for (let i = 0; i < 14; i++) {
      d = cal.tradingDayAt(d.start - 1);
      if (d.kind !== 'weekend' && d.kind !== 'holiday') return d.date;
    }
    return undefined;
  }

  private mismatch(symbol: string, time: number): Rejection {
    return {
      code: 'symbol-mismatch',
      time,
      reason: `event for ${symbol} given to the ${this.symbol} aggregate`,
    };
  }

  /** A feed bar came: quote bars are held from now on, and those up to its minute are dropped. */
  private feedBarArrived(start: number): void {
    this.quoteBars = false;
    if (this.heldBars.length > 0) this.heldBars = this.heldBars.filter((b) => b.start > start);
  }

  /**
   * Rows of the bars the quotes closed (held instead while the feed is live), and of the held bars
   * once the feed has been quiet for `feedBarWaitMs` past the oldest one's minute at `eventTime`.
   */
  private rowsOf(bars: readonly Bar[], eventTime: number): readonly MetricsRow[] {
    if (bars.length === 0 && this.heldBars.length === 0) return NO_ROWS;
    const rows: MetricsRow[] = [];
    for (const b of bars) {
      if (this.lastBar !== null && b.start <= this.lastBar.start) continue; // the feed's bar came first
      if (this.quoteBars) rows.push(this.step(b, b.session));
      else this.heldBars.push(b);
    }
    const oldest = this.heldBars[0];
    if (oldest !== undefined && eventTime >= oldest.start + ONE_MINUTE_MS + this.config.feedBarWaitMs) {
      this.quoteBars = true;
      rows.push(...this.releaseHeld(eventTime));
    }
    return rows;
  }

  /**
   * Applies the held bars in order (those the feed has not covered meanwhile) and clears them; quotes
   * from `from` on are measured against them.
   */
  private releaseHeld(from?: number): MetricsRow[] {
    const rows: MetricsRow[] = [];
    for (const b of this.heldBars) {
      if (this.lastBar === null || b.start > this.lastBar.start) rows.push(this.step(b, b.session, from));
    }
    this.heldBars = [];
    return rows;
  }

  /** The hot path: one bar through change metrics, indicators and detectors. */
  private step(bar: Bar, session: Session, from?: number): MetricsRow {
    const day = this.calendar.tradingDayAt(bar.start).date;
    if (day !== this.day) this.rollDay(day);
    const hasSessions = this.calendar.hasSessions;
    const closesDay = session === 'regular' || session === 'none';
    const prevClose = this.previousClose;
    const close = bar.close;
    const change = changeMetrics(close, prevClose, this.lastBar === null ? null : this.lastBar.close);
    if (closesDay) this.dayClose = close;

    let anomalies: Anomaly[] | undefined;
    const s = this.settings;
    const sev = this.config.severity;
    if (this.feedsAll || closesDay) {
      // detectors first where they need the state BEFORE this bar
      if (this.on.gap && !this.gapChecked && closesDay) {
        this.gapChecked = true;
        if (prevClose !== null) {
          const gap = (bar.open / prevClose - 1) * 100;
          if (Math.abs(gap) >= s.openingGapPct) {
            const e = newEpisode();
            const level = stepEpisode(e, gap, s.openingGapPct, 1, sev);
            if (level)
              anomalies = withAnomaly(
                anomalies,
                openingGapAnomaly(this.symbol, bar.start, level, gap, s.openingGapPct, bar.open, prevClose),
              );
          }
        }
      }
      const mean = closesDay ? this.volumeMean : this.extendedVolumeMean;
      const typical = mean.value;
      mean.update(bar.volume);
      const judged = closesDay || s.extendedHoursAlerts;
      if (this.on.volume && judged && typical !== undefined && typical > 0) {
        const multiple = bar.volume / typical;
        const level = stepEpisode(this.episodes.volume, multiple, s.volumeSpikeMultiple, s.rearm, sev);
        if (level)
          anomalies = withAnomaly(
            anomalies,
            volumeSpikeAnomaly(
              this.symbol,
              bar.start,
              level,
              multiple,
              s.volumeSpikeMultiple,
              bar.volume,
              typical,
            ),
          );
      }
      const z = this.returns.update(close);
      if (this.on.returnZ && judged && z !== undefined && Number.isFinite(z) && this.lastFedDay === day) {
        const level = stepEpisode(this.episodes.returnZ, z, s.returnZ, s.rearm, sev);
        if (level)
          anomalies = withAnomaly(
            anomalies,
            returnZAnomaly(this.symbol, bar.start, level, z, s.returnZ, s.returnWindow),
          );
      }
      this.lastFedDay = day;
      if (this.on.priceMove && change.changePct !== null) {
        const level = stepEpisode(this.episodes.priceMove, change.changePct, s.priceMovePct, s.rearm, sev);
        if (level)
          anomalies = withAnomaly(
            anomalies,
            priceMoveAnomaly(
              this.symbol,
              bar.start,
              level,
              change.changePct,
              s.priceMovePct,
              close,
              prevClose as number,
            ),
          );
      }
    }

    const feeds = this.feedsAll || closesDay;
    const indicators: Record<string, number | null> = {};
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Slot;
      switch (slot.kind) {
        case K_CLOSE: {
          const ind = slot.ind as SMA;
          const v = feeds ? ind.update(close) : ind.value;
          indicators[slot.k0] = v === undefined ? null : v;
          break;
        }
        case K_MACD: {
          const ind = slot.ind as MACD;
          const v: MACDValue | undefined = feeds ? ind.update(close) : ind.value;
          indicators[slot.k0] = v === undefined ? null : v.macd;
          indicators[slot.k1] = v === undefined ? null : v.signal;
          indicators[slot.k2] = v === undefined ? null : v.histogram;
          break;
        }
        case K_BB: {
          const ind = slot.ind as BollingerBands;
          const v: BollingerBandsValue | undefined = feeds ? ind.update(close) : ind.value;
          indicators[slot.k0] = v === undefined ? null : v.upper;
          indicators[slot.k1] = v === undefined ? null : v.middle;
          indicators[slot.k2] = v === undefined ? null : v.lower;
          break;
        }
        case K_ATR: {
          const ind = slot.ind as ATR;
          const v = feeds ? ind.update(bar) : ind.value;
          indicators[slot.k0] = v === undefined ? null : v;
          break;
        }
        default: {
          // Session VWAP: regular bars of the trading day (every bar, without sessions).
          const ind = slot.ind as VWAP;
          let v: number | undefined;
          if (closesDay) {
            const input = this.vwapIn;
            input.high = bar.high;
            input.low = bar.low;
            input.close = close;
            input.volume = bar.volume;
            input.sessionId = day;
            v = ind.update(input);
          } else if (hasSessions && session === 'post' && ind.sessionId === day) {
            v = ind.value; // post-market rows carry the day's regular-session VWAP
          }
          indicators[slot.k0] = v === undefined ? null : v;
        }
      }
    }

    const applied: AppliedBar =
      from === undefined ? { start: bar.start, close } : { start: bar.start, close, from };
    if (this.lastBar !== null && this.ticksCome) {
      this.earlierBars.push(this.lastBar);
      this.keepEarlierBarsFor(applied);
    }
    this.lastBar = applied;
    return {
      symbol: this.symbol,
      start: bar.start,
      tradingDay: day,
      session,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close,
      volume: bar.volume,
      change,
      indicators,
      anomalies: anomalies ?? NO_ANOMALIES,
    };
  }

  /**
   * Drops the earlier bars no quote can be measured against any more once `next` is the last bar:
   * those before the latest one that counts for the earliest quote still to be folded in (a quote
   * of a closed minute, or a grace window behind the latest quote, is late).
   */
  private keepEarlierBarsFor(next: AppliedBar): void {
    const seen = this.aggregator.lastEventTime;
    const closed = this.aggregator.lastClosedBarStart;
    const earliest = Math.max(
      seen === undefined ? Number.NEGATIVE_INFINITY : seen - ONE_MINUTE_MS - this.config.graceMs,
      closed === undefined ? Number.NEGATIVE_INFINITY : closed + ONE_MINUTE_MS,
    );
    const bars = this.earlierBars;
    if (seen === undefined || this.countsFor(next, earliest)) {
      bars.length = 0;
      return;
    }
    let keep = bars.length - 1;
    while (keep > 0 && !this.countsFor(bars[keep]!, earliest)) keep--;
    if (keep > 0) bars.splice(0, keep);
  }

  private rollDay(day: string): void {
    if (this.day !== null) this.previousClose = this.closeBefore(day);
    if (this.feedPreviousClose !== null && this.feedPreviousClose.day === day) {
      this.previousClose = this.feedPreviousClose.value;
    }
    this.day = day;
    this.dayClose = null;
    this.gapChecked = false;
    this.episodes.priceMove = newEpisode();
  }

  /** The whole per-symbol state as one JSON-safe document. */
  snapshot(): SymbolAnalyticsSnapshot {
    const doc: Writable<SymbolAnalyticsSnapshot> = {
      v: SYMBOL_ANALYTICS_SNAPSHOT_VERSION,
      symbol: this.symbol,
      calendar: this.calendar.id,
      aggregator: this.aggregator.snapshot(),
      day: this.day,
      previousClose: this.previousClose,
      dayClose: this.dayClose,
      feedPreviousClose: this.feedPreviousClose === null ? null : { ...this.feedPreviousClose },
      lastBar: this.lastBar === null ? null : { ...this.lastBar },
      lastFedDay: this.lastFedDay,
      gapChecked: this.gapChecked,
      indicators: this.slots.map((s) => ({ spec: s.spec, state: s.ind.snapshot() as IndicatorSnapshot })),
      returns: { window: this.settings.returnWindow, state: this.returns.snapshot() },
      volume: {
        window: this.settings.volumeWindow,
        state: this.volumeMean.snapshot(),
        extended: this.extendedVolumeMean.snapshot(),
      },
      episodes: {
        priceMove: { ...this.episodes.priceMove },
        returnZ: { ...this.episodes.returnZ },
        volume: { ...this.episodes.volume },
      },
    };
    // Only when set, so the usual document (a bar feed, nothing held) keeps its one shape.
    if (this.ticksCome) doc.earlierBars = this.earlierBars.map((b) => ({ ...b }));
    if (this.quoteBars) doc.quoteBars = true;
    if (this.heldBars.length > 0) doc.heldBars = this.heldBars.map((b) => ({ ...b }));
    return doc;
  }

  /**
   * Rebuilds an aggregate from its snapshot under `config`. Indicators whose spec is unchanged
   * continue where they were; indicators new to the config (or with changed parameters) start
   * warming up; indicators dropped from the config are discarded. The same holds for the
   * detectors' windows.
   */
  static restore(
    snapshot: SymbolAnalyticsSnapshot,
    config: AnalyticsConfig = DEFAULT_ANALYTICS_CONFIG,
    calendar?: ExchangeCalendar,
  ): SymbolAnalytics {
    const parsed = SymbolAnalyticsSnapshotSchema.safeParse(snapshot);
    if (!parsed.success) {
      const issues = issuesFromZod(parsed.error);
      throw new SymbolAnalyticsSnapshotError(issues[0]?.field ?? '(root)', formatIssues(issues));
    }
    const a = new SymbolAnalytics(snapshot.symbol, config, calendar);
    const mutable = a as unknown as {
      aggregator: BarAggregator;
      slots: Slot[];
      returns: ReturnsZScore;
      volumeMean: SMA;
      extendedVolumeMean: SMA;
    };
    mutable.aggregator = BarAggregator.restore(snapshot.aggregator, a.calendar);
    if (snapshot.aggregator.graceMs !== config.graceMs) {
      mutable.aggregator = BarAggregator.restore(
        { ...snapshot.aggregator, graceMs: config.graceMs },
        a.calendar,
      );
    }
    a.day = snapshot.day;
    a.previousClose = snapshot.previousClose;
    a.dayClose = snapshot.dayClose;
    a.feedPreviousClose = snapshot.feedPreviousClose === null ? null : { ...snapshot.feedPreviousClose };
    a.lastBar = snapshot.lastBar === null ? null : { ...snapshot.lastBar };
    a.earlierBars = (parsed.data.earlierBars ?? []).map((b) => ({ ...b }));
    a.ticksCome = parsed.data.earlierBars !== undefined;
    a.lastFedDay = snapshot.lastFedDay;
    a.gapChecked = snapshot.gapChecked;
    // Absent: a feed bar came (or an earlier release stored it): quote bars are held until the
    // feed has been quiet for the wait.
    a.quoteBars = snapshot.quoteBars === true;
    a.heldBars = (parsed.data.heldBars ?? []).map((b) => ({ ...b }));
    const saved = new Map<string, IndicatorSnapshot>();
    for (const entry of snapshot.indicators ?? []) saved.set(specKey(entry.spec), entry.state);
    mutable.slots = a.slots.map((slot) => {
      const state = saved.get(specKey(slot.spec));
      return state === undefined ? slot : slotOf(slot.spec, restoreIndicator(state) as AnyInd);
    });
    if (snapshot.returns?.window === a.settings.returnWindow) {
      mutable.returns = ReturnsZScore.restore(snapshot.returns.state);
    }
    if (snapshot.volume?.window === a.settings.volumeWindow) {
      mutable.volumeMean = SMA.restore(snapshot.volume.state);
      mutable.extendedVolumeMean = SMA.restore(snapshot.volume.extended);
    }
    a.episodes = {
      priceMove: { ...snapshot.episodes.priceMove },
      returnZ: { ...snapshot.episodes.returnZ },
      volume: { ...snapshot.episodes.volume },
    };
    return a;
  }
}
