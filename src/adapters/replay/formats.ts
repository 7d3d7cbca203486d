import {
  type Bar,
  decodeMarketEvent,
  formatIssues,
  type MarketEvent,
  ONE_MINUTE_MS,
  validateBar,
  validateTick,
} from '../../domain/market/index.ts';
import {
  assertDateAndTime,
  NEW_YORK,
  sessionOf,
  zonedTimeToUtc,
} from '../../pipeline/ingest/market-hours.ts';
import type { SourceIssue } from '../../ports/market-source.ts';
import { type ChartLike, chartToBars, rawChartToChartLike } from '../yahoo/map.ts';

/**
 * Replay file formats:
 * - `yahoo-chart`: a Yahoo `/v8/finance/chart` response, raw or as yahoo-finance2 records it
 *   (`{request, response: {bodyJson | body}}`); null bars and the trailing bar are dropped.
 * - `csv`: a header row, then one bar (open/high/low/close[/volume]) or tick (price) per row; the
 *   time column is the first of bar_start_utc, start, timestamp, time, datetime, date,
 *   bar_start_et; ISO-8601 with a zone, epoch seconds/ms (from 1973), or a local time in `timeZone`;
 *   or a `date` column (YYYY-MM-DD, YYYYMMDD, M/D/YYYY) with a `time` column of clock times, local.
 * - `ninjatrader`: `YYYYMMDD HHMMSS;open;high;low;close;volume`, the time marks the bar END; UTC
 *   (as NinjaTrader exports), or the `timeZone` given.
 * - `mdy-ny`: a CSV whose time is `M/D/YYYY H:MM` (bar start), New York time or the `timeZone` given.
 * - `ndjson`: one stream envelope per line, `{"v":1,"kind":"tick"|"bar","data":{…}}`.
 * Any of them may be gzip-compressed (the replay source decompresses it as it reads).
 */
export const REPLAY_FORMATS = ['yahoo-chart', 'csv', 'ninjatrader', 'mdy-ny', 'ndjson'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

const NINJA = /^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2});/;
/** `M/D/YYYY` and a {@link CLOCK} time in one cell (`1/2/2024 9:30`, Excel's `1/2/2024 9:30:00 AM`). */
const MDY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ T]+(\S.*)$/;
/** The written date and time of an ISO-8601 time with a zone. */
const ZONED_ISO = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/;
/** A date and time ending in an offset of hours alone (`+00`, `-04`). */
const HOURS_OFFSET = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?[+-]\d{2}$/;
const LOCAL_ISO = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
const TIME_COLUMNS = ['bar_start_utc', 'start', 'timestamp', 'time', 'datetime', 'date', 'bar_start_et'];

/** Detects the format from the start of a file (its first few KB). */
export function detectFormat(head: string): ReplayFormat {
  const text = head.replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const first = lines[0]?.trim() ?? '';
  if (first.startsWith('{')) {
    try {
      const o = JSON.parse(first) as Record<string, unknown>;
      if ('kind' in o && 'data' in o) return 'ndjson';
    } catch {
      // a multi-line JSON document
    }
    return 'yahoo-chart';
  }
  if (NINJA.test(first)) return 'ninjatrader';
  if (semicolonSeparated(first)) throw new Error(semicolonsRefused(first));
  if (first.includes(',') && lines[1] !== undefined) {
    const header = splitCsv(first).map((h) => h.toLowerCase());
    const timeIdx = header.findIndex((h) => TIME_COLUMNS.includes(h));
    const value = splitCsv(lines[1])[timeIdx] ?? '';
    if (mdyTime(value.trim())) return 'mdy-ny';
    return 'csv';
  }
  throw new Error(
    `cannot detect the replay format from the first line ${JSON.stringify(first.slice(0, 80))}; pass --format (${REPLAY_FORMATS.join(', ')})`,
  );
}

/**
 * Whether a CSV's first line separates its cells with semicolons, as European tools write a CSV (the
 * comma being their decimal mark): no comma, and a semicolon.
 */
const semicolonSeparated = (line: string): boolean => line.includes(';') && !line.includes(',');

const semicolonsRefused = (line: string): string =>
  `the first line ${JSON.stringify(line.slice(0, 80))} separates its cells with semicolons (a European CSV?); ` +
  'the replay reads a CSV of commas and decimal points (225.89): convert the file (semicolons to commas, ' +
  'decimal commas to points), or export it so';

