/**
 * Review of the processor's dead-letter queue, and recovery of the batches the event source
 * mapping gave up on.
 *
 * The queue holds two kinds of message (README, "Dead letters"): a record rejected as bad input
 * (the record itself and the reason: listed, left in the queue for whoever fixes the producer), and
 * Lambda's on-failure record of a batch given up after its retries or its maximum age, which names
 * only a shard and a range of sequence numbers. For such a range this reads the records back from
 * the stream (while its retention holds them), decodes them as the processor does, and asks the
 * table which have their metric row. A record with its row was processed (another symbol's record
 * in the range, say); one without was lost to the table. The processor cannot take those again:
 * its symbol's state has moved past them, and its indicators are computed in order. What recovery
 * gives back is the raw zone: the missing records are written to the lake as the processor would
 * have written them (one object per shard and event day, named by its records' sequence numbers,
 * so a second recovery of the same records rewrites the same object), for the compaction, Athena
 * and DuckDB to include; their metric rows, indicators and alerts stay missing. A message is
 * deleted once its range is accounted for; every other message is made visible again.
 */

import type {
  DeadLetterMessage,
  DeadLetterQueue,
  MetricRowIndex,
  StreamRangeReader,
} from '../../ports/dead-letters.ts';
import { metricRowId } from '../../ports/dead-letters.ts';
import type { LakeRecord, LakeWriter } from '../../ports/processor.ts';
import { decodeStreamRecord, lakeRecordOf } from '../process/process-batch.ts';
import { compareSequenceNumbers } from '../process/sequence.ts';

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
  /** Records whose metric row exists: processed. */
  readonly stored: number;
  /** Records with no metric row: lost to the table (and, until recovered, to the lake). */
  readonly missing: readonly LakeRecord[];
  /** Records the processor rejects as bad input (each has a rejected-record message of its own). */
  readonly rejected: readonly { readonly sequenceNumber: string; readonly reason: string }[];
  /** Lake objects written for the missing records (recovery only). */
  readonly lakeObjects: readonly string[];
  /** Deleted from the queue: the range is accounted for (recovery only). */
  readonly deleted: boolean;
  /** Why the recovery of this range failed, if it did (the message stays in the queue). */
  readonly error?: string;
}

export interface DeadLetterReview {
  /**
   * Rejected records, each once, with how many messages named it: a batch retried after another
   * symbol failed rejects its bad records again (delivery to the queue is at least once).
   */
  readonly rejected: readonly (RejectedLetter & { readonly copies: number })[];
  readonly givenUp: readonly GivenUpReview[];
  readonly unreadable: readonly (UnreadableLetter & { readonly id: string })[];
  /** Messages received (each once). */
  readonly messages: number;
}

export interface DeadLetterDeps {
  readonly queue: DeadLetterQueue;
  readonly stream: StreamRangeReader;
  readonly rows: MetricRowIndex;
  /** The raw zone; required to recover. */
  readonly lake?: LakeWriter;
  readonly clock?: () => number;
}

export interface DeadLetterOptions {
  /** Write the missing records of given-up ranges to the lake and delete those messages. */
  readonly recover: boolean;
  /** Messages to take at most (default 1,000). */
  readonly max?: number;
  /** Called per message as it is handled (progress for a CLI). */
  readonly onLetter?: (letter: DeadLetter, review?: GivenUpReview) => void;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Reads the queue (each message once, up to `max`), reviews every message, recovers given-up
 * ranges when asked, and makes every message it did not delete visible again before returning.
 */
export async function reviewDeadLetters(
  deps: DeadLetterDeps,
  options: DeadLetterOptions,
): Promise<DeadLetterReview> {
  if (options.recover && !deps.lake) throw new Error('recovering given-up batches needs the lake writer');
  const max = options.max ?? 1000;
  const clock = deps.clock ?? Date.now;
  const rejected = new Map<string, RejectedLetter & { copies: number }>();
  const givenUp: GivenUpReview[] = [];
  const unreadable: (UnreadableLetter & { id: string })[] = [];
  const keep: DeadLetterMessage[] = [];
  /** (shard, sequence number) of records recovered by this run: overlapping ranges write each once. */
  const recovered = new Set<string>();
  let messages = 0;
  try {
    while (messages < max) {
      const batch = await deps.queue.receive(Math.min(10, max - messages));
      if (batch.length === 0) break;
      messages += batch.length;
      for (const message of batch) {
        const letter = parseDeadLetter(message.body);
        if (letter.kind !== 'given-up') {
          keep.push(message);
          if (letter.kind === 'rejected') {
            const id = `${letter.shardId}|${letter.sequenceNumber}`;
            const seen = rejected.get(id);
            if (seen) seen.copies++;
            else rejected.set(id, { ...letter, copies: 1 });
          } else unreadable.push({ ...letter, id: message.id });
          options.onLetter?.(letter);
          continue;
        }
        const review = await reviewRange(deps, letter, message, options.recover, recovered, clock());
        if (!review.deleted) keep.push(message);
        givenUp.push(review);
        options.onLetter?.(letter, review);
      }
    }
  } finally {
    if (keep.length > 0) await deps.queue.release(keep);
  }
  return { rejected: [...rejected.values()], givenUp, unreadable, messages };
}

async function reviewRange(
  deps: DeadLetterDeps,
  letter: GivenUpLetter,
  message: DeadLetterMessage,
  recover: boolean,
  recovered: Set<string>,
  now: number,
): Promise<GivenUpReview> {
  const range = await deps.stream.read(
    letter.streamName,
    letter.shardId,
    letter.startSequenceNumber,
    letter.endSequenceNumber,
  );
  const rejectedRecords: { sequenceNumber: string; reason: string }[] = [];
  const candidates: LakeRecord[] = [];
  for (const record of range.records) {
    const event = decodeStreamRecord(record, now);
    if (typeof event === 'string')
      rejectedRecords.push({ sequenceNumber: record.sequenceNumber, reason: event });
    else candidates.push(lakeRecordOf(record, event));
  }
  const existing = await deps.rows.existing(
    candidates.map((r) => ({ symbol: r.symbol, kind: r.kind, time: r.time })),
  );
  const missing = candidates.filter((r) => !existing.has(metricRowId(r)));
  const base = {
    letter,
    read: range.records.length,
    trimmed: range.trimmed,
    stored: candidates.length - missing.length,
    missing,
    rejected: rejectedRecords,
  };
  if (!recover) return { ...base, lakeObjects: [], deleted: false };
  try {
    const toWrite = missing
      .filter((r) => !recovered.has(`${r.shardId}|${r.sequenceNumber}`))
      .sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    const lakeObjects =
      toWrite.length === 0
        ? []
        : await deps.lake!.writeBatch({
            shardId: letter.shardId,
            firstSequenceNumber: toWrite[0]!.sequenceNumber,
            lastSequenceNumber: toWrite[toWrite.length - 1]!.sequenceNumber,
            records: toWrite,
          });
    for (const r of toWrite) recovered.add(`${r.shardId}|${r.sequenceNumber}`);
    await deps.queue.delete([message]);
    return { ...base, lakeObjects, deleted: true };
  } catch (err) {
    return { ...base, lakeObjects: [], deleted: false, error: describe(err) };
  }
}

/** The UTC days (YYYY-MM-DD) of records, sorted. */
export function eventDays(records: readonly Pick<LakeRecord, 'time'>[]): string[] {
  return [...new Set(records.map((r) => new Date(r.time).toISOString().slice(0, 10)))].sort();
}
