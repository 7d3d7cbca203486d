/**
 * Time-zone arithmetic on `Intl.DateTimeFormat` (no dependency). Exchange calendars ask two
 * questions: "what is the local calendar date and clock time at this instant?" and "which instant
 * is this local date and clock time?"; both are right on either side of a daylight-saving change.
 */

export interface LocalDateTime {
  readonly year: number;
  readonly month: number; // 1..12
  readonly day: number; // 1..31
  readonly hour: number; // 0..23
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday … 6 = Saturday (of the local date). */
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
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
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a clear error for a zone name the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  try {
    formatterFor(timeZone);
  } catch {
    throw new RangeError(`unknown time zone: ${timeZone}`);
  }
}

/** The local date and wall-clock time in `timeZone` at the instant `epochMs`. */
export function localDateTime(epochMs: number, timeZone: string): LocalDateTime {
  const parts = formatterFor(timeZone).formatToParts(epochMs);
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        year = Number(p.value);
        break;
      case 'month':
        month = Number(p.value);
        break;
      case 'day':
        day = Number(p.value);
        break;
      case 'hour':
        hour = Number(p.value);
        break;
      case 'minute':
        minute = Number(p.value);
        break;
      case 'second':
        second = Number(p.value);
        break;
    }
  }
  return { year, month, day, hour, minute, second, weekday: weekdayOf(year, month, day) };
}

/** Offset of local time from UTC in ms at the instant `epochMs` (e.g. -4 h for New York in summer). */
export function zoneOffsetMs(epochMs: number, timeZone: string): number {
  const l = localDateTime(epochMs, timeZone);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  const wholeSecond = Math.floor(epochMs / 1000) * 1000;
  return asUtc - wholeSecond;
}

/**
 * The instants at which the wall clock in `timeZone` shows the given local date and time, earliest
 * first: one; two where a fall-back change repeats it; none in a spring-forward gap.
 */
export function readingsOf(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number[] {
  return readings(Date.UTC(year, month - 1, day, hour, minute), timeZone);
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local date and time.
 * A local time skipped by a spring-forward change resolves to the instant after the gap; a time
 * that occurs twice (fall back) resolves to the first occurrence.
 */
export function instantOf(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const local = Date.UTC(year, month - 1, day, hour, minute);
  return readings(local, timeZone)[0] ?? Math.max(...candidates(local, timeZone));
}

/** `local`: the local date and time's fields read as if UTC. */
function readings(local: number, timeZone: string): number[] {
  return candidates(local, timeZone)
    .filter((t) => zoneOffsetMs(t, timeZone) === local - t)
    .sort((a, b) => a - b);
}

/**
 * The local time read with the zone's offsets a day before and a day after (the same, unless a
 * change falls between): each is a reading of it if the zone has that offset there.
 */
function candidates(local: number, timeZone: string): number[] {
  const offsets = new Set([zoneOffsetMs(local - DAY_MS, timeZone), zoneOffsetMs(local + DAY_MS, timeZone)]);
  return [...offsets].map((offset) => local - offset);
}

const DAY_MS = 86_400_000;

/** Day of week of a calendar date (0 = Sunday). */
export function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** `YYYY-MM-DD` for a calendar date. */
export function isoDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`;
}

/** Adds whole days to a calendar date. */
export function addDays(
  year: number,
  month: number,
  day: number,
  days: number,
): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}
