/**
 * Review of the processor's dead-letter queue, and recovery of the batches the event source
 * mapping gave up on.
 *
 * The queue holds two kinds of message (README, "Dead letters"): a record rejected as bad input
 * (the record itself and the reason: listed, left in the queue for whoever fixes the producer), and
 * Lambda's on-failure record of a batch given up after its retries or its maximum age, which names
 * only a shard and a range of sequence numbers. For such a range this reads the records back from
 * the stream (while its retention holds them), decodes them as the processor did when it gave up,
 * runs each symbol's records through a fresh engine (what the engine refuses, the processor would
 * have refused: outside the sessions, a tick late against an earlier record of the range, a bar
 * whose minute the range already had), leaves out records whose rejected-record message is among
 * those received, and asks the table which have their metric row and the raw zone which
 * (symbol, kind, time) it holds. The processor cannot take the records again: its symbols' states
 * have moved past them, and indicators are computed in order. What recovery gives back is the raw
 * zone: the records left whose key it lacks are written as the processor writes lines (one object
 * per shard and event day, named by its records' sequence numbers), ranges in stream order, for the
 * compaction, Athena and DuckDB; a key the raw zone holds is left alone, so a replayed or revised
 * copy never replaces the line the table was built from. What a fresh engine cannot judge (lateness
 * against the symbol's state before the range) is not judged. Metric rows, indicators and alerts of
 * lost records stay missing. A range's message is deleted once the range was read from its first to
 * its last record and written (what is left of a range past the stream's retention is written too,
 * its message kept); every other message is made visible again.
 */

import { type RawLakeReader, UnreadableRawObjectError } from '../../ports/compaction.ts';
import type {
  DeadLetterMessage,
  DeadLetterQueue,
  MetricRowIndex,
  StreamRangeReader,
  StreamShardMap,
} from '../../ports/dead-letters.ts';
import { metricRowId } from '../../ports/dead-letters.ts';
import { eventDay } from '../../ports/lake-line.ts';
import type { LakeRecord, LakeWriter } from '../../ports/processor.ts';
import { dayStart, parseRawLine } from '../compact/compact-day.ts';
import { errorMessage } from '../ingest/backoff.ts';
import type { SymbolEngine, SymbolEngineFactory } from '../process/engine.ts';
import { compareSequenceNumbers } from '../process/sequence.ts';
import { decodeStreamRecord, lakeRecordOf } from '../process/stream-records.ts';

/** A record the processor rejected as bad input (the message body the rejected-record sink writes). */
export interface RejectedLetter {
  readonly kind: 'rejected';
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly reason: string;
  readonly rejectedAt: number | undefined;
}

/** Lambda's on-failure record of a Kinesis batch it gave up on. */
export interface GivenUpLetter {
  readonly kind: 'given-up';
  readonly streamName: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number | undefined;
  /** Why: RetryAttemptsExhausted, RecordAgeExceeded, … */
  readonly condition: string;
  readonly timestamp: string | undefined;
}

export interface UnreadableLetter {
  readonly kind: 'unreadable';
  readonly reason: string;
}

export type DeadLetter = RejectedLetter | GivenUpLetter | UnreadableLetter;

