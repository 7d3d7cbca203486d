import { calendarForSymbol, type ExchangeCalendar } from '../../domain/calendar/calendar.ts';
import { instantOf, localDateTime } from '../../domain/calendar/zone.ts';
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
  const hh = String(hour).padStart(2, '0');
  const mm = String(minute).padStart(2, '0');
  // Not a date or time of any zone (February 30, month 13, hour 24): not for a DST change to explain.
  const c = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    c.getUTCMonth() !== month - 1 ||
    c.getUTCDate() !== day ||
    c.getUTCHours() !== hour ||
    c.getUTCMinutes() !== minute ||
    c.getUTCSeconds() !== second
  )
    throw new RangeError(
      `${year}-${month}-${day} ${hh}:${mm}:${String(second).padStart(2, '0')} is not a valid date and time`,
    );
  const t = instantOf(year, month, day, hour, minute, timeZone) + second * 1000;
  const l = localDateTime(t, timeZone);
  if (l.year !== year || l.month !== month || l.day !== day || l.hour !== hour || l.minute !== minute) {
    throw new RangeError(
      `${year}-${month}-${day} ${hh}:${mm} does not exist in ${timeZone} (skipped by a daylight-saving change)`,
    );
  }
  return t;
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
  const w = localDateTime(start, calendarOf(symbol).timeZone);
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
    const w = localDateTime(t, NEW_YORK);
    if (w.weekday === 6) return false;
    if (w.weekday === 0) return w.hour >= 17;
    if (w.weekday === 5) return w.hour < 17;
    return true;
  }
  const s = calendarOf(symbol).sessionAt(t);
  if (s === 'regular' || s === 'none') return true;
  return extendedHours && (s === 'pre' || s === 'post');
}
