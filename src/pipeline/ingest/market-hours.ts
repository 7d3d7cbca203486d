import { calendarForSymbol, type ExchangeCalendar } from '../../domain/calendar/calendar.ts';
import { localDateTime, readingsOf } from '../../domain/calendar/zone.ts';
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

/** Throws when the fields name no date and time of any calendar (February 30, month 13, hour 24). */
export function assertDateAndTime(...fields: [number, number, number, number, number, number?]): void {
  const [year, month, day, hour, minute, second = 0] = fields;
  const c = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    c.getUTCMonth() !== month - 1 ||
    c.getUTCDate() !== day ||
    c.getUTCHours() !== hour ||
    c.getUTCMinutes() !== minute ||
    c.getUTCSeconds() !== second
  ) {
    const [hh, mm, ss] = [hour, minute, second].map((n) => String(n).padStart(2, '0'));
    throw new RangeError(`${year}-${month}-${day} ${hh}:${mm}:${ss} is not a valid date and time`);
  }
}

/**
 * The instant at which the wall clock in `timeZone` reads the given time. A time that does not
 * exist (skipped by a spring-forward change) is an error. A time a fall-back change repeats (01:30
 * on 2024-11-03 in New York) is its first (daylight) reading, unless that is before `after` (the
 * file's previous row) and the second (standard) reading is after it: a file in time order that
 * steps back an hour in local time has crossed the change.
 */
export function zonedTimeToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second = 0,
  timeZone: string = NEW_YORK,
  after?: number,
): number {
  // Not a date or time of any zone (February 30, month 13, hour 24): not for a DST change to explain.
  assertDateAndTime(year, month, day, hour, minute, second);
  const hh = String(hour).padStart(2, '0');
  const mm = String(minute).padStart(2, '0');
  const [first, repeated] = readingsOf(year, month, day, hour, minute, timeZone).map(
    (t) => t + second * 1000,
  );
  if (first === undefined) {
    throw new RangeError(
      `${year}-${month}-${day} ${hh}:${mm} does not exist in ${timeZone} (skipped by a daylight-saving change)`,
    );
  }
  return after !== undefined && first < after && repeated !== undefined && repeated > after
    ? repeated
    : first;
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