const DECIMAL = /^\d+$/;

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** What a dead-letter message is, from its body; never throws. */
export function parseDeadLetter(body: string): DeadLetter {
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { kind: 'unreadable', reason: 'body is not a JSON object' };
    doc = parsed as Record<string, unknown>;
  } catch {
    return { kind: 'unreadable', reason: 'body is not JSON' };
  }
  const info = doc.KinesisBatchInfo as Record<string, unknown> | undefined;
  if (info && typeof info === 'object') {
    const shardId = text(info.shardId);
    const start = text(info.startSequenceNumber);
    const end = text(info.endSequenceNumber);
    const arn = text(info.streamArn);
    const streamName = arn?.match(/^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/(.+)$/)?.[1];
    if (!shardId || !start || !end || !DECIMAL.test(start) || !DECIMAL.test(end))
      return {
        kind: 'unreadable',
        reason: 'KinesisBatchInfo lacks shardId or decimal start/end sequence numbers',
      };
    if (!streamName)
      return { kind: 'unreadable', reason: `KinesisBatchInfo streamArn "${arn}" is not a stream ARN` };
    // Read back, such a range would look like one past the stream's retention (nothing at its start).
    if (compareSequenceNumbers(start, end) > 0)
      return {
        kind: 'unreadable',
        reason: `KinesisBatchInfo range ends before it starts (start ${start}, end ${end})`,
      };
    const context = doc.requestContext as Record<string, unknown> | undefined;
    return {
      kind: 'given-up',
      streamName,
      shardId,
      startSequenceNumber: start,
      endSequenceNumber: end,
      batchSize: typeof info.batchSize === 'number' ? info.batchSize : undefined,
      condition: text(context?.condition) ?? 'unknown',
      timestamp: text(doc.timestamp),
    };
  }
  const shardId = text(doc.shardId);
  const sequenceNumber = text(doc.sequenceNumber);
  const reason = text(doc.reason);
  if (shardId && sequenceNumber && reason) {
    return {
      kind: 'rejected',
      shardId,
      sequenceNumber,
      partitionKey: text(doc.partitionKey) ?? '',
      reason,
      rejectedAt: typeof doc.rejectedAt === 'number' ? doc.rejectedAt : undefined,
    };
  }
  return { kind: 'unreadable', reason: 'neither a rejected record nor a KinesisBatchInfo' };
}

/** What one given-up range turned out to hold. */
export interface GivenUpReview {
  readonly letter: GivenUpLetter;
  /** Records read back from the stream. */
  readonly read: number;
  /** The range's start is past the stream's retention: records before the first read are gone. */
  readonly trimmed: boolean;
  /** Records whose metric row exists (the processor took them, or built that bar from quotes). */
  readonly stored: number;
  /**
   * Valid records with no metric row: lost to the table, or skipped by the processor (at or behind
   * their symbol's watermark, a bar whose minute it already had).
   */
  readonly withoutRow: readonly LakeRecord[];
  /** Records the processor rejects as bad input (each has a rejected-record message of its own). */
  readonly rejected: readonly { readonly sequenceNumber: string; readonly reason: string }[];
  /** Valid records whose (symbol, kind, time) has no line in the raw zone (when the raw zone is read). */
  readonly notInLake: number | undefined;
  /** Lake objects written (recovery only). */
  readonly lakeObjects: readonly string[];
  /** Deleted from the queue: read from its first to its last record, and written (recovery only). */
  readonly deleted: boolean;
  /** Why the range could not be reviewed or recovered (its message stays in the queue). */
  readonly error?: string;
}

export interface DeadLetterReview {
  /**
   * Rejected records, each once, with how many messages named it: a batch retried after another
   * symbol failed rejects its bad records again (delivery to the queue is at least once).
   */
  readonly rejected: readonly (RejectedLetter & { readonly copies: number })[];
  /** The given-up ranges reviewed, in stream order (shard, then first sequence number). */
  readonly givenUp: readonly GivenUpReview[];
  readonly unreadable: readonly (UnreadableLetter & { readonly id: string })[];
  /** Distinct messages received. */
  readonly messages: number;
  /** Given-up ranges received but not reviewed: the run was stopped (their messages are kept). */
  readonly notReviewed: number;
  /**
   * The run was stopped (Ctrl-C) before it was done: while receiving (more messages may wait,
   * unseen) or before every range was reviewed.
   */
  readonly stopped: boolean;
  /** Messages could not be made visible again (they reappear after the visibility timeout). */
  readonly releaseError?: string;
}

export interface DeadLetterDeps {
  readonly queue: DeadLetterQueue;
  readonly stream: StreamRangeReader;
  readonly rows: MetricRowIndex;
  /**
   * The shards a symbol's records were put on, so that a key the raw zone holds on another shard of
   * the symbol (before or after a reshard) counts as held; without it only the range's shard is read.
   */
  readonly shards?: StreamShardMap;
  /** The engine the processor runs, to tell which records it would take (sessions, order). */
  readonly engines: SymbolEngineFactory;
  /** The raw zone, to write to and to read back; both required to recover. */
  readonly lake?: LakeWriter;
  readonly raw?: RawLakeReader;
}

