/**
 * The lake's compaction step: one UTC day of the raw zone (at-least-once, one gzip NDJSON object per
 * batch and shard) becomes one Parquet object holding each (symbol, kind, time) exactly once — of
 * several copies the one with the greatest sequence number, as the `events` view chooses
 * (src/adapters/aws/lake-schema.ts) — sorted by symbol, kind and time. Idempotent: compacting a day
 * again replaces its object with one built from everything the raw zone holds by then. The raw zone
 * only grows, so a day never rightly compacts to fewer events than it did before: such a result (a
 * reader or schema fault, lines now rejected) is refused, and the object kept, unless forced; so is
 * replacing an object that does not say how many events it holds. (A day that lost some events and
 * gained as many is not caught: the guard compares counts.)
 */

import { isPlainObject } from '../../domain/market/validation.ts';
import {
  type CompactedEvent,
  type CompactedLakeWriter,
  type CompactedObject,
  type PendingDays,
  type RawLakeReader,
  UnreadableRawObjectError,
} from '../../ports/compaction.ts';
import { LAKE_EVENT_FIELDS, type LakeFieldType } from '../../ports/lake-line.ts';
import type { ProcessLog } from '../process/process-batch.ts';
import { compareSequenceNumbers } from '../process/sequence.ts';

/** Structured log lines, as the stream processor writes them. */
export type CompactLog = ProcessLog;

export interface CompactDeps {
  readonly raw: RawLakeReader;
  readonly compacted: CompactedLakeWriter;
  readonly log: CompactLog;
  /** The marks of late days; without it a run compacts only the days it was asked for. */
  readonly pending?: PendingDays;
  /** Milliseconds the invocation has left (Lambda's context); without it every marked day is done. */
  readonly remainingMs?: () => number;
}

/** A raw line the step cannot use: where it is and why. */
export interface RejectedLine {
  readonly key: string;
  /**
   * 1-based line number within the object (for an object cut off, the line the cut falls on); 0 for
   * an object that could not be read at all.
   */
  readonly line: number;
  readonly reason: string;
}

export interface CompactReport {
  readonly day: string;
  /** Raw objects read. */
  readonly objects: number;
  /** Raw lines read (rejected ones included). */
  readonly lines: number;
  /** Lines whose (symbol, kind, time) another line of the day already had. */
  readonly duplicates: number;
  readonly rejected: readonly RejectedLine[];
  /** Events written: one per (symbol, kind, time). */
  readonly events: number;
  /** The object written; undefined when nothing was (no usable line, or refused). */
  readonly written: CompactedObject | undefined;
  /** Why the day's existing object was kept rather than replaced with fewer events. */
  readonly refused?: string;
}

export interface CompactOptions {
  /** Replace the day's object even with fewer events than it holds. */
  readonly force?: boolean;
  /**
   * Milliseconds the invocation has left: the day is given up (a DayTooLongError) as soon as what
   * is left of it, estimated from the part read so far, would not end in that time.
   */
  readonly remainingMs?: () => number;
}

/**
 * A day given up before its end because what was left of it would not end in the time left:
 * nothing written, its marks kept. `needMs` is the estimate of the whole day's time.
 */
export class DayTooLongError extends Error {
  override name = 'DayTooLongError';
  readonly needMs: number;

  constructor(needMs: number, leftMs: number, objectsRead: number, objects: number) {
    super(
      `needs about ${Math.ceil(needMs / 1000)} s (estimated from ${objectsRead} of its ${objects} raw objects), ` +
        `${Math.floor(leftMs / 1000)} s were left`,
    );
    this.needMs = needMs;
  }
}

/**
 * Building and writing a day's file, against reading its raw objects: at most this many times as
 * long. Measured here, without S3's round trips: building and writing 189,000 events took 1.5 times
 * as long as reading and sorting them; on AWS each raw object is also a GET, which only reading pays.
 */
const WRITE_TO_READ = 2;

/** Raw objects read at once while a day is read (their GETs overlap; used in key order). */
const READ_AHEAD = 8;

/** A day's estimate is trusted only after this much of its reading (a first GET's connection aside). */
const MIN_SAMPLE_MS = 1_000;

/** Left over when a day ends by its estimate: its marks to remove, the response and metrics to send. */
const DAY_END_RESERVE_MS = 10_000;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** The epoch-ms start of a YYYY-MM-DD UTC day, or a RangeError naming the value. */
export function dayStart(day: string): number {
  const start = Date.parse(`${day}T00:00:00.000Z`);
  if (!DAY_PATTERN.test(day) || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== day)
    throw new RangeError(`day must be a calendar date YYYY-MM-DD, got '${day}'`);
  return start;
}

/** The UTC day before the one holding `epochMs` (what a run shortly after midnight compacts). */
export function previousDay(epochMs: number): string {
  return new Date(Math.floor(epochMs / DAY_MS) * DAY_MS - DAY_MS).toISOString().slice(0, 10);
}

