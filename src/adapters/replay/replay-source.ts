import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { createGunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { eventSymbol, eventTime, type MarketEvent, ONE_MINUTE_MS } from '../../domain/market/index.ts';
import { sleep } from '../../pipeline/ingest/backoff.ts';
import type { MarketSource, SourceIssue } from '../../ports/market-source.ts';
import {
  csvHeader,
  detectFormat,
  envelopeSymbol,
  lineParser,
  type ParseContext,
  parseYahooChart,
  type ReplayFormat,
  readYahooChart,
  splitCsv,
} from './formats.ts';

export type ReplaySpeed = 'max' | number;

export interface ReplayOptions extends ParseContext {
  readonly file: string;
  readonly format?: ReplayFormat | 'auto';
  /** `max`: as fast as the stream takes them; a number: that multiple of real time (1 = as it happened). */
  readonly speed?: ReplaySpeed;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
  /** Told once when a paced replay cannot keep to the file's time (a gzip file sorted by symbol). */
  readonly warn?: (message: string) => void;
}

/** A plain decimal number (`60`, `0.5`, `.5`), optionally followed by `x`: no hex, exponent or sign. */
const DECIMAL_SPEED = /^(?:\d+(?:\.\d*)?|\.\d+)x?$/i;

/** Parses a `--speed` value: `max` or a positive multiple of real time, in plain decimal. */
export function parseSpeed(s: string): ReplaySpeed {
  if (s === 'max') return 'max';
  const n = DECIMAL_SPEED.test(s) ? Number(s.replace(/x$/i, '')) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--speed must be "max" or a positive decimal number (e.g. 1, 0.5, 10, 60x), got "${s}"`);
  return n;
}

const HEAD_BYTES = 4096;

/** Rejected rows kept with their reasons; the others are counted only. */
const KEPT_ISSUES = 1000;

const stripBom = (s: string): string => s.replace(/^\uFEFF/, '');

async function fileHead(file: string, bytes = HEAD_BYTES): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Whether bytes start as gzip does (RFC 1952: ID1 0x1f, ID2 0x8b). */
const isGzip = (b: Buffer): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The text a gzip head decompresses to, as far as its bytes go. */
function gunzipHead(b: Buffer, file: string): Buffer {
  try {
    return gunzipSync(b, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new Error(`${file} starts as gzip but cannot be decompressed: ${(err as Error).message}`);
  }
}

/** A pipe read from its start: what was read for the head, and the rest, still to come. */
interface OpenedPipe {
  readonly head: Buffer[];
  readonly rest: AsyncIterator<Buffer>;
}

/** What a replay file is, known from its head (a Yahoo chart: from the whole document). */
export interface ReplayInspection {
  readonly format: ReplayFormat;
  /**
   * The file names its events' symbol (a CSV symbol column, the NDJSON envelope, the chart's meta);
   * otherwise the replay needs one given (NinjaTrader, a CSV without a symbol column).
   */
  readonly carriesSymbol: boolean;
  /** A Yahoo chart's symbol (`meta.symbol`): the one symbol the file holds. */
  readonly symbol?: string;
}

/**
 * Why a symbol flag does not fit the file, or undefined. A file that names no symbol needs one; in
 * a file that names its own it picks that symbol's rows, so it must not name another than a
 * chart's one symbol.
 */
export function symbolFlagProblem(
  file: ReplayInspection,
  fileFlag: string,
  path: string,
  symbol: string | undefined,
): string | undefined {
  if (file.symbol !== undefined && symbol !== undefined && symbol !== file.symbol)
    return `--symbol ${symbol}: ${path} (${file.format}) holds ${file.symbol}'s bars only`;
  if (!file.carriesSymbol && !symbol)
    return `${fileFlag} ${path} (${file.format}) names no symbol: pass --symbol (e.g. --symbol SPY)`;
  return undefined;
}

/** Why `--tz` does not fit the file, or undefined: NDJSON and Yahoo chart times are instants, not local times. */
export function timeZoneFlagProblem(
  file: ReplayInspection,
  path: string,
  timeZone: string | undefined,
): string | undefined {
  if (timeZone === undefined || (file.format !== 'ndjson' && file.format !== 'yahoo-chart')) return undefined;
  return `--tz: ${path} (${file.format}) has no local times; --tz is for CSV, M/D/YYYY and NinjaTrader files`;
}

/**
 * Replays a market-data file as a source: validated events in file order, each symbol's ticks and
 * its bars each strictly increasing in event time (a row out of that order is reported and skipped,
 * see OrderGuard), paced by `speed`. Bad rows are reported as issues with their line; the rest goes on.
 */
export class ReplaySource implements MarketSource {
  readonly name: string;
  private readonly o: ReplayOptions;
  private readonly found: SourceIssue[] = [];
  #rejected = 0;
  private detected: ReplayFormat | undefined;
  #head: Promise<string> | undefined;
  /** Set when the file is a pipe (`--replay <(zcat day.csv.gz)`) whose head was read: it cannot be reopened. */
  #pipe: OpenedPipe | undefined;
  #text: Promise<string> | undefined;
  /** Whether the file is gzip-compressed (known with its head). */
  #gzip = false;
  /** The one symbol replayed of a file that names its symbols (`--symbol`), else undefined. */
  #only: string | undefined;
  /** What the file is parsed with: the options, without `symbol` when that picks rows. */
  #ctx: ParseContext;
  #inspection: Promise<ReplayInspection> | undefined;

  constructor(o: ReplayOptions) {
    this.o = o;
    this.#ctx = o;
    this.name = `replay:${o.file}`;
  }

  /** The first {@link KEPT_ISSUES} rejected rows (a huge file of bad rows would not fit in memory). */
  issues(): readonly SourceIssue[] {
    return this.found;
  }

  /** Rows rejected so far, all of them. */
  rejectedCount(): number {
    return this.#rejected;
  }

  private reject(issue: SourceIssue): void {
    if (
      this.#only !== undefined &&
      issue.symbol !== undefined &&
      issue.symbol !== '' &&
      issue.symbol.toUpperCase() !== this.#only
    )
      return;
    this.#rejected++;
    if (this.found.length < KEPT_ISSUES) this.found.push(issue);
  }

  /** The format used (after detection). */
  async format(): Promise<ReplayFormat> {
    if (this.detected) return this.detected;
    const f = this.o.format && this.o.format !== 'auto' ? this.o.format : detectFormat(await this.head());
    this.detected = f;
    return f;
  }

  /**
   * The format and whether the file names its symbol, before the replay; throws, with the reason,
   * for a file that cannot be replayed as it starts (empty, of no known format, a CSV header
   * without a time column, a chart that is not JSON). Looked at once (a chart is parsed whole).
   */
  inspect(): Promise<ReplayInspection> {
    this.#inspection ??= this.lookAtFile();
    return this.#inspection;
  }

  private async lookAtFile(): Promise<ReplayInspection> {
    const head = (await this.head()).replace(/^\uFEFF/, '');
    if (head.trim() === '') throw new Error(`${this.o.file} is empty`);
    const format = await this.format();
    switch (format) {
      case 'ninjatrader':
        return { format, carriesSymbol: false };
      case 'ndjson':
        return { format, carriesSymbol: true };
      case 'yahoo-chart': {
        const symbol = readYahooChart(await this.text()).meta.symbol;
        return typeof symbol === 'string'
          ? { format, carriesSymbol: true, symbol: symbol.toUpperCase() }
          : { format, carriesSymbol: false };
      }
      case 'csv':
      case 'mdy-ny': {
        const header = head.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
        return { format, carriesSymbol: csvHeader(header).includes('symbol') };
      }
    }
  }

  /**
   * The file's first bytes (read once), decompressed when the file is gzip. A pipe's are kept: the
   * replay goes on from them.
   */
  private head(): Promise<string> {
    this.#head ??= (async () => {
      const raw = await this.rawHead();
      this.#gzip = isGzip(raw);
      return (this.#gzip ? gunzipHead(raw, this.o.file) : raw).toString('utf8');
    })();
    return this.#head;
  }

  /** The file's first bytes as they are; a pipe's kept for the replay. */
  private async rawHead(): Promise<Buffer> {
    if (!(await stat(this.o.file)).isFIFO()) return fileHead(this.o.file);
    // A pipe cannot be read at a position, nor twice: read its head from the stream, and keep it.
    const rest = createReadStream(this.o.file)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let n = 0;
    while (n < HEAD_BYTES) {
      const r = await rest.next();
      if (r.done) break;
      head.push(r.value);
      n += r.value.length;
    }
    this.#pipe = { head, rest };
    return Buffer.concat(head).subarray(0, HEAD_BYTES);
  }

  /** The file's bytes from its start (a pipe's head, then the rest of the pipe), gunzipped if gzip. */
  private async input(): Promise<Readable> {
    await this.head();
    const pipe = this.#pipe;
    this.#pipe = undefined;
    const raw = !pipe
      ? createReadStream(this.o.file)
      : Readable.from(
          (async function* () {
            yield* pipe.head;
            for (let r = await pipe.rest.next(); !r.done; r = await pipe.rest.next()) yield r.value;
          })(),
          { objectMode: false },
        );
    // pipeline: an error reading the file reaches the reader through the gunzip stream.
    return this.#gzip ? pipeline(raw, createGunzip(), () => {}) : raw;
  }

  /** The whole file as text (read once), without a byte-order mark. */
  private text(): Promise<string> {
    this.#text ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.input()) chunks.push(chunk as Buffer);
      return stripBom(Buffer.concat(chunks).toString('utf8'));
    })();
    return this.#text;
  }

  async *events(signal?: AbortSignal): AsyncGenerator<MarketEvent> {
    const format = await this.format();
    // In a file that names its symbols, `symbol` picks one: the others' rows are skipped, unpaced
    // and unreported (a row naming none is still rejected, not given that symbol).
    const only = (await this.inspect()).carriesSymbol ? this.o.symbol : undefined;
    if (only !== undefined) {
      this.#only = only;
      const { symbol: _, ...ctx } = this.o;
      this.#ctx = ctx;
    }
    const speed = this.o.speed ?? 'max';
    const clock = this.o.clock ?? Date.now;
    // The pause between events ends at once when the signal aborts (at speed 1, a minute per bar).
    const wait =
      this.o.sleep ??
      ((ms: number) => (signal ? delay(ms, undefined, { signal }).catch(() => {}) : sleep(ms)));
    let t0: number | undefined;
    let w0 = 0;
    let previous: number | undefined;
    let warned = false;
    /** The symbols paced so far. */
    const seen = new Set<string>();
    const pace = async (e: MarketEvent) => {
      if (speed === 'max') return;
      const t = eventTime(e);
      const symbol = eventSymbol(e);
      const firstOfSymbol = !seen.has(symbol);
      if (firstOfSymbol) seen.add(symbol);
      // The first event, one more than an hour before the previous one, or a symbol's first event
      // more than two minutes before it: the start of another symbol's rows in a file sorted by
      // symbol that could not be interleaved by time (a gzip file, a pipe), its rows spanning the
      // previous symbol's hour or less: its rows are paced from now, as the first symbol's were,
      // not sent unpaced until they catch up with the previous symbol's time. (A capture of the
      // live stream steps back too, a bar after the ticks of its minute, but by less.)
      if (
        t0 === undefined ||
        (previous !== undefined &&
          (previous - t > MAX_PACED_GAP_MS || (firstOfSymbol && previous - t > NEW_RUN_STEP_BACK_MS)))
      ) {
        if (t0 !== undefined && !warned) {
          warned = true;
          this.o.warn?.(
            `${this.o.file}: ${symbol}'s rows start at ${iso(t)}, before the previous rows' ${iso(previous!)}: ` +
              'the file is not in time order across its symbols (sorted by symbol?): each run of rows is paced on its own, one after the other ' +
              '(a file sorted by time, or an uncompressed file sorted by symbol, replays its symbols side by side)',
          );
        }
        t0 = t;
        w0 = clock();
        previous = t;
        return;
      }
      // A night, weekend or holiday in the data is skipped, not waited out (at --speed 60 a weekend
      // would be 80 silent minutes): the next event is due as the previous one was.
      if (t - previous! > MAX_PACED_GAP_MS) t0 += t - previous!;
      previous = t;
      const due = w0 + (t - t0) / speed;
      const delay = due - clock();
      if (delay > 0) await wait(delay);
    };

    let source: AsyncIterable<MarketEvent> | Iterable<MarketEvent>;
    if (format === 'yahoo-chart') {
      const { events, issues } = parseYahooChart(await this.text(), this.#ctx);
      for (const i of issues) this.reject(i);
      const guard = new OrderGuard((i) => this.reject(i));
      source = (function* () {
        for (const [i, e] of events.entries()) yield* guard.push(e, `bar ${i + 1}`);
        yield* guard.end();
      })();
    } else {
      // Paced, a file sorted by symbol is replayed with its symbols side by side, in time order.
      const sorted = speed === 'max' ? undefined : await this.symbolRuns(format);
      source = sorted
        ? mergeByTime(
            sorted.runs.map((b) =>
              this.lineEvents(
                format,
                createReadStream(this.o.file, { start: b.start, end: b.end - 1 }),
                b.firstLine,
                signal,
                sorted.header,
              ),
            ),
          )
        : this.lineEvents(format, await this.input(), 1, signal);
    }
    let picked = 0;
    const others = new Set<string>();
    const spacing = new BarSpacing(this.o.file, this.o.warn);
    for await (const e of source) {
      if (signal?.aborted) return;
      if (only !== undefined && eventSymbol(e) !== only) {
        if (others.size < 10) others.add(eventSymbol(e));
        continue;
      }
      picked++;
      for (const out of spacing.push(e)) {
        await pace(out);
        if (signal?.aborted) return;
        yield out;
      }
    }
    for (const out of spacing.end()) {
      await pace(out);
      if (signal?.aborted) return;
      yield out;
    }
    if (only !== undefined && picked === 0)
      this.reject({
        symbol: only,
        at: '--symbol',
        reason: `no row of ${only} in ${this.o.file}${others.size > 0 ? ` (it has ${[...others].join(', ')})` : ''}`,
      });
  }

  /**
   * The events of a line-based file, or of a run of its lines (`firstLine` its first line's number;
   * `header`, a CSV header, read first), each symbol's in sequence (see OrderGuard).
   */
  private async *lineEvents(
    format: Exclude<ReplayFormat, 'yahoo-chart'>,
    input: Readable,
    firstLine: number,
    signal: AbortSignal | undefined,
    header?: { readonly line: string; readonly lineNo: number },
  ): AsyncGenerator<MarketEvent> {
    const parse = lineParser(format, this.#ctx);
    if (header) parse(header.line, header.lineNo);
    const guard = new OrderGuard((i) => this.reject(i));
    const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let n = firstLine - 1;
    try {
      for await (const line of rl) {
        n++;
        if (signal?.aborted) return;
        // A file saved with a byte-order mark (Windows tools) has it before its first line.
        const r = parse((n === 1 ? stripBom(line) : line).replace(/\r$/, ''), n);
        if (r === null) continue;
        if ('issue' in r) {
          this.reject(r.issue);
          continue;
        }
        yield* guard.push(r.event, `line ${n}`);
      }
      yield* guard.end();
    } finally {
      rl.close();
      input.destroy();
    }
  }

  /**
   * A file whose rows are sorted by symbol (all of one symbol's, then all of the next one's), as
   * runs of bytes, one per symbol, to be read side by side: undefined for a file that is not (its
   * symbols interleaved, or one only), that names no symbol per row, or that cannot be read again
   * at a position (a pipe, a gzip file: those are replayed in file order, each run paced on its own).
   */
  private async symbolRuns(format: Exclude<ReplayFormat, 'yahoo-chart'>): Promise<SymbolRuns | undefined> {
    await this.head();
    if (format === 'ninjatrader' || this.#gzip || (await stat(this.o.file)).isFIFO()) return undefined;
    let header: { line: string; lineNo: number } | undefined;
    let symbolCol = -1;
    /** Where the rows start: after the header (an NDJSON file has none: at its start). */
    let body = { start: 0, firstLine: 1 };
    const runs: { symbol: string; start: number; firstLine: number; end: number }[] = [];
    const seen = new Set<string>();
    let lineNo = 0;
    /** Takes a line (without its newline) at byte `at`; false when the file is not sorted by symbol. */
    const onLine = (bytes: Buffer, at: number): boolean => {
      lineNo++;
      const text = bytes.toString('utf8');
      const line = (lineNo === 1 ? stripBom(text) : text).replace(/\r$/, '');
      if (line.trim() === '') return true;
      if (format !== 'ndjson' && !header) {
        header = { line, lineNo };
        body = { start: at + bytes.length + 1, firstLine: lineNo + 1 };
        try {
          symbolCol = csvHeader(line).indexOf('symbol');
        } catch {
          return false; // the replay reports it
        }
        return symbolCol >= 0;
      }
      const symbol =
        format === 'ndjson' ? envelopeSymbol(line) : splitCsv(line)[symbolCol]?.toUpperCase() || undefined;
      // A row that names no symbol is read (and reported) with the run it is in.
      if (symbol === undefined || symbol === runs.at(-1)?.symbol) return true;
      if (seen.has(symbol) || runs.length === MAX_SIDE_BY_SIDE) return false;
      seen.add(symbol);
      runs.push(
        runs.length === 0 ? { symbol, ...body, end: 0 } : { symbol, start: at, firstLine: lineNo, end: 0 },
      );
      return true;
    };
    let offset = 0;
    let carry = Buffer.alloc(0);
    const stream = createReadStream(this.o.file);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let from = 0;
        for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
          const at = offset + from - carry.length;
          const bytes =
            carry.length > 0 ? Buffer.concat([carry, chunk.subarray(from, nl)]) : chunk.subarray(from, nl);
          carry = Buffer.alloc(0);
          if (!onLine(bytes, at)) return undefined;
          from = nl + 1;
        }
        carry = Buffer.concat([carry, chunk.subarray(from)]);
        offset += chunk.length;
      }
      if (carry.length > 0 && !onLine(carry, offset - carry.length)) return undefined;
    } finally {
      stream.destroy();
    }
    if (runs.length < 2) return undefined;
    for (const [i, r] of runs.entries()) r.end = runs[i + 1]?.start ?? offset;
    return { ...(header ? { header } : {}), runs };
  }
}

