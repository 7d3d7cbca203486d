/**
 * Exchange calendars: which trading day an instant belongs to and which session (pre / regular /
 * post, `none` for instruments without sessions, `closed` outside trading hours).
 *
 * - US equities and US indices (`AAPL`, `^GSPC`): America/New_York; pre 04:00–09:30, regular
 *   09:30–16:00, post 16:00–20:00; on early-close days regular ends 13:00 and post 17:00; closed on
 *   weekends and NYSE holidays (see nyse-holidays.ts). The trading day is the New York date.
 * - Crypto (`BTC-USD`): trades 24/7; session `none`; the trading day is the UTC date (Yahoo's
 *   crypto day, so "previous close" is the 00:00 UTC close).
 * - FX (`EURUSD=X`): one continuous session (`none`); the trading day rolls at 17:00 New York, the
 *   FX market's convention (a quote at 17:30 New York on Monday belongs to Tuesday's day).
 * - Futures (`GC=F`): one continuous session (`none`); the trading day rolls at 18:00 New York,
 *   the CME Globex convention.
 *   FX and futures are never rejected as "closed" (weekend prints from Yahoo are kept): the
 *   pipeline has no per-contract holiday calendars and losing a real print is worse than a
 *   weekend bar.
 * - Equities with a non-US exchange suffix (`0700.HK`, `VOD.L`): no calendar is bundled; they are
 *   treated like a continuous market with UTC days (session `none`).
 *
 * Every calendar caches the trading day it last answered for, so classifying consecutive bars costs
 * two comparisons; the `Intl` conversion runs about once per day per symbol.
 */
import type { Session } from '../market/bar.ts';
import { assetClassOf } from '../market/symbol.ts';
import { nyseDayStatus } from './nyse-holidays.ts';
import { addDays, instantOf, isoDate, localDateTime } from './zone.ts';

export type SessionOrClosed = Session | 'closed';

export interface TradingDay {
  /** The trading day's date `YYYY-MM-DD` (exchange-local, or UTC for crypto). */
  readonly date: string;
  /** First instant of this trading day's window (epoch ms, inclusive). */
  readonly start: number;
  /** End of the window (epoch ms, exclusive). 23 or 25 hours after `start` on DST change days. */
  readonly end: number;
  /** `full`, `early-close`, `holiday`, `weekend`, or `continuous` for markets without sessions. */
  readonly kind: 'full' | 'early-close' | 'holiday' | 'weekend' | 'continuous';
  /** Holiday name or early-close reason, when there is one. */
  readonly note?: string;
  /** Session boundaries (epoch ms) on a trading day of a calendar with sessions. */
  readonly preOpen?: number;
  readonly regularOpen?: number;
  readonly regularClose?: number;
  readonly postClose?: number;
}

export interface ExchangeCalendar {
  readonly id: string;
  readonly timeZone: string;
  /** True when bars are classified into pre / regular / post; false when the session is `none`. */
  readonly hasSessions: boolean;
  tradingDayAt(epochMs: number): TradingDay;
  sessionAt(epochMs: number): SessionOrClosed;
}

/** Session hours of a calendar with sessions, as minutes after local midnight. */
export interface SessionHours {
  readonly preOpen: number;
  readonly regularOpen: number;
  readonly regularClose: number;
  readonly postClose: number;
  readonly earlyRegularClose: number;
  readonly earlyPostClose: number;
}

export const US_EQUITY_HOURS: SessionHours = {
  preOpen: 4 * 60,
  regularOpen: 9 * 60 + 30,
  regularClose: 16 * 60,
  postClose: 20 * 60,
  earlyRegularClose: 13 * 60,
  earlyPostClose: 17 * 60,
};

const RECENT_DAYS = 8;

/** The US equity calendar (NYSE / Nasdaq): sessions in America/New_York, NYSE holidays. */
export class UsEquityCalendar implements ExchangeCalendar {
  readonly id = 'XNYS';
  readonly timeZone = 'America/New_York';
  readonly hasSessions = true;
  readonly hours: SessionHours;
  /** The last few trading days looked up (one calendar serves many symbols, on different days). */
  private readonly recent: TradingDay[] = [];

  constructor(hours: SessionHours = US_EQUITY_HOURS) {
    this.hours = hours;
  }

  tradingDayAt(epochMs: number): TradingDay {
    const recent = this.recent;
    for (let i = 0; i < recent.length; i++) {
      const c = recent[i] as TradingDay;
      if (epochMs >= c.start && epochMs < c.end) return c;
    }
    const l = localDateTime(epochMs, this.timeZone);
    const day = this.dayOf(l.year, l.month, l.day);
    if (recent.length >= RECENT_DAYS) recent.pop();
    recent.unshift(day);
    return day;
  }

  sessionAt(epochMs: number): SessionOrClosed {
    const d = this.tradingDayAt(epochMs);
    if (d.preOpen === undefined || d.regularOpen === undefined) return 'closed';
    if (epochMs < d.preOpen) return 'closed';
    if (epochMs < d.regularOpen) return 'pre';
    if (epochMs < (d.regularClose as number)) return 'regular';
    if (epochMs < (d.postClose as number)) return 'post';
    return 'closed';
  }