/** Days compacted by a scheduled run: the one before the run's and the one before that. */
const SCHEDULED_DAYS = 2;

/** Rejected lines logged one by one (and shown in an invocation's response); the rest are counted. */
export const REJECTIONS_SHOWN = 20;

export interface CompactionRequest {
  readonly days: readonly string[];
  readonly force: boolean;
  /** A scheduled run: it also compacts the days marked pending (late raw objects), oldest first. */
  readonly scheduled: boolean;
}

/**
 * A scheduled run starts a marked day only with this much time left; once started, a marked day is
 * given up as soon as its estimate would not end in the time left (see DayTooLongError): a day cut
 * off by the timeout would fail the invocation, and Lambda retry all of it.
 */
export const PENDING_DAY_MARGIN_MS = 60_000;

const REQUEST_SHAPE =
  'compactLake takes a scheduled event (with its time) or {"day": "YYYY-MM-DD"} (and "force": true to replace a day with fewer events)';

/** What a compactLake invocation asks for, or a RangeError saying what input is accepted. */
export function compactionRequest(input: unknown): CompactionRequest {
  const o = isPlainObject(input) ? input : {};
  if (typeof o.day === 'string') {
    dayStart(o.day);
    if (o.force !== undefined && typeof o.force !== 'boolean') throw new RangeError(REQUEST_SHAPE);
    return { days: [o.day], force: o.force === true, scheduled: false };
  }
  if (typeof o.time === 'string' && !Number.isNaN(Date.parse(o.time))) {
    const days = [previousDay(Date.parse(o.time))];
    while (days.length < SCHEDULED_DAYS) days.push(previousDay(dayStart(days.at(-1)!)));
    return { days, force: false, scheduled: true };
  }
  throw new RangeError(REQUEST_SHAPE);
}

function fieldError(name: string, type: LakeFieldType, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (type === 'string') return typeof value === 'string' ? undefined : `${name} must be a string`;
  if (type === 'bigint')
    return Number.isSafeInteger(value) ? undefined : `${name} must be an integer (epoch ms)`;
  return typeof value === 'number' && Number.isFinite(value) ? undefined : `${name} must be a finite number`;
}

/** A raw line as a compacted event, or the reason it cannot be one. */
export function parseRawLine(text: string, start: number): CompactedEvent | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isPlainObject(v)) return 'not a JSON object';
  const { symbol, time, kind, shardId, sequenceNumber, arrivalTime, event } = v;
  if (typeof symbol !== 'string' || symbol === '') return 'symbol must be a non-empty string';
  if (!Number.isSafeInteger(time)) return 'time must be an integer (epoch ms)';
  if (kind !== 'bar' && kind !== 'tick') return "kind must be 'bar' or 'tick'";
  if (typeof shardId !== 'string' || shardId === '') return 'shardId must be a non-empty string';
  if (typeof sequenceNumber !== 'string' || !/^[1-9]\d*$|^0$/.test(sequenceNumber))
    return 'sequenceNumber must be a decimal string';
  if (!Number.isSafeInteger(arrivalTime)) return 'arrivalTime must be an integer (epoch ms)';
  if (!isPlainObject(event)) return 'event must be an object';
  const t = time as number;
  if (t < start || t >= start + DAY_MS) return `time ${new Date(t).toISOString()} is not on this day`;
  const fields: Record<string, string | number | null> = {};
  for (const [name, type] of LAKE_EVENT_FIELDS) {
    const value = event[name];
    const error = fieldError(`event.${name}`, type, value);
    if (error) return error;
    fields[name] = (value as string | number | undefined) ?? null;
  }
  return {
    symbol,
    time: t,
    kind,
    shardId,
    sequenceNumber,
    arrivalTime: arrivalTime as number,
    event: fields,
  };
}

const byKey = (a: CompactedEvent, b: CompactedEvent): number =>
  a.symbol < b.symbol
    ? -1
    : a.symbol > b.symbol
      ? 1
      : a.kind < b.kind
        ? -1
        : a.kind > b.kind
          ? 1
          : a.time - b.time;

/**
 * Compacts one UTC day (YYYY-MM-DD). Unusable lines and objects are reported and skipped, never
 * fatal; a day with no raw object, or no usable line, writes nothing.
 */