/** A file sorted by symbol: its CSV header, and each symbol's run of lines (bytes `start` to `end`). */
interface SymbolRuns {
  readonly header?: { readonly line: string; readonly lineNo: number };
  readonly runs: readonly { readonly start: number; readonly end: number; readonly firstLine: number }[];
}

/** The events of sequences each in time order, as one sequence in time order (a tie: the earlier sequence first). */
async function* mergeByTime(sources: AsyncGenerator<MarketEvent>[]): AsyncGenerator<MarketEvent> {
  try {
    const heads = await Promise.all(sources.map((s) => s.next()));
    for (;;) {
      let best = -1;
      for (const [i, h] of heads.entries())
        if (!h.done && (best < 0 || eventTime(h.value) < eventTime(heads[best]!.value as MarketEvent)))
          best = i;
      if (best < 0) return;
      yield heads[best]!.value as MarketEvent;
      heads[best] = await sources[best]!.next();
    }
  } finally {
    await Promise.all(sources.map((s) => s.return(undefined)));
  }
}

/**
 * How many symbols of a file sorted by symbol are read side by side at most (each an open file):
 * a file with more is replayed in file order, each symbol's run paced on its own.
 */
const MAX_SIDE_BY_SIDE = 256;

/** A longer gap between two events (the market closed) is skipped at --speed N, not replayed. */
const MAX_PACED_GAP_MS = 3_600_000;