  /** The trading day of a New York calendar date. */
  dayOf(year: number, month: number, day: number): TradingDay {
    const tz = this.timeZone;
    const next = addDays(year, month, day, 1);
    const start = instantOf(year, month, day, 0, 0, tz);
    const end = instantOf(next.year, next.month, next.day, 0, 0, tz);
    const date = isoDate(year, month, day);
    const status = nyseDayStatus(year, month, day);
    if (status.kind === 'weekend') return { date, start, end, kind: 'weekend' };
    if (status.kind === 'holiday') return { date, start, end, kind: 'holiday', note: status.name };
    const h = this.hours;
    const early = status.kind === 'early-close';
    const at = (minutes: number) => instantOf(year, month, day, Math.floor(minutes / 60), minutes % 60, tz);
    return {
      date,
      start,
      end,
      kind: status.kind,
      ...(early ? { note: status.reason } : {}),
      preOpen: at(h.preOpen),
      regularOpen: at(h.regularOpen),
      regularClose: at(early ? h.earlyRegularClose : h.regularClose),
      postClose: at(early ? h.earlyPostClose : h.postClose),
    };
  }
}

/**
 * A market without sessions whose trading day rolls at a fixed local time: `rollMinutes` after
 * local midnight in `timeZone` starts the NEXT date's trading day (0 = rolls at midnight).
 */
export class ContinuousCalendar implements ExchangeCalendar {
  readonly id: string;
  readonly timeZone: string;
  readonly hasSessions = false;
  readonly rollMinutes: number;
  private cached: TradingDay | undefined;

  constructor(id: string, timeZone: string, rollMinutes: number) {
    this.id = id;
    this.timeZone = timeZone;
    this.rollMinutes = rollMinutes;
  }

  tradingDayAt(epochMs: number): TradingDay {
    const c = this.cached;
    if (c !== undefined && epochMs >= c.start && epochMs < c.end) return c;
    const l = localDateTime(epochMs, this.timeZone);
    const minuteOfDay = l.hour * 60 + l.minute;
    // At or after the roll time the instant belongs to the next date's trading day.
    const d =
      this.rollMinutes > 0 && minuteOfDay >= this.rollMinutes ? addDays(l.year, l.month, l.day, 1) : l;
    const day = this.dayOf(d.year, d.month, d.day);
    this.cached = day;
    return day;
  }

  sessionAt(_epochMs: number): SessionOrClosed {
    return 'none';
  }

  dayOf(year: number, month: number, day: number): TradingDay {
    const tz = this.timeZone;
    const h = Math.floor(this.rollMinutes / 60);
    const m = this.rollMinutes % 60;
    const prev = this.rollMinutes > 0 ? addDays(year, month, day, -1) : { year, month, day };
    const next = this.rollMinutes > 0 ? { year, month, day } : addDays(year, month, day, 1);
    return {
      date: isoDate(year, month, day),
      start: instantOf(prev.year, prev.month, prev.day, h, m, tz),
      end: instantOf(next.year, next.month, next.day, h, m, tz),
      kind: 'continuous',
    };
  }
}

/** A foreign-exchange suffix in a Yahoo symbol (`0700.HK`, `VOD.L`, `SAP.DE`): no bundled calendar. */
const FOREIGN_EXCHANGE_SUFFIX = /\.[A-Z]{1,2}$/;

/**
 * The calendar for a symbol, by its Yahoo spelling. Returns a new instance (each keeps its own
 * one-day cache, so give each per-symbol aggregate its own).
 */
/** Calendars hold no per-symbol state (only a memo of recent days): one instance each serves all symbols. */
let shared:
  | {
      us: UsEquityCalendar;
      crypto: ContinuousCalendar;
      fx: ContinuousCalendar;
      future: ContinuousCalendar;
      unknown: ContinuousCalendar;
    }
  | undefined;

export function calendarForSymbol(symbol: string): ExchangeCalendar {
  shared ??= {
    us: new UsEquityCalendar(),
    crypto: new ContinuousCalendar('CRYPTO-24x7', 'UTC', 0),
    fx: new ContinuousCalendar('FX-24x5', 'America/New_York', 17 * 60),
    future: new ContinuousCalendar('CME-GLOBEX', 'America/New_York', 18 * 60),
    unknown: new ContinuousCalendar('UNKNOWN-UTC', 'UTC', 0),
  };
  switch (assetClassOf(symbol)) {
    case 'crypto':
      return shared.crypto;
    case 'fx':
      return shared.fx;
    case 'future':
      return shared.future;
    case 'index':
      return shared.us;
    case 'equity':
      // Yahoo writes US share classes with a dash (BRK-B); a 1–2 letter dot suffix is an exchange.
      return FOREIGN_EXCHANGE_SUFFIX.test(symbol) ? shared.unknown : shared.us;
  }
}