export const DEFAULT_MAX_MESSAGES = 1000;
/**
 * Messages a review takes at most: SQS keeps at most 120,000 messages of a standard queue in flight
 * (received and hidden), and refuses the receive beyond. Each is held until the end of the review,
 * but only as much as the review reports (a rejected record's reason, a range's bounds, the
 * message's id and receipt), not its body (up to 256 KiB): a few hundred bytes to a kilobyte each.
 */
export const MAX_MESSAGES_LIMIT = 120_000;

export interface DeadLetterOptions {
  /**
   * Write the records of each given-up range that the processor would take and whose
   * (symbol, kind, time) the raw zone lacks, and delete the range's message.
   */
  readonly recover: boolean;
  /** Messages to take at most (default DEFAULT_MAX_MESSAGES, never more than MAX_MESSAGES_LIMIT). */
  readonly max?: number;
  /** Called per given-up range as it is handled (progress for a CLI). */
  readonly onRange?: (review: GivenUpReview) => void;
  /** Stops the review before the next range (Ctrl-C): what was received is released as ever. */
  readonly signal?: AbortSignal;
  /**
   * The stage's stream: a given-up batch of another stream (another application's event source
   * mapping sending to this queue) is reported as unreadable and kept, never read nor written.
   */
  readonly streamName?: string;
}

/**
 * Reads the queue (each message once, up to `max`), reviews every message, recovers given-up
 * ranges when asked, and makes every message it did not delete visible again before returning,
 * whatever failed on the way. A range that cannot be read or written is reported with its error and
 * its message kept; the others go on.
 */
export async function reviewDeadLetters(
  deps: DeadLetterDeps,
  options: DeadLetterOptions,
): Promise<DeadLetterReview> {
  const { lake, raw } = deps;
  if (options.recover && (!lake || !raw))
    throw new Error('recovering given-up batches needs the lake writer and the raw zone reader');
  const max = Math.min(options.max ?? DEFAULT_MAX_MESSAGES, MAX_MESSAGES_LIMIT);
  const rejected = new Map<string, RejectedLetter & { copies: number }>();
  const givenUp: GivenUpReview[] = [];
  const unreadable: (UnreadableLetter & { id: string })[] = [];
  /**
   * Received and not deleted, by message id (a message seen again keeps its newest receipt), without
   * its body: parsed once into what the review reports, the body is not kept.
   */
  const held = new Map<string, DeadLetterMessage>();
  const lakeKeys = raw ? rawZoneKeys(raw) : undefined;
  let releaseError: string | undefined;
  let stopped = false;
  const letters: { readonly id: string; readonly letter: DeadLetter }[] = [];
  const ranges: { readonly id: string; readonly letter: GivenUpLetter }[] = [];
  try {
    // First every message (up to max), so that each range knows every record rejected anywhere in
    // the queue, whatever the order of the messages.
    while (held.size < max) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      const batch = await deps.queue.receive(Math.min(10, max - held.size));
      if (batch.length === 0) break;
      let fresh = 0;
      for (const m of batch) {
        if (!held.has(m.id)) {
          fresh++;
          letters.push({ id: m.id, letter: parseDeadLetter(m.body) });
        }
        held.set(m.id, { id: m.id, receipt: m.receipt, body: '' });
      }
      if (fresh === 0) break; // only messages this run already holds: nothing new is visible
    }
    for (const { id, letter } of letters) {
      if (letter.kind === 'rejected') {
        const key = `${letter.shardId}|${letter.sequenceNumber}`;
        const seen = rejected.get(key);
        if (seen) seen.copies++;
        else rejected.set(key, { ...letter, copies: 1 });
      } else if (letter.kind === 'unreadable') {
        unreadable.push({ ...letter, id });
      } else if (options.streamName !== undefined && letter.streamName !== options.streamName) {
        unreadable.push({
          kind: 'unreadable',
          reason: `a batch of stream "${letter.streamName}", not this stage's stream "${options.streamName}"`,
          id,
        });
      } else {
        ranges.push({ id, letter });
      }
    }
    // Then the given-up ranges in stream order, so that of two copies of a key in two ranges the
    // earlier is the one written, as the processor would have taken it.
    ranges.sort(
      (a, b) =>
        (a.letter.shardId < b.letter.shardId ? -1 : a.letter.shardId > b.letter.shardId ? 1 : 0) ||
        compareSequenceNumbers(a.letter.startSequenceNumber, b.letter.startSequenceNumber),
    );
    for (const { id, letter } of ranges) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      let review = await reviewRange(deps, letter, options.recover ? lake : undefined, lakeKeys, rejected);
      if (review.deleted) {
        try {
          await deps.queue.delete([held.get(id)!]);
          held.delete(id);
        } catch (err) {
          review = {
            ...review,
            deleted: false,
            error: `recovered, but the message was not deleted: ${errorMessage(err)}`,
          };
        }
      }
      givenUp.push(review);
      options.onRange?.(review);
    }
  } finally {
    if (held.size > 0) {
      try {
        await deps.queue.release([...held.values()]);
      } catch (err) {
        releaseError = errorMessage(err);
      }
    }
  }
  return {
    rejected: [...rejected.values()],
    givenUp,
    unreadable,
    messages: letters.length,
    notReviewed: ranges.length - givenUp.length,
    stopped,
    ...(releaseError ? { releaseError } : {}),
  };
}