export async function compactDay(
  day: string,
  deps: CompactDeps,
  options: CompactOptions = {},
): Promise<CompactReport> {
  const start = dayStart(day);
  const t0 = performance.now();
  const keys = await deps.raw.listDay(day);
  const readStart = performance.now();
  // With a time limit: whether reading the rest and then building and writing the file, at the pace
  // of the objects read so far, would end within it. Throws (nothing written) when it would not.
  const checkTime = (read: number) => {
    if (!options.remainingMs || read === 0) return;
    const elapsed = performance.now() - readStart;
    const perObject = elapsed / read;
    const rest = perObject * (keys.length - read) + WRITE_TO_READ * perObject * keys.length;
    const left = options.remainingMs();
    if ((elapsed >= MIN_SAMPLE_MS || left < DAY_END_RESERVE_MS) && rest > left - DAY_END_RESERVE_MS)
      throw new DayTooLongError(performance.now() - t0 + rest, left, read, keys.length);
  };
  const newest = new Map<string, CompactedEvent>();
  const rejected: RejectedLine[] = [];
  let lines = 0;
  let duplicates = 0;
  // The objects' reads, READ_AHEAD at once (the next starts as one ends): each read is an S3 GET
  // whose round trips, one after another, would set the day's time (a shard that gets a batch every
  // second of a session writes some 23,000 objects a day). Used in key order all the same, so the
  // day's file does not depend on which GET answered first. A read's failure is met when its
  // object's turn comes (or, the day given up before, never: caught here so that it is not an
  // unhandled rejection).
  const reads = new Map<number, Promise<string>>();
  const readAhead = (i: number) => {
    if (i >= keys.length) return;
    const text = deps.raw.read(keys[i]!);
    text.catch(() => {});
    reads.set(i, text);
  };
  for (let i = 0; i < READ_AHEAD; i++) readAhead(i);
  for (const [read, key] of keys.entries()) {
    checkTime(read);
    let text: string;
    // Why a damaged object's text stops where it does (reported at the line the damage cut).
    let cut: string | undefined;
    const reading = reads.get(read)!.finally(() => readAhead(read + READ_AHEAD));
    reads.delete(read);
    try {
      text = await reading;
    } catch (err) {
      if (!(err instanceof UnreadableRawObjectError)) throw err; // a fault (S3, network): the day fails
      if (err.partial === undefined) {
        rejected.push({ key, line: 0, reason: err.message });
        continue;
      }
      // Cut off: its whole lines are used, as `zcat` shows them; the line the damage cut is not.
      text = err.partial.slice(0, err.partial.lastIndexOf('\n') + 1);
      cut = `${err.message}: this line and any after it are lost`;
    }
    const list = text.split('\n');
    if (list.at(-1) === '') list.pop();
    for (let i = 0; i < list.length; i++) {
      lines++;
      const parsed = parseRawLine(list[i]!, start);
      if (typeof parsed === 'string') {
        rejected.push({ key, line: i + 1, reason: parsed });
        continue;
      }
      const id = `${parsed.symbol}\u0000${parsed.kind}\u0000${parsed.time}`;
      const kept = newest.get(id);
      if (kept) {
        duplicates++;
        if (compareSequenceNumbers(parsed.sequenceNumber, kept.sequenceNumber) <= 0) continue;
      }
      newest.set(id, parsed);
    }
    if (cut) rejected.push({ key, line: list.length + 1, reason: cut });
  }
  checkTime(keys.length);
  for (const r of rejected.slice(0, REJECTIONS_SHOWN)) deps.log.warn('raw lake line rejected', { day, ...r });
  if (rejected.length > REJECTIONS_SHOWN)
    deps.log.warn('more raw lake lines rejected', { day, count: rejected.length - REJECTIONS_SHOWN });
  const events = [...newest.values()].sort(byKey);
  newest.clear(); // its keys are not needed while the file is built
  const counts = { day, objects: keys.length, lines, duplicates, rejected, events: events.length };
  if (keys.length === 0) return { ...counts, written: undefined };
  const before = options.force ? undefined : await deps.compacted.existing(day);
  // What to run once the operator knows why (the raw zone rightly holds fewer, say): nothing else
  // replaces the object, and a marked day keeps failing every night until then (compactDays).
  const forceIt = `compact it with {"day": "${day}", "force": true} to replace it`;
  const refused =
    before === undefined
      ? undefined
      : before.events === undefined
        ? `the compacted day's object does not say how many events it holds (not written by the compaction): kept, not replaced; ${forceIt}`
        : events.length < before.events
          ? `the compacted day holds ${before.events} events; this compaction found ${events.length} (${rejected.length} lines rejected): kept, not replaced; if the raw zone rightly holds fewer, ${forceIt}`
          : undefined;
  if (refused) {
    deps.log.warn('lake day not compacted', { ...counts, rejected: rejected.length, refused });
    return { ...counts, written: undefined, refused };
  }
  if (events.length === 0) {
    deps.log.warn('lake day not compacted: no usable line', { ...counts, rejected: rejected.length });
    return { ...counts, written: undefined };
  }
  const written = await deps.compacted.writeDay(day, events);
  deps.log.info('lake day compacted', { ...counts, rejected: rejected.length, written });
  return { ...counts, written };
}