/**
 * A symbol's first event this far before the previous event starts a run of its own at --speed N
 * (a file sorted by symbol): more than a bar's minute and the moment it went out, after the ticks of
 * that minute, in a capture of the live stream.
 */
const NEW_RUN_STEP_BACK_MS = 2 * 60_000;

/** How many later rows an event is held at most while its symbol's next row is awaited. */
const HOLD_ROWS = 1000;

interface Held {
  readonly e: MarketEvent;
  readonly at: string;
  rejected: boolean;
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Keeps each symbol's events of each kind strictly increasing in time, in file order (its ticks and
 * its bars apart: a bar goes out once its minute is over, so it follows ticks later than its start,
 * as in a capture of the live stream; the processor orders them apart too). Each event is held until
 * its symbol's next row (or {@link HOLD_ROWS} later rows) shows whether it fits: a row later than
 * the one after it, while that one follows the row before it (a mistyped date: a 2022 row among
 * 2021's), is the one rejected, not every row after it; a row at or before its symbol's previous
 * one (a duplicate, a row out of order) is rejected. Every rejection is reported.
 */
class OrderGuard {
  private readonly queue: Held[] = [];
  /** Each symbol's event of each kind still held, awaiting the next row of that symbol and kind. */
  private readonly held = new Map<string, Held>();
  /** Each symbol's and kind's time of the last event let through. */
  private readonly last = new Map<string, number>();
  private readonly reject: (i: SourceIssue) => void;

  constructor(reject: (i: SourceIssue) => void) {
    this.reject = reject;
  }

  /** Takes the next event of the file; returns the events now let through, in file order. */
  push(e: MarketEvent, at: string): MarketEvent[] {
    const s = eventSymbol(e);
    const k = sequenceKey(e);
    const t = eventTime(e);
    const prev = this.last.get(k);
    const h = this.held.get(k);
    if (h && t > eventTime(h.e)) {
      // It follows the held one: that one is in sequence.
      this.last.set(k, eventTime(h.e));
      this.held.delete(k);
    } else if (h && t < eventTime(h.e) && (prev === undefined || t > prev)) {
      // The held one is later than this row, which follows the row before it: the held one is out.
      h.rejected = true;
      this.held.delete(k);
      this.reject({
        symbol: s,
        at: h.at,
        field: field(h.e),
        reason: `${iso(eventTime(h.e))} is after the next row's ${iso(t)} (${at}) for ${s}, which follows the row before it (a time out of sequence)`,
      });
    } else if (h || (prev !== undefined && t <= prev)) {
      const before = h ? eventTime(h.e) : (prev as number);
      this.reject({
        symbol: s,
        at,
        field: field(e),
        reason: `${iso(t)} is not after the previous ${iso(before)} for ${s} (duplicate or out of order)`,
      });
      return this.release(false);
    }
    const entry: Held = { e, at, rejected: false };
    this.held.set(k, entry);
    this.queue.push(entry);
    return this.release(false);
  }

  /** At the end of the file: every event still held, in file order. */
  end(): MarketEvent[] {
    return this.release(true);
  }

  private release(all: boolean): MarketEvent[] {
    const out: MarketEvent[] = [];
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const k = sequenceKey(head.e);
      const undecided = !head.rejected && this.held.get(k) === head;
      if (undecided && !all && this.queue.length <= HOLD_ROWS) break;
      this.queue.shift();
      if (head.rejected) continue;
      if (undecided) {
        this.held.delete(k);
        this.last.set(k, eventTime(head.e));
      }
      out.push(head.e);
    }
    return out;
  }
}