type RawZoneKeys = (day: string, shardId: string) => Promise<Set<string>>;

/** Raw objects read at once while a shard's day is loaded. */
const RAW_READ_CONCURRENCY = 8;

/**
 * The (symbol, kind, time) keys of the raw zone's lines for a day and shard (a symbol's records
 * stay on one shard while the stream is not resharded; after a reshard its parent's or children's
 * are read too), read once per run and kept up to date with what the run writes. A line counts only if the compaction would take it (parseRawLine); an object
 * it cannot read (not gzip) holds no key for it either, one cut off only its whole lines. A load that failed is tried again.
 */
function rawZoneKeys(raw: RawLakeReader): RawZoneKeys {
  const loaded = new Map<string, Promise<Set<string>>>();
  const load = async (day: string, shardId: string) => {
    const start = dayStart(day);
    const keys = new Set<string>();
    const objects = (await raw.listDay(day)).filter((k) => k.includes(`/shard=${shardId}/`));
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const key = objects[next++]!;
        let ndjson: string;
        try {
          ndjson = await raw.read(key);
        } catch (err) {
          if (!(err instanceof UnreadableRawObjectError)) throw err;
          if (err.partial === undefined) continue;
          ndjson = err.partial.slice(0, err.partial.lastIndexOf('\n') + 1); // its whole lines
        }
        for (const line of ndjson.split('\n')) {
          if (line === '') continue;
          const event = parseRawLine(line, start);
          if (typeof event !== 'string') keys.add(metricRowId(event));
        }
      }
    };
    await Promise.all(Array.from({ length: RAW_READ_CONCURRENCY }, worker));
    return keys;
  };
  return (day, shardId) => {
    const id = `${day}|${shardId}`;
    let keys = loaded.get(id);
    if (!keys) {
      keys = load(day, shardId);
      keys.catch(() => loaded.delete(id));
      loaded.set(id, keys);
    }
    return keys;
  };
}