/**
 * The cells of a CSV line, trimmed: a cell in double quotes may hold commas (`"1,205,461"`) and
 * doubled quotes (`""`).
 */
export function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch !== '"') cell += ch;
      else if (line[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (ch === ',') {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

/**
 * The columns of a CSV header line (lower-case), checked to have a time column. `symbol` among them
 * means the file names each row's symbol.
 */
export function csvHeader(line: string): string[] {
  if (semicolonSeparated(line)) throw new Error(semicolonsRefused(line));
  const cols = splitCsv(line.replace(/^\uFEFF/, '')).map((h) => h.toLowerCase());
  if (!TIME_COLUMNS.some((t) => cols.includes(t)))
    throw new Error(`CSV header has no time column (one of ${TIME_COLUMNS.join(', ')}): ${line}`);
  return cols;
}

/** The symbol an NDJSON stream envelope line names (`data.symbol`, a string), or undefined. */
export function envelopeSymbol(line: string): string | undefined {
  try {
    const s = (JSON.parse(line) as { data?: { symbol?: unknown } } | null)?.data?.symbol;
    return typeof s === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

export interface ParseContext {
  /** Symbol for files that carry none (NinjaTrader, M/D/YYYY, CSV without a symbol column). */
  readonly symbol?: string;
  /**
   * Zone of local (zone-less) times: in CSV and M/D/YYYY files (default America/New_York) and in
   * NinjaTrader files (default UTC, the zone NinjaTrader exports in).
   */
  readonly timeZone?: string;
  /** Clock for the "not in the future" check. */
  readonly now?: number;
}

export type LineResult = { event: MarketEvent } | { issue: SourceIssue } | null;

function bar(
  symbol: string,
  start: number,
  raw: Record<'open' | 'high' | 'low' | 'close' | 'volume', string | undefined>,
  at: string,
  now: number,
  style?: NumberStyle,
): LineResult {
  const n = numbers(raw, style);
  if ('field' in n) return { issue: { symbol, at, field: n.field, reason: n.reason } };
  const candidate: Omit<Bar, 'session'> & { session: Bar['session'] } = {
    symbol,
    start,
    interval: '1m',
    ...n.values,
    session: safeSession(symbol, start),
    source: 'replay',
  };
  const r = validateBar(candidate, now);
  return r.ok
    ? { event: { kind: 'bar', bar: r.value } }
    : { issue: { symbol, at, reason: formatIssues(r.issues) } };
}

function safeSession(symbol: string, start: number): Bar['session'] {
  try {
    return sessionOf(symbol, start);
  } catch {
    return 'none';
  }
}

/** A decimal number: sign, fraction and exponent allowed (`-1.5`, `.5`, `2.2589e2`); no hex, binary or octal. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
/** A decimal number with comma thousands separators in groups of three (`1,205,461`, `3,080.49`). */
const GROUPED = /^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/;
/** A number written with a decimal comma, as European tools write it (`225,89`, `0,512`), when not {@link GROUPED}. */
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;
/** A {@link GROUPED} number that a decimal comma would read otherwise: one group, no point (`1,234`). */
const ONE_GROUP = /^[+-]?\d{1,3},\d{3}$/;

/**
 * What a file's number cells have shown: a decimal comma (`225,89`), after which a cell like
 * `1,234` is no longer read as one thousand two hundred and thirty-four.
 */
interface NumberStyle {
  decimalComma: boolean;
}

/**
 * The numbers of a row's cells, or the first cell that is missing or not a decimal number. A cell
 * with a decimal comma is refused, and marks the file's `style`: its later `1,234`-like cells, which
 * a comma thousands separator and a decimal comma read a thousand times apart, are refused too.
 */
function numbers<K extends string>(
  raw: Record<K, string | undefined>,
  style: NumberStyle = { decimalComma: false },
): { values: Record<K, number> } | { field: K; reason: string } {
  const values = {} as Record<K, number>;
  const commaHint = (s: string) =>
    `${JSON.stringify(s)}: the file writes decimal commas (a European CSV?); the replay reads decimal points (225.89), and a comma as a thousands separator only (1,205,461): convert the file`;
  for (const k of Object.keys(raw) as K[]) {
    const s = raw[k]?.trim() ?? '';
    if (style.decimalComma && ONE_GROUP.test(s)) return { field: k, reason: `${k} ${commaHint(s)}` };
    const n = DECIMAL.test(s) ? Number(s) : GROUPED.test(s) ? Number(s.replaceAll(',', '')) : Number.NaN;
    if (Number.isNaN(n)) {
      if (DECIMAL_COMMA.test(s)) {
        style.decimalComma = true;
        return { field: k, reason: `${k} ${commaHint(s)}` };
      }
      return {
        field: k,
        reason: s === '' ? `${k} is missing` : `${k} ${JSON.stringify(s)} is not a decimal number`,
      };
    }
    values[k] = n;
  }
  return { values };
}

function requireSymbol(ctx: ParseContext, format: string): string {
  if (!ctx.symbol) throw new Error(`${format} files carry no symbol: pass --symbol (e.g. --symbol SPY)`);
  return ctx.symbol;
}

/** A line parser for a line-based format; the first call receives the header when there is one. */
export function lineParser(
  format: Exclude<ReplayFormat, 'yahoo-chart'>,
  ctx: ParseContext,
): (line: string, lineNo: number) => LineResult {
  const now = ctx.now ?? Date.now();
  switch (format) {
    case 'ndjson':
      return (line, n) => {
        if (line.trim() === '') return null;
        const r = decodeMarketEvent(line, now);
        if (r.ok) return { event: r.value };
        // The symbol the row names, if any: its issue is that symbol's (a --symbol replay skips others').
        const symbol = envelopeSymbol(line);
        return {
          issue: {
            ...(symbol !== undefined ? { symbol } : {}),
            at: `line ${n}`,
            reason: formatIssues(r.issues),
          },
        };
      };
    case 'ninjatrader': {
      const symbol = requireSymbol(ctx, 'NinjaTrader');
      const zone = ctx.timeZone ?? 'UTC';
      const style: NumberStyle = { decimalComma: false };
      let lastEnd: number | undefined;
      return (line, n) => {
        if (line.trim() === '') return null;
        const at = `line ${n}`;
        const m = NINJA.exec(line);
        if (!m)
          return {
            issue: {
              symbol,
              at,
              field: 'time',
              reason: `expected "YYYYMMDD HHMMSS;open;high;low;close;volume", got ${JSON.stringify(line.slice(0, 60))}`,
            },
          };
        let end: number;
        try {
          end = zonedTimeToUtc(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, zone, lastEnd);
        } catch (err) {
          return { issue: { symbol, at, field: 'time', reason: (err as Error).message } };
        }
        lastEnd = Math.max(lastEnd ?? end, end);
        const f = line.trim().split(';');
        // NinjaTrader stamps the bar's END: the bar started one minute earlier.
        if (f.length !== 6)
          return { issue: { symbol, at, reason: `${f.length} fields where the format has 6` } };
        return bar(
          symbol,
          end - ONE_MINUTE_MS,
          { open: f[1], high: f[2], low: f[3], close: f[4], volume: f[5] },
          at,
          now,
          style,
        );
      };
    }
    case 'csv':
    case 'mdy-ny': {
      let cols: string[] | undefined;
      const style: NumberStyle = { decimalComma: false };
      const zone = ctx.timeZone ?? NEW_YORK;
      /** Each symbol's latest row time: which of a local time's two readings at a fall-back change follows it. */
      const latest = new Map<string, number>();
      return (line, n) => {
        if (line.trim() === '') return null;
        const at = `line ${n}`;
        if (!cols) {
          cols = csvHeader(line);
          if (!cols.includes('symbol') && !ctx.symbol) {
            throw new Error('CSV has no symbol column: pass --symbol (e.g. --symbol ^GSPC)');
          }
          return null;
        }
        const cells = splitCsv(line);
        if (cells.length !== cols.length)
          return {
            issue: {
              ...(ctx.symbol ? { symbol: ctx.symbol } : {}),
              at,
              reason: `${cells.length} fields where the header has ${cols.length} (a comma in an unquoted value?)`,
            },
          };
        const get = (name: string) => {
          const i = cols!.indexOf(name);
          return i < 0 ? undefined : cells[i];
        };
        // Yahoo symbols are upper-case and read case-blind (`aapl` is AAPL, `brk-b` BRK-B, `^gspc` ^GSPC).
        const symbol = get('symbol')?.toUpperCase() || ctx.symbol || '';
        const timeCol = TIME_COLUMNS.find((t) => cols!.includes(t))!;
        const raw = get(timeCol) ?? '';
        let time: number;
        // `Date,Time` (as many brokers export): a date in one column, the clock time in the other.
        const clock = timeCol === 'time' && cols.includes('date') ? CLOCK.exec(raw.trim()) : null;
        let field = timeCol;
        try {
          if (clock) {
            field = 'date';
            const [year, month, day] = parseDate(get('date') ?? '');
            field = 'time';
            time = clockTimeToUtc(year, month, day, clock, zone, latest.get(symbol));
          } else time = parseTime(raw, zone, latest.get(symbol));
        } catch (err) {
          return { issue: { symbol, at, field, reason: (err as Error).message } };
        }
        latest.set(symbol, Math.max(latest.get(symbol) ?? time, time));
        if (cols.includes('price') && !cols.includes('open')) {
          const raw: Record<string, string | undefined> = { price: get('price') };
          if (cols.includes('volume')) raw.volume = get('volume');
          const n = numbers(raw, style);
          if ('field' in n) return { issue: { symbol, at, field: n.field, reason: n.reason } };
          const { price, volume } = n.values as { price: number; volume?: number };
          const r = validateTick(
            { symbol, time, price, ...(volume !== undefined ? { dayVolume: volume } : {}), source: 'replay' },
            now,
          );
          return r.ok
            ? { event: { kind: 'tick', tick: r.value } }
            : { issue: { symbol, at, reason: formatIssues(r.issues) } };
        }
        return bar(
          symbol,
          time,
          {
            open: get('open'),
            high: get('high'),
            low: get('low'),
            close: get('close'),
            // A file without a volume column (an index) has none: 0.
            volume: cols.includes('volume') ? get('volume') : '0',
          },
          at,
          now,
          style,
        );
      };
    }
  }
}

/**
 * {@link zonedTimeToUtc} of a local time whose seconds may have a fraction (its digits: `250`,
 * `123456`, truncated to milliseconds); `after` compared with the fraction counted.
 */
function zonedWithFraction(
  [year, month, day, hour, minute, second]: readonly [number, number, number, number, number, number],
  digits: string | undefined,
  zone: string,
  after: number | undefined,
): number {
  const ms = Number((digits ?? '').padEnd(3, '0').slice(0, 3));
  return (
    zonedTimeToUtc(
      year,
      month,
      day,
      hour,
      minute,
      second,
      zone,
      after === undefined ? undefined : after - ms,
    ) + ms
  );
}

/** A clock time: `9:30`, `09:30:15`, `09:30:15.250`, `9:30 AM`, or `0930` / `093015` (in a `Time` column). */
const CLOCK =
  /^(?:(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:\s*([AaPp])\.?[Mm]\.?)?|(\d{2})(\d{2})(\d{2})?)$/;

/** The month, day, year and clock time of a `M/D/YYYY <time>` cell, or undefined. */
function mdyTime(s: string): [number, number, number, RegExpExecArray] | undefined {
  const m = MDY.exec(s);
  const clock = m && CLOCK.exec(m[4]!);
  return m && clock ? [+m[1]!, +m[2]!, +m[3]!, clock] : undefined;
}

/** A `Date` cell of a file with a separate `Time` column: YYYY-MM-DD, YYYYMMDD or M/D/YYYY (month first). */
function parseDate(raw: string): [number, number, number] {
  const s = raw.trim();
  const ymd = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(s);
  if (ymd && (s.length === 8 || s.length === 10)) return [+ymd[1]!, +ymd[2]!, +ymd[3]!];
  const mdy = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  if (mdy) {
    const [month, day] = [+mdy[1]!, +mdy[2]!];
    if (month > 12 && day <= 12)
      throw new RangeError(
        `date ${JSON.stringify(s)}: ${month} is no month; the format is M/D/YYYY, month first (is the file day-first, D/M/YYYY?)`,
      );
    return [+mdy[3]!, month, day];
  }
  throw new Error(
    s === ''
      ? 'date is empty'
      : `date ${JSON.stringify(s)} is not YYYY-MM-DD, YYYYMMDD or M/D/YYYY (month first)`,
  );
}

/** The instant of a date and a {@link CLOCK} time, local in `zone` (`after`: see {@link zonedTimeToUtc}). */
function clockTimeToUtc(
  year: number,
  month: number,
  day: number,
  m: RegExpExecArray,
  zone: string,
  after: number | undefined,
): number {
  let hour = +(m[1] ?? m[6]!);
  const [minute, second] = [+(m[2] ?? m[7]!), +(m[3] ?? m[8] ?? 0)];
  const half = m[5]?.toUpperCase();
  if (half) {
    if (hour < 1 || hour > 12) throw new RangeError(`time "${m[0]}": ${hour} is no hour of a 12-hour clock`);
    hour = (hour % 12) + (half === 'P' ? 12 : 0);
  }
  return zonedWithFraction([year, month, day, hour, minute, second], m[4], zone, after);
}

/**
 * Parses a CSV time cell: ISO-8601 with a zone, epoch seconds or ms, or a local time in `zone`
 * (a local time a fall-back change repeats: see {@link zonedTimeToUtc}, `after` the previous row's time).
 */
export function parseTime(raw: string, zone: string, after?: number): number {
  const s = raw.trim();
  if (s === '') throw new Error('time is empty');
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // Epoch seconds from 1973 (9 digits) on; fewer digits are a YYYYMMDD date or an HHMMSS time,
    // which read as seconds would put the row in 1970.
    if (n < 1e8)
      throw new Error(
        `time ${JSON.stringify(s)} is no epoch time (seconds would put it in 1970); a date (YYYYMMDD) or clock time (HHMMSS) alone is not a time`,
      );
    return Math.round(n < 1e11 ? n * 1000 : n);
  }
  const mdy = mdyTime(s);
  if (mdy) {
    const [month, day, year, clock] = mdy;
    // 13/11/2019: a day-first file, whose days 1 to 12 would be read with month and day swapped.
    if (month > 12 && day <= 12)
      throw new RangeError(
        `time ${JSON.stringify(s)}: ${month} is no month; the format is M/D/YYYY, month first (is the file day-first, D/M/YYYY?)`,
      );
    return clockTimeToUtc(year, month, day, clock, zone, after);
  }
  const local = LOCAL_ISO.exec(s);
  if (local)
    return zonedWithFraction(
      [+local[1]!, +local[2]!, +local[3]!, +local[4]!, +local[5]!, +(local[6] ?? 0)],
      local[7],
      zone,
      after,
    );
  // An offset in whole hours (PostgreSQL writes a timestamptz so: `2024-10-02 13:30:00+00`), which
  // Date.parse reads in one form and not the other: given its minutes.
  const zoned = HOURS_OFFSET.test(s) ? `${s}:00` : s;
  if (/[zZ]$|[+-]\d{2}:?\d{2}$/.test(zoned)) {
    const t = Date.parse(zoned);
    if (!Number.isNaN(t)) {
      // Date.parse rolls an impossible date or time over (2024-02-30 is March 1st, 24:00 the next day).
      const f = ZONED_ISO.exec(s);
      if (f) assertDateAndTime(+f[1]!, +f[2]!, +f[3]!, +f[4]!, +f[5]!, +(f[6] ?? 0));
      return t;
    }
  }
  throw new Error(
    `time ${JSON.stringify(s)} is not ISO-8601 with a zone, epoch seconds/ms, or M/D/YYYY H:MM${CLOCK.test(s) ? ' (a clock time needs a date column beside it: Date,Time)' : ''}`,
  );
}

/**
 * The chart of a Yahoo chart document (raw, or recorded by yahoo-finance2); its `meta.symbol` names
 * the symbol. A chart of other than 1-minute bars (`meta.dataGranularity`) is refused.
 */
export function readYahooChart(text: string): ChartLike {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not a JSON document: ${(err as Error).message}`);
  }
  const rec = doc as { response?: { bodyJson?: unknown; body?: unknown }; chart?: unknown };
  const body = rec.chart
    ? rec
    : rec.response?.bodyJson !== undefined
      ? rec.response.bodyJson
      : typeof rec.response?.body === 'string'
        ? JSON.parse(rec.response.body)
        : rec;
  const chart = rawChartToChartLike(body);
  // A daily or 30-minute chart's bars would otherwise be replayed as 1-minute bars.
  const granularity = chart.meta.dataGranularity;
  if (granularity !== undefined && granularity !== '1m')
    throw new Error(
      `the chart's bars are ${JSON.stringify(granularity)} bars (meta.dataGranularity); the replay takes 1-minute bars only`,
    );
  return chart;
}

/** Bars of a Yahoo chart document (raw, or recorded by yahoo-finance2). */
export function parseYahooChart(
  text: string,
  ctx: ParseContext,
): { events: MarketEvent[]; issues: SourceIssue[] } {
  const out = chartToBars(readYahooChart(text), {
    now: ctx.now ?? Date.now(),
    ...(ctx.symbol ? { symbol: ctx.symbol } : {}),
    source: 'replay',
    sessionFor: safeSession,
  });
  return { events: out.bars.map((b) => ({ kind: 'bar', bar: b })), issues: out.issues };
}
