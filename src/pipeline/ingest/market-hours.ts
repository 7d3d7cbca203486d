import { calendarForSymbol, type ExchangeCalendar } from '../../domain/calendar/calendar.ts';
import { assetClassOf, type Session } from '../../domain/market/index.ts';

/**
 * Market hours for ingestion, on the domain's exchange calendars (NYSE sessions, holidays and
 * early closes for US equities and indices; continuous markets for crypto, FX and futures), and
 * wall-clock helpers for parsing exchange-local times in replay files.
 */
export const NEW_YORK = 'America/New_York';

const calendars = new Map<string, ExchangeCalendar>();
function calendarOf(symbol: string): ExchangeCalendar {
  let c = calendars.get(symbol);
  if (!c) {
    c = calendarForSymbol(symbol);
    calendars.set(symbol, c);
  }
  return c;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = fmtCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    fmtCache.set(timeZone, f);
  }
  return f;
}

export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday … 6 = Saturday */
  readonly weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The wall-clock reading in `timeZone` at instant `t` (epoch ms). */
export function wallClock(t: number, timeZone: string = NEW_YORK): WallClock {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
  };
}

/** Offset of `timeZone` from UTC at instant `t`, in ms (New York in winter: −5 h). */
export function zoneOffsetMs(t: number, timeZone: string = NEW_YORK): number {
  const w = wallClock(t, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` reads the given time. A time that does not
 * exist (skipped by a spring-forward change) is an error; an ambiguous one (repeated by a
 * fall-back change) resolves to its first occurrence (daylight time).
 */
export function zonedTimeToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second = 0,
  timeZone: string = NEW_YORK,
): number {
  const naive = Date.UTC(year, month - 1, day, hour, minute, second);
  const candidates = new Set<number>();
  for (const probe of [naive - 12 * 3_600_000, naive + 12 * 3_600_000]) {
    candidates.add(naive - zoneOffsetMs(probe, timeZone));
  }
  const matching = [...candidates]
    .filter((t) => {
      const w = wallClock(t, timeZone);
      return (
        w.year === year &&
        w.month === month &&
        w.day === day &&
        w.hour === hour &&
        w.minute === minute &&
        w.second === second
      );
    })
    .sort((a, b) => a - b);
  const first = matching[0];
  if (first === undefined) {
    const hh = String(hour).padStart(2, '0');
    const mm = String(minute).padStart(2, '0');
    throw new RangeError(
      `${year}-${month}-${day} ${hh}:${mm} does not exist in ${timeZone} (skipped by a daylight-saving change)`,
    );
  }
  return first;
}

/**
 * Session label for a bar of `symbol` starting at `start`: the calendar's session (`none` for
 * markets without sessions). A bar the calendar calls closed (outside extended hours, or on a
 * holiday a file still has data for) is labelled pre before the regular open's minute of day and
 * post after it.
 */
export function sessionOf(symbol: string, start: number): Session {
  const s = calendarOf(symbol).sessionAt(start);
  if (s !== 'closed') return s;
  const w = wallClock(start, calendarOf(symbol).timeZone);
  return w.hour * 60 + w.minute < 9 * 60 + 30 ? 'pre' : 'post';
}

/**
 * Whether `symbol` trades at `t`: crypto always; FX and futures Sunday 17:00 to Friday 17:00 New
 * York time (no polling on weekends); equities and indices in the regular session of a trading
 * day, or also pre/post when `extendedHours`.
 */
export function isMarketOpen(symbol: string, t: number, extendedHours = false): boolean {
  const cls = assetClassOf(symbol);
  if (cls === 'crypto') return true;
  if (cls === 'fx' || cls === 'future') {
    const w = wallClock(t);
    if (w.weekday === 6) return false;
    if (w.weekday === 0) return w.hour >= 17;
    if (w.weekday === 5) return w.hour < 17;
    return true;
  }
  const s = calendarOf(symbol).sessionAt(t);
  if (s === 'regular' || s === 'none') return true;
  return extendedHours && (s === 'pre' || s === 'post');
}