async function reviewRange(
  deps: DeadLetterDeps,
  letter: GivenUpLetter,
  lake: LakeWriter | undefined,
  lakeKeys: RawZoneKeys | undefined,
  rejectedLetters: ReadonlyMap<string, RejectedLetter>,
): Promise<GivenUpReview> {
  const review: {
    -readonly [K in keyof GivenUpReview]: GivenUpReview[K];
  } = {
    letter,
    read: 0,
    trimmed: false,
    stored: 0,
    withoutRow: [],
    rejected: [],
    notInLake: undefined,
    lakeObjects: [],
    deleted: false,
  };
  try {
    const range = await deps.stream.read(
      letter.streamName,
      letter.shardId,
      letter.startSequenceNumber,
      letter.endSequenceNumber,
      letter.batchSize,
    );
    review.read = range.records.length;
    review.trimmed = range.trimmed;
    // Decoded as the processor decoded them when it gave up (a time then in the future stays so),
    // and each symbol's records run through a fresh engine in order: a record the engine refuses
    // (outside its exchange's sessions, a tick later than an earlier record of the range allows,
    // a bar whose minute the range already had) is not one the processor would have taken.
    const then = letter.timestamp ? Date.parse(letter.timestamp) : Number.NaN;
    const valid: LakeRecord[] = [];
    const rejected: { sequenceNumber: string; reason: string }[] = [];
    const engines = new Map<string, SymbolEngine>();
    for (const record of range.records) {
      const event = decodeStreamRecord(record, Number.isFinite(then) ? then : record.arrivalTime);
      if (typeof event === 'string') {
        rejected.push({ sequenceNumber: record.sequenceNumber, reason: event });
        continue;
      }
      if (rejectedLetters.has(`${record.shardId}|${record.sequenceNumber}`)) {
        rejected.push({
          sequenceNumber: record.sequenceNumber,
          reason: 'rejected by the processor (its message is in the queue)',
        });
        continue;
      }
      const line = lakeRecordOf(record, event);
      let engine = engines.get(line.symbol);
      if (!engine) {
        engine = deps.engines.create(line.symbol);
        engines.set(line.symbol, engine);
      }
      const step = engine.apply(event);
      const refused = step.rejected ?? step.covered;
      if (refused !== undefined) rejected.push({ sequenceNumber: record.sequenceNumber, reason: refused });
      else valid.push(line);
    }
    review.rejected = rejected;
    const existing = await deps.rows.existing(
      valid.map((r) => ({ symbol: r.symbol, kind: r.kind, time: r.time })),
    );
    review.withoutRow = valid.filter((r) => !existing.has(metricRowId(r)));
    review.stored = valid.length - review.withoutRow.length;
    const notInLake: LakeRecord[] = [];
    if (lakeKeys) {
      // The range's shard first; a key it lacks may still be on a parent or child shard of the
      // symbol (a reshard between the line the table was built from and this copy).
      const shardsOf = new Map<string, readonly string[]>();
      for (const r of valid) {
        let shards = shardsOf.get(r.symbol);
        if (!shards) {
          const mapped = deps.shards ? await deps.shards.shardsOf(letter.streamName, r.symbol) : [];
          shards = [...new Set([letter.shardId, ...mapped])];
          shardsOf.set(r.symbol, shards);
        }
        let held = false;
        for (const shardId of shards) {
          held = (await lakeKeys(eventDay(r.time), shardId)).has(metricRowId(r));
          if (held) break;
        }
        if (!held) notInLake.push(r);
      }
      review.notInLake = notInLake.length;
    }
    const pastRetention = 'the range starts past the stream retention: its first records are gone';
    const deleteOnceNoted = ' (delete the message once noted)';
    if (!range.complete) {
      review.error = range.trimmed
        ? pastRetention + deleteOnceNoted
        : `the range's last record (${letter.endSequenceNumber}) was not read: ${range.records.length} record(s) read back`;
      return review;
    }
    // Read to its last record: what it holds is written, also when its first records are past the
    // retention (what is left of them expires next; the message is kept, as the range is not whole).
    if (lake && lakeKeys && notInLake.length > 0) {
      // As the processor writes lines: every record it takes (ticks of one time within the reorder
      // window included: the compaction keeps the last), in sequence order.
      review.lakeObjects = await lake.writeBatch({
        shardId: letter.shardId,
        firstSequenceNumber: notInLake[0]!.sequenceNumber,
        lastSequenceNumber: notInLake[notInLake.length - 1]!.sequenceNumber,
        records: notInLake,
      });
      for (const r of notInLake) (await lakeKeys(eventDay(r.time), letter.shardId)).add(metricRowId(r));
    }
    if (range.trimmed) {
      review.error =
        pastRetention +
        (review.lakeObjects.length > 0
          ? `; the ${notInLake.length} left that the raw zone lacked were written`
          : '') +
        deleteOnceNoted;
      return review;
    }
    review.deleted = lake !== undefined && lakeKeys !== undefined;
    return review;
  } catch (err) {
    review.error = errorMessage(err);
    review.deleted = false;
    return review;
  }
}