/**
 * How many gaps between a symbol's bars (all the file's symbols counted) refuse the file when all of
 * them are multiples of more than a minute (of 5 minutes, say): its bars are not 1-minute bars. A
 * gap that shares no such multiple with the ones before (two bars a minute apart, or gaps of 2 and
 * 3 minutes) settles that they are. An illiquid symbol's 1-minute bars have gaps too (SPY's early
 * hours in 2011: 10, 9, 31, 27, 8, 2… minutes), but that twenty of them in a row are all even, say,
 * is a chance of one in a million.
 */
const SPACING_GAPS = 20;

/**
 * How many events are held at most, from the first bar on, while the bars' spacing is undecided: a
 * file still undecided by then (ticks with a few bars) is not checked further.
 */
const SPACING_HOLD = 10_000;

/** A span of whole minutes, in words: `5 minutes`, `1 hour`, `1 day`; as an adjective, `5-minute`. */
function span(ms: number, adjective = false): string {
  const minutes = ms / ONE_MINUTE_MS;
  const [n, unit] =
    minutes % 1440 === 0
      ? [minutes / 1440, 'day']
      : minutes % 60 === 0
        ? [minutes / 60, 'hour']
        : [minutes, 'minute'];
  return adjective ? `${n}-${unit}` : `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Refuses a file of bars coarser than 1-minute bars (5-minute, hourly, daily bars, in a CSV,
 * NinjaTrader or M/D/YYYY file, which say nothing of their bars' length): each row would be taken
 * for one minute of trading, its volume and the indicators and anomalies computed from it wrong.
 * The events are held, in file order, from the file's first bar until {@link SPACING_GAPS} gaps
 * between a symbol's bars decide (a 1-minute file is decided by its first two bars a minute apart,
 * or any gap of no common multiple with the others): a refused file sends no event. A file too short
 * to decide whose gaps are all multiples of more than a minute is replayed with a warning.
 */
class BarSpacing {
  private readonly queue: MarketEvent[] = [];
  /** Each symbol's latest bar start. */
  private readonly previous = new Map<string, number>();
  /** The greatest common divisor of the gaps seen (0: none yet), their count, the smallest, the first bar seen. */
  private divisor = 0;
  private gaps = 0;
  private smallest = Number.POSITIVE_INFINITY;
  private first: { symbol: string; start: number } | undefined;
  /** Whether the bars are known to be 1-minute bars, or are no longer looked at. */
  private settled = false;
  private readonly file: string;
  private readonly warn: ((message: string) => void) | undefined;

  constructor(file: string, warn: ((message: string) => void) | undefined) {
    this.file = file;
    this.warn = warn;
  }

  /** Takes the next event; returns the events now let through, in file order. Throws for a file of coarser bars. */
  push(e: MarketEvent): MarketEvent[] {
    if (this.settled) return [e];
    if (e.kind === 'bar') this.look(e.bar.symbol, e.bar.start);
    if (this.settled) return [...this.queue.splice(0), e];
    if (this.queue.length === 0 && e.kind !== 'bar') return [e];
    this.queue.push(e);
    if (this.queue.length < SPACING_HOLD) return [];
    this.settled = true;
    return this.queue.splice(0);
  }

  /**
   * At the end of the file: the events still held, with a warning when five gaps or more, too few
   * to refuse the file, are all multiples of more than a minute (fewer say nothing: two bars of a
   * symbol days apart).
   */
  end(): MarketEvent[] {
    if (!this.settled && this.gaps >= 5 && this.divisor > ONE_MINUTE_MS)
      this.warn?.(
        `${this.file}: all ${this.gaps} gaps between bars of a symbol are multiples of ${span(this.divisor)} ` +
          `(the smallest ${span(this.smallest)}), too few to tell: if they are ${span(this.divisor, true)} bars, ` +
          'they are replayed as 1-minute bars (the replay takes 1-minute bars only)',
      );
    this.settled = true;
    return this.queue.splice(0);
  }

  private look(symbol: string, start: number): void {
    this.first ??= { symbol, start };
    const before = this.previous.get(symbol);
    this.previous.set(symbol, start);
    // Each symbol's bars are in time order (OrderGuard): a gap is positive.
    if (before === undefined) return;
    const gap = start - before;
    this.divisor = gcd(gap, this.divisor);
    this.gaps++;
    this.smallest = Math.min(this.smallest, gap);
    if (this.divisor <= ONE_MINUTE_MS) this.settled = true;
    else if (this.gaps >= SPACING_GAPS)
      throw new Error(
        `${this.file} is not a file of 1-minute bars: all ${this.gaps} gaps between bars of a symbol from ` +
          `${this.first.symbol}'s ${iso(this.first.start)} on are multiples of ${span(this.divisor)} (the smallest ${span(this.smallest)}), ` +
          `as in a file of ${span(this.divisor, true)} bars; the replay takes 1-minute bars only (each row would be taken for one minute of trading), ` +
          'and has replayed none of them',
      );
  }
}

/** The sequence an event is ordered in: its symbol's ticks, or its symbol's bars. */
const sequenceKey = (e: MarketEvent) => `${e.kind} ${eventSymbol(e)}`;

const field = (e: MarketEvent) => (e.kind === 'bar' ? 'start' : 'time');

/** The bundled real samples (data/samples) with the symbol each stands for: the default local feed. */
export const BUNDLED_SAMPLES: readonly {
  readonly file: string;
  readonly symbol: string;
  readonly format: ReplayFormat;
}[] = [
  { file: 'data/samples/aapl-2024-10-02.csv', symbol: 'AAPL', format: 'csv' },
  { file: 'data/samples/spy-2011-01-ninjatrader.csv', symbol: 'SPY', format: 'ninjatrader' },
  { file: 'data/samples/sp500-2019-11-05-to-08.csv', symbol: '^GSPC', format: 'mdy-ny' },
];
