/**
 * NYSE / Nasdaq holiday and early-close rules (the US equity calendar), computed from the rules the
 * exchanges publish rather than typed as a table, so every year works. Dates are New York calendar
 * dates `YYYY-MM-DD`.
 *
 * Full-day holidays: New Year's Day, Martin Luther King Jr. Day (3rd Monday of January), Washington's
 * Birthday (3rd Monday of February), Good Friday, Memorial Day (last Monday of May), Juneteenth
 * (June 19, from 2022), Independence Day, Labor Day (1st Monday of September), Thanksgiving (4th
 * Thursday of November), Christmas. A fixed-date holiday on a Saturday is observed on the Friday
 * before, on a Sunday on the Monday after — except New Year's Day on a Saturday, which is not
 * observed at all (NYSE Rule 7.2: the Friday before would close the previous year's last session).
 *
 * Early closes (13:00 New York): the day after Thanksgiving; December 24 when it is a Monday to
 * Thursday; July 3 when it is a Monday to Thursday (when July 3 is a Friday it is the observed
 * Independence Day instead).
 *
 * Unscheduled closures (weather, national days of mourning) follow no rule; the known ones since
 * 2010 are listed in `UNSCHEDULED_CLOSURES`.
 */
import { addDays, isoDate, weekdayOf } from './zone.ts';

export interface MarketHoliday {
  readonly date: string;
  readonly name: string;
}

/** Closures announced ad hoc (no rule can compute them). */
export const UNSCHEDULED_CLOSURES: readonly MarketHoliday[] = [
  { date: '2012-10-29', name: 'Hurricane Sandy' },
  { date: '2012-10-30', name: 'Hurricane Sandy' },
  { date: '2018-12-05', name: 'National Day of Mourning for President George H. W. Bush' },
  { date: '2025-01-09', name: 'National Day of Mourning for President Jimmy Carter' },
];

/**
 * Easter Sunday of a Gregorian year: the anonymous Gregorian algorithm (Meeus/Jones/Butcher),
 * as published in Meeus, "Astronomical Algorithms", ch. 8.
 */
export function easterSunday(year: number): { year: number; month: number; day: number } {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return { year, month, day };
}

/** Day of month of the n-th (1-based) given weekday in a month; n = -1 means the last. */
export function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  if (n > 0) {
    const first = weekdayOf(year, month, 1);
    return 1 + ((weekday - first + 7) % 7) + (n - 1) * 7;
  }
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const last = weekdayOf(year, month, lastDay);
  return lastDay - ((last - weekday + 7) % 7);
}

/** A fixed-date holiday moved to its observed weekday (Saturday → Friday, Sunday → Monday). */
function observed(year: number, month: number, day: number): string {
  const wd = weekdayOf(year, month, day);
  if (wd === 6) {
    const f = addDays(year, month, day, -1);
    return isoDate(f.year, f.month, f.day);
  }
  if (wd === 0) {
    const m = addDays(year, month, day, 1);
    return isoDate(m.year, m.month, m.day);
  }
  return isoDate(year, month, day);
}

const holidayCache = new Map<number, ReadonlyMap<string, string>>();

/** NYSE full-day closures of a year (rule-based holidays plus the unscheduled ones), date → name. */
export function nyseHolidays(year: number): ReadonlyMap<string, string> {
  const cached = holidayCache.get(year);
  if (cached) return cached;
  const h = new Map<string, string>();
  const add = (date: string, name: string) => {
    if (date.startsWith(`${year}-`)) h.set(date, name);
  };
  // New Year's Day: Sunday → Monday; Saturday → not observed.
  if (weekdayOf(year, 1, 1) !== 6) add(observed(year, 1, 1), "New Year's Day");
  add(isoDate(year, 1, nthWeekday(year, 1, 1, 3)), 'Martin Luther King Jr. Day');
  add(isoDate(year, 2, nthWeekday(year, 2, 1, 3)), "Washington's Birthday");
  const easter = easterSunday(year);
  const gf = addDays(easter.year, easter.month, easter.day, -2);
  add(isoDate(gf.year, gf.month, gf.day), 'Good Friday');
  add(isoDate(year, 5, nthWeekday(year, 5, 1, -1)), 'Memorial Day');
  if (year >= 2022) add(observed(year, 6, 19), 'Juneteenth National Independence Day');
  add(observed(year, 7, 4), 'Independence Day');
  add(isoDate(year, 9, nthWeekday(year, 9, 1, 1)), 'Labor Day');
  add(isoDate(year, 11, nthWeekday(year, 11, 4, 4)), 'Thanksgiving Day');
  add(observed(year, 12, 25), 'Christmas Day');
  for (const u of UNSCHEDULED_CLOSURES) add(u.date, u.name);
  holidayCache.set(year, h);
  return h;
}

const earlyCache = new Map<number, ReadonlyMap<string, string>>();

/** NYSE early closes (13:00 New York) of a year, date → reason. */
export function nyseEarlyCloses(year: number): ReadonlyMap<string, string> {
  const cached = earlyCache.get(year);
  if (cached) return cached;
  const e = new Map<string, string>();
  const holidays = nyseHolidays(year);
  const weekdayMonToThu = (m: number, d: number) => {
    const wd = weekdayOf(year, m, d);
    return wd >= 1 && wd <= 4;
  };
  if (weekdayMonToThu(7, 3)) e.set(isoDate(year, 7, 3), 'Independence Day eve');
  const thanksgiving = nthWeekday(year, 11, 4, 4);
  e.set(isoDate(year, 11, thanksgiving + 1), 'Day after Thanksgiving');
  if (weekdayMonToThu(12, 24)) e.set(isoDate(year, 12, 24), 'Christmas Eve');
  for (const date of e.keys()) if (holidays.has(date)) e.delete(date);
  earlyCache.set(year, e);
  return e;
}

export type DayStatus =
  | { readonly kind: 'weekend' }
  | { readonly kind: 'holiday'; readonly name: string }
  | { readonly kind: 'early-close'; readonly reason: string }
  | { readonly kind: 'full' };

/** Whether a New York calendar date is a weekend, a holiday, an early close or a full session. */
export function nyseDayStatus(year: number, month: number, day: number): DayStatus {
  const wd = weekdayOf(year, month, day);
  if (wd === 0 || wd === 6) return { kind: 'weekend' };
  const date = isoDate(year, month, day);
  const holiday = nyseHolidays(year).get(date);
  if (holiday !== undefined) return { kind: 'holiday', name: holiday };
  const early = nyseEarlyCloses(year).get(date);
  if (early !== undefined) return { kind: 'early-close', reason: early };
  return { kind: 'full' };
}