export interface DaysOutcome {
  /** The days compacted, or refused (see CompactReport.refused), in the order they were done. */
  readonly reports: readonly CompactReport[];
  /** One line per day that failed or was refused: `<day>: <why>`. */
  readonly failures: readonly string[];
  /** Why the marks of late days could not be listed (the run's own days were still done). */
  readonly pendingError?: string;
  /** Marked days a scheduled run left for the next one (its time ran short). */
  readonly pendingLeft: readonly string[];
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Compacts each day of a request on its own: one that fails does not keep the others from it. A
 * scheduled run then compacts the days marked pending (late raw objects), oldest first, while its
 * time allows; a request for one day compacts only that day. The marks of a day are read before it
 * is compacted and removed once it is (refused or failed: kept), so a mark written meanwhile stays
 * for the next run.
 */
export async function compactDays(request: CompactionRequest, deps: CompactDeps): Promise<DaysOutcome> {
  const reports: CompactReport[] = [];
  const failures: string[] = [];
  let pendingError: string | undefined;
  let marks = new Map<string, string[]>();
  if (deps.pending) {
    try {
      marks = await deps.pending.list(request.scheduled ? undefined : request.days[0]);
    } catch (err) {
      // The requested days are still compacted; the marks stay for the next run.
      deps.log.error('pending lake days not listed', { error: messageOf(err) });
      pendingError = messageOf(err);
    }
  }
  const marked = request.scheduled ? [...marks.keys()].filter((d) => !request.days.includes(d)) : [];
  const pendingLeft: string[] = [];
  // What a whole run has (about the function's timeout).
  const runMs = deps.remainingMs?.();
  // What a night has for its marked days: the time left once its own two days are done (as long
  // the next night). A marked day estimated to need more is one no night will get to the end of:
  // left for the next night, it would be given up there too, night after night.
  let nightMs: number | undefined;
  for (const [i, day] of [...request.days, ...marked].entries()) {
    const isMarked = i >= request.days.length;
    if (isMarked && deps.remainingMs) {
      nightMs ??= deps.remainingMs();
      // Started with the margin left: the estimate gives up one that would not end (compactDay).
      if (deps.remainingMs() < PENDING_DAY_MARGIN_MS) {
        const left = marked.slice(i - request.days.length);
        pendingLeft.push(...left);
        deps.log.warn('pending lake days left for the next run', { days: left });
        break;
      }
    }
    try {
      // A marked day is given up as soon as it would not end in the time left, rather than cut off
      // by the timeout: that would fail the invocation, and Lambda retry it, night after night.
      const r = await compactDay(day, deps, {
        force: request.force,
        ...(isMarked && deps.remainingMs ? { remainingMs: deps.remainingMs } : {}),
      });
      reports.push(r);
      if (!r.refused) await clearMarks(day, marks.get(day), deps);
      // A marked day's marks are kept: every night's run compacts it again, and fails, until it
      // is forced (or its raw zone grows back), so the failure says so.
      else if (marks.has(day))
        failures.push(`${day}: ${r.refused} (its marks are kept: every night's run fails on it until then)`);
      else failures.push(`${day}: ${r.refused}`);
    } catch (err) {
      if (
        err instanceof DayTooLongError &&
        nightMs !== undefined &&
        err.needMs <= nightMs - PENDING_DAY_MARGIN_MS
      ) {
        // It fits a night's time for marked days: the days before it took the rest (the next
        // night's run, those done, starts its marked days with it).
        pendingLeft.push(day);
        deps.log.warn('pending lake day left for the next run: too long for the time left', {
          day,
          reason: err.message,
        });
        continue;
      }
      const why =
        err instanceof DayTooLongError
          ? `${err.message}: longer than a night has for late days (${Math.floor((nightMs ?? 0) / 1000)} s of the run's ${Math.floor((runMs ?? 0) / 1000)} s, after its own two days): raise compactionMemoryMb (CPU comes with memory) or compactionTimeoutSeconds, then compact it with {"day": "${day}"}; its marks are kept`
          : messageOf(err);
      deps.log.error('lake day compaction failed', { day, error: why });
      failures.push(`${day}: ${why}`);
    }
  }
  return { reports, failures, pendingLeft, ...(pendingError === undefined ? {} : { pendingError }) };
}

/** Removes a compacted day's marks; one not removed only has the day compacted again. */
async function clearMarks(day: string, keys: readonly string[] | undefined, deps: CompactDeps) {
  if (!keys || keys.length === 0 || !deps.pending) return;
  try {
    await deps.pending.clear(keys);
    deps.log.info('pending lake day compacted', { day, marks: keys.length });
  } catch (err) {
    deps.log.warn('pending lake day marks not removed: the day will be compacted again', {
      day,
      error: messageOf(err),
    });
  }
}
