import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { createGunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { eventSymbol, eventTime, type MarketEvent } from '../../domain/market/index.ts';
import { sleep } from '../../pipeline/ingest/backoff.ts';
import type { MarketSource, SourceIssue } from '../../ports/market-source.ts';
import {
  csvHeader,
  detectFormat,
  lineParser,
  type ParseContext,
  parseYahooChart,
  type ReplayFormat,
  readYahooChart,
} from './formats.ts';

export type ReplaySpeed = 'max' | number;

export interface ReplayOptions extends ParseContext {
  readonly file: string;
  readonly format?: ReplayFormat | 'auto';
  /** `max`: as fast as the stream takes them; a number: that multiple of real time (1 = as it happened). */
  readonly speed?: ReplaySpeed;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
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
}

/**
 * Why a symbol flag does not fit the file, or undefined: it is given exactly when the file names no
 * symbol of its own (given for one that does, it would be ignored or would rename the file's events).
 */
export function symbolFlagProblem(
  file: ReplayInspection,
  fileFlag: string,
  path: string,
  symbol: string | undefined,
): string | undefined {
  if (file.carriesSymbol && symbol)
    return `--symbol: ${path} (${file.format}) names its own symbol; --symbol is for files that have none (NinjaTrader, M/D/YYYY or a CSV without a symbol column)`;
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

  constructor(o: ReplayOptions) {
    this.o = o;
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
   * without a time column, a chart that is not JSON).
   */
  async inspect(): Promise<ReplayInspection> {
    const head = (await this.head()).replace(/^\uFEFF/, '');
    if (head.trim() === '') throw new Error(`${this.o.file} is empty`);
    const format = await this.format();
    switch (format) {
      case 'ninjatrader':
        return { format, carriesSymbol: false };
      case 'ndjson':
        return { format, carriesSymbol: true };
      case 'yahoo-chart':
        return { format, carriesSymbol: typeof readYahooChart(await this.text()).meta.symbol === 'string' };
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
    const speed = this.o.speed ?? 'max';
    const clock = this.o.clock ?? Date.now;
    // The pause between events ends at once when the signal aborts (at speed 1, a minute per bar).
    const wait =
      this.o.sleep ??
      ((ms: number) => (signal ? delay(ms, undefined, { signal }).catch(() => {}) : sleep(ms)));
    let t0: number | undefined;
    let w0 = 0;
    const guard = new OrderGuard((i) => this.reject(i));
    let previous: number | undefined;
    const pace = async (e: MarketEvent) => {
      if (speed === 'max') return;
      const t = eventTime(e);
      if (t0 === undefined) {
        t0 = t;
        w0 = clock();
        previous = t;
        return;
      }
      // A night, weekend or holiday in the data is skipped, not waited out (at --speed 60 a weekend
      // would be 80 silent minutes): the next event is due as the previous one was.
      if (previous !== undefined && t - previous > MAX_PACED_GAP_MS) t0 += t - previous;
      previous = t;
      const due = w0 + (t - t0) / speed;
      const delay = due - clock();
      if (delay > 0) await wait(delay);
    };

    if (format === 'yahoo-chart') {
      const { events, issues } = parseYahooChart(await this.text(), this.o);
      for (const i of issues) this.reject(i);
      const inSequence = function* () {
        for (const [i, e] of events.entries()) yield* guard.push(e, `bar ${i + 1}`);
        yield* guard.end();
      };
      for (const e of inSequence()) {
        if (signal?.aborted) return;
        await pace(e);
        if (signal?.aborted) return;
        yield e;
      }
      return;
    }
    const parse = lineParser(format, this.o);
    const rl = createInterface({
      input: await this.input(),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let n = 0;
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
        for (const e of guard.push(r.event, `line ${n}`)) {
          await pace(e);
          if (signal?.aborted) return;
          yield e;
        }
      }
      for (const e of guard.end()) {
        if (signal?.aborted) return;
        await pace(e);
        if (signal?.aborted) return;
        yield e;
      }
    } finally {
      rl.close();
    }
  }
}

/** A longer gap between two events (the market closed) is skipped at --speed N, not replayed. */
const MAX_PACED_GAP_MS = 3_600_000;

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
