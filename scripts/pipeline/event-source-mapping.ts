/**
 * A local stand-in for Lambda's Kinesis event source mapping: polls each shard of a stream, builds
 * real `KinesisStreamEvent`s, invokes the handler in-process, and honours the mapping's settings as
 * the synthesized template declares them — batch size, batching window, starting position,
 * parallelization factor, partial-batch responses (ReportBatchItemFailures), bisect on function
 * error, bounded retries, maximum record age, and the on-failure destination (an SQS queue receiving
 * Lambda's metadata).
 *
 * With a parallelization factor N > 1, a read takes up to batchSize × N records and splits them into
 * N lanes by partition key (`laneOf`: a hash of the key mod N), so one key's records are always in
 * the same lane and in sequence order. The lanes are invoked concurrently, each in batches of at most
 * batchSize with its own retries, bisect, partial-batch responses, record age and discards; a lane
 * that keeps failing does not hold back the others' batches of the same read. The next read starts
 * when every lane has finished this one, and the shard's checkpoint only moves up to the record
 * before the first one some lane has not finished (completed or discarded): a restart may deliver
 * again what a faster lane had finished (the processor skips it by sequence number), never loses
 * a record. Records a lane gave up on past the checkpoint are kept with it (CheckpointStore.givenUp):
 * a restart skips them instead of retrying them and sending a second on-failure message.
 *
 * Invocations of different shards and lanes overlap: the `handler` given is called concurrently. The
 * local pipeline gives each concurrent call an execution environment of its own, as Lambda does
 * (`HandlerEnvironments`: a separate instance of the handler's module, reused warm when idle).
 */
import { createHash } from 'node:crypto';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { compareSequenceNumbers } from '../../src/pipeline/process/sequence.ts';

export interface EventSourceMappingSettings {
  readonly streamName: string;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  /**
   * Concurrent batches per shard, 1..10 (default 1): records go to lane `laneOf(partitionKey)`,
   * each lane's batches hold at most `batchSize` records.
   */
  readonly parallelizationFactor?: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectOnError: boolean;
  /** -1: retry until the records expire. */
  readonly maxRetryAttempts: number;
  /** -1: records never expire. */
  readonly maxRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  /** Queue URL of the on-failure destination, if any. */
  readonly onFailureQueueUrl?: string;
  /**
   * The function's Timeout: an invocation still running after it fails, as on Lambda ("Task timed
   * out after N seconds"), and is retried, bisected or discarded like a thrown error. The handler
   * cannot be stopped in-process: it runs on, its result ignored, in its execution environment,
   * which stays busy until it returns (the retry runs in another one). Absent: no limit.
   */
  readonly functionTimeoutSeconds?: number;
  readonly region: string;
}

export type StreamHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>;

/** Where each shard's progress is kept, so a restart continues after the last processed record. */
export interface CheckpointStore {
  get(shardId: string): string | undefined;
  set(shardId: string, sequenceNumber: string): void;
  /**
   * Records of the shard given up on (sent to the on-failure destination) past its checkpoint: with
   * a parallelization factor above 1 a lane may give up on records while another lane has an
   * earlier one to finish, and a restart reads them again. Kept, they are skipped then, not retried
   * and given up a second time. Without these two methods they are retried after a restart.
   */
  givenUp?(shardId: string): readonly string[];
  setGivenUp?(shardId: string, sequenceNumbers: readonly string[]): void;
}

export interface BatchOutcome {
  readonly shardId: string;
  /** Records of the invocation ('discarded': records given up). */
  readonly size: number;
  /**
   * Records the handler completed: all of an 'ok' batch, those before the first reported failure
   * of a 'partial' one, none of an 'error' or 'discarded' one. A record counts once: what failed is
   * retried from the first failure on.
   */
  readonly succeeded: number;
  readonly status: 'ok' | 'partial' | 'error' | 'discarded';
  /** Retries of the records before this invocation (or discard); splitting a batch is none. */
  readonly attempt: number;
  readonly durationMs: number;
  /** Arrival time (epoch ms) of the batch's newest record. */
  readonly newestArrival: number;
  readonly error?: string;
}

export interface PollerOptions {
  readonly kinesis: KinesisClient;
  readonly sqs?: SQSClient;
  readonly settings: EventSourceMappingSettings;
  readonly handler: StreamHandler;
  readonly checkpoints: CheckpointStore;
  /** How long to sleep when a shard has nothing new (ms). */
  readonly idlePollMs?: number;
  /** Backoff before a retry (ms); doubled per attempt up to 8×. */
  readonly retryBackoffMs?: number;
  readonly onBatch?: (outcome: BatchOutcome) => void;
  readonly log?: (line: string) => void;
  readonly clock?: () => number;
}

interface PendingBatch {
  readonly records: KinesisRecord[];
  /** Retries of these records so far, against maxRetryAttempts (a bisect is none). */
  readonly attempts: number;
  /** Invocations that held these records so far (the on-failure record's approximateInvokeCount). */
  readonly invocations: number;
}

/** GetRecords returns at most this many records a call. */
const MAX_GET_RECORDS = 10_000;
/** Consecutive failed GetRecords calls on one iterator before a new one is asked for. */
const FAILED_READS_BEFORE_NEW_ITERATOR = 3;

/**
 * The lane (0 … factor − 1) of a partition key: the first 32 bits of its MD5 (the high bits of the
 * record's Kinesis hash key) modulo the parallelization factor. Stable across runs, so a key never
 * changes lanes. (Lambda's own assignment is not documented; any stable hash keeps the guarantees.
 * This one splits the default symbols 3/2 at factor 2: AAPL, MSFT, SPY | NVDA, BTC-USD.)
 */
export function laneOf(partitionKey: string, factor: number): number {
  if (factor <= 1) return 0;
  return createHash('md5').update(partitionKey, 'utf8').digest().readUInt32BE(0) % factor;
}

/**
 * How far the shard's checkpoint may go while one read is delivered in lanes: up to the record
 * before the first one no lane has finished (completed or discarded) yet, never past it, whatever
 * the other lanes have finished after it.
 */
class ReadProgress {
  readonly #records: readonly KinesisRecord[];
  readonly #position: ReadonlyMap<string, number>;
  readonly #finished: boolean[];
  readonly #advance: (sequenceNumber: string) => void;
  /** Index of the first record not finished. */
  #low = 0;

  constructor(records: readonly KinesisRecord[], advance: (sequenceNumber: string) => void) {
    this.#records = records;
    this.#finished = records.map(() => false);
    this.#position = new Map(records.map((r, i) => [r.SequenceNumber!, i]));
    this.#advance = advance;
  }

  finish(records: readonly KinesisRecord[]) {
    for (const r of records) {
      const i = this.#position.get(r.SequenceNumber!);
      if (i !== undefined) this.#finished[i] = true;
    }
    const before = this.#low;
    while (this.#low < this.#records.length && this.#finished[this.#low]) this.#low++;
    if (this.#low > before) this.#advance(this.#records[this.#low - 1]!.SequenceNumber!);
  }
}

/** Sleeps `ms`, cut short by `signal`; its listener goes when it ends (an idle poll sleeps ~20 times a second). */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class KinesisEventSourcePoller {
  readonly #o: PollerOptions;
  readonly #abort = new AbortController();
  #loops: Promise<void>[] = [];
  /**
   * Per shard: when (epoch ms, request start) a read found the shard's end with nothing buffered or
   * left to retry; -1 while it has work.
   */
  readonly #atTipSince = new Map<string, number>();
  #idleWaiters: { since: number; resolve: () => void }[] = [];

  readonly #factor: number;
  /** Per shard: sequence numbers given up on past the checkpoint (CheckpointStore.givenUp). */
  readonly #givenUp = new Map<string, Set<string>>();
  /** Lanes of the partition keys seen (a few symbols; cleared if a stream has many more keys). */
  readonly #laneOfKey = new Map<string, number>();

  constructor(options: PollerOptions) {
    const factor = options.settings.parallelizationFactor ?? 1;
    if (!Number.isInteger(factor) || factor < 1 || factor > 10) {
      throw new Error(`the parallelization factor must be an integer from 1 to 10, got ${factor}`);
    }
    this.#o = options;
    this.#factor = factor;
  }

  /** Starts one polling loop per shard. */
  async start(): Promise<void> {
    const shards = await this.#o.kinesis.send(
      new ListShardsCommand({ StreamName: this.#o.settings.streamName }),
    );
    for (const shard of shards.Shards ?? []) {
      const shardId = shard.ShardId!;
      this.#atTipSince.set(shardId, -1);
      this.#loops.push(this.#pollShard(shardId));
    }
  }

  /** Resolves once every shard has processed everything that was in the stream when it was called. */
  async idle(): Promise<void> {
    const since = (this.#o.clock ?? Date.now)();
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push({ since, resolve });
      this.#wakeIdleWaiters();
    });
  }

  /**
   * Whether every shard's last read found its end with nothing buffered or left to retry: nothing
   * in the stream is waiting for the handler.
   */
  get caughtUp(): boolean {
    return [...this.#atTipSince.values()].every((since) => since >= 0);
  }

  /**
   * Stops polling after the batches in flight (they are finished and checkpointed, never cut
   * short; a failed one is not retried, and a lane starts no further batch).
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#loops);
    this.#loops = [];
  }

  #markTip(shardId: string, requestStartedAt: number) {
    this.#atTipSince.set(shardId, requestStartedAt);
    this.#wakeIdleWaiters();
  }

  #wakeIdleWaiters() {
    const oldest = Math.min(...this.#atTipSince.values());
    this.#idleWaiters = this.#idleWaiters.filter((w) => {
      if (oldest < w.since) return true;
      w.resolve();
      return false;
    });
  }

  /** An iterator after `after` (records already read), else after the checkpoint, else at the starting position. */
  async #iterator(shardId: string, readTo?: string): Promise<string> {
    const after = readTo ?? this.#o.checkpoints.get(shardId);
    const out = await this.#o.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.#o.settings.streamName,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }
          : { ShardIteratorType: this.#o.settings.startingPosition }),
      }),
    );
    return out.ShardIterator!;
  }

  async #pollShard(shardId: string): Promise<void> {
    const { settings } = this.#o;
    const signal = this.#abort.signal;
    const idlePollMs = this.#o.idlePollMs ?? 50;
    const clock = this.#o.clock ?? Date.now;
    let iterator: string | undefined;
    /** The iterator the last read answered with (kept aside while an empty read's is not used). */
    let latest: string | undefined;
    const buffered: KinesisRecord[] = [];
    let windowStart: number | undefined;
    let failedReads = 0;

    while (!signal.aborted) {
      try {
        // Records held for the window were read already: a new iterator starts after them.
        iterator ??= await this.#iterator(shardId, buffered.at(-1)?.SequenceNumber);
        const requestStartedAt = clock();
        const out = await this.#o.kinesis.send(
          new GetRecordsCommand({
            ShardIterator: iterator,
            Limit: Math.min(MAX_GET_RECORDS, settings.batchSize * this.#factor - buffered.length),
          }),
        );
        failedReads = 0;
        const records = out.Records ?? [];
        latest = out.NextShardIterator;
        // An empty read keeps the position it read from. kinesalite stamps an empty read's next
        // iterator with the read's time, and a record whose PutRecords began before that read but
        // was written after it is stamped earlier: when it shares the iterator's sequence index (a
        // stream's first record does, as does the first after a LATEST start) and a second boundary
        // falls between the stamps, it sorts before the new iterator and would never be read.
        if (records.length > 0 || latest === undefined) iterator = latest;
        buffered.push(...records);
        if (buffered.length > 0) windowStart ??= clock();
        const atTip = (out.MillisBehindLatest ?? 0) === 0 && records.length === 0;
        const windowOver =
          windowStart !== undefined && clock() - windowStart >= settings.batchingWindowSeconds * 1000;
        const full = this.#someLaneFull(buffered);
        if (buffered.length > 0 && (full || windowOver || (atTip && settings.batchingWindowSeconds === 0))) {
          const batch = buffered.splice(0, buffered.length);
          windowStart = undefined;
          this.#atTipSince.set(shardId, -1);
          // Anything retried and given up on is checkpointed past; re-read from the checkpoint
          // (after a delivery that throws too).
          iterator = undefined;
          latest = undefined;
          await this.#deliverRead(shardId, batch);
          continue;
        }
        if (buffered.length === 0 && atTip) this.#markTip(shardId, requestStartedAt);
        if (records.length === 0) await sleep(idlePollMs, signal);
        if (iterator === undefined) {
          // The shard is closed (resharded) and fully read.
          this.#markTip(shardId, Number.POSITIVE_INFINITY);
          return;
        }
      } catch (err) {
        if (err instanceof ExpiredIteratorException) {
          // A position kept through 5 minutes of empty reads: go on from the last read's iterator
          // (a moment old), else resolve one again.
          iterator = latest !== iterator ? latest : undefined;
          latest = undefined;
          continue;
        }
        this.#o.log?.(`event source mapping: reading ${shardId} failed: ${(err as Error).message}`);
        await sleep(500, signal);
        // A failed read: an iterator stays valid for 5 minutes, so retry it (a new one at LATEST
        // would skip the records put meanwhile). Only one that keeps failing is resolved again.
        if (++failedReads >= FAILED_READS_BEFORE_NEW_ITERATOR) {
          iterator = undefined;
          latest = undefined;
          failedReads = 0;
        }
      }
    }
  }

  #lane(record: KinesisRecord): number {
    if (this.#factor === 1) return 0;
    const key = record.PartitionKey!;
    let lane = this.#laneOfKey.get(key);
    if (lane === undefined) {
      if (this.#laneOfKey.size >= 10_000) this.#laneOfKey.clear();
      lane = laneOf(key, this.#factor);
      this.#laneOfKey.set(key, lane);
    }
    return lane;
  }

  /** Whether a lane holds a full batch (with one lane: whether the read is full). */
  #someLaneFull(buffered: readonly KinesisRecord[]): boolean {
    const { batchSize } = this.#o.settings;
    if (buffered.length >= batchSize * this.#factor) return true;
    if (this.#factor === 1) return false;
    const counts = new Array<number>(this.#factor).fill(0);
    return buffered.some((r) => ++counts[this.#lane(r)]! >= batchSize);
  }

  /**
   * Delivers one read: each lane's records (in sequence order) in batches of at most batchSize, one
   * after the other, the lanes concurrently. Resolves when every lane is done with the read; the
   * checkpoint follows the first record not finished across the lanes.
   */
  async #deliverRead(shardId: string, records: KinesisRecord[]): Promise<void> {
    const { batchSize } = this.#o.settings;
    const progress = new ReadProgress(records, (sequenceNumber) => {
      this.#o.checkpoints.set(shardId, sequenceNumber);
      this.#forgetGivenUp(shardId, sequenceNumber);
    });
    // Given up on before a restart (its message sent then): finished, not delivered again.
    const givenUp = this.#givenUpOf(shardId);
    const skipped = givenUp.size > 0 ? records.filter((r) => givenUp.has(r.SequenceNumber!)) : [];
    if (skipped.length > 0) progress.finish(skipped);
    const lanes: KinesisRecord[][] = Array.from({ length: this.#factor }, () => []);
    for (const r of records) if (!givenUp.has(r.SequenceNumber!)) lanes[this.#lane(r)]!.push(r);
    // Settled, not Promise.all: a lane that throws must not let the next read start while another
    // lane is still delivering this one.
    const settled = await Promise.allSettled(
      lanes
        .filter((lane) => lane.length > 0)
        .map(async (lane) => {
          for (let i = 0; i < lane.length; i += batchSize) {
            if (i > 0 && this.#abort.signal.aborted) return;
            await this.#deliver(shardId, lane.slice(i, i + batchSize), progress);
          }
        }),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #givenUpOf(shardId: string): Set<string> {
    let set = this.#givenUp.get(shardId);
    if (!set) {
      set = new Set(this.#o.checkpoints.givenUp?.(shardId) ?? []);
      this.#givenUp.set(shardId, set);
    }
    return set;
  }

  /** The checkpoint moved to `sequenceNumber`: what was given up on up to it need not be kept. */
  #forgetGivenUp(shardId: string, sequenceNumber: string) {
    const set = this.#givenUpOf(shardId);
    let changed = false;
    for (const s of set) {
      if (compareSequenceNumbers(s, sequenceNumber) <= 0) {
        set.delete(s);
        changed = true;
      }
    }
    if (changed) this.#o.checkpoints.setGivenUp?.(shardId, [...set]);
  }

  /** Invokes the handler for one batch until it succeeds, is discarded, or the poller stops. */
  async #deliver(shardId: string, records: KinesisRecord[], progress: ReadProgress): Promise<void> {
    const { settings } = this.#o;
    const clock = this.#o.clock ?? Date.now;
    const backoff = this.#o.retryBackoffMs ?? 100;
    const queue: PendingBatch[] = [{ records, attempts: 0, invocations: 0 }];

    while (queue.length > 0) {
      const batch = queue.shift()!;
      // Once stopped, nothing failed is retried (a backoff cut short by stop(), a bisected half).
      if (batch.invocations > 0 && this.#abort.signal.aborted) return;
      let live = batch.records;
      if (settings.maxRecordAgeSeconds >= 0) {
        const limit = clock() - settings.maxRecordAgeSeconds * 1000;
        const expired = live.filter((r) => r.ApproximateArrivalTimestamp!.getTime() < limit);
        if (expired.length > 0) {
          await this.#discard(shardId, expired, 'RecordAgeExceeded', batch, progress);
          live = live.filter((r) => r.ApproximateArrivalTimestamp!.getTime() >= limit);
        }
      }
      if (live.length === 0) continue;

      const started = clock();
      const newestArrival = live[live.length - 1]!.ApproximateArrivalTimestamp!.getTime();
      let failedFrom: number | undefined;
      let error: string | undefined;
      try {
        const response = await this.#invoke(this.#event(shardId, live));
        if (settings.reportBatchItemFailures) failedFrom = this.#firstFailure(live, response);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        failedFrom = 0;
      }
      const durationMs = clock() - started;

      if (failedFrom === undefined) {
        progress.finish(live);
        this.#o.onBatch?.({
          shardId,
          size: live.length,
          succeeded: live.length,
          status: 'ok',
          attempt: batch.attempts,
          durationMs,
          newestArrival,
        });
        continue;
      }
      // Everything before the first failure is done.
      if (failedFrom > 0) progress.finish(live.slice(0, failedFrom));
      const remaining = live.slice(failedFrom);
      const invocations = batch.invocations + 1;
      // As on Lambda, splitting a batch that threw consumes no retry: the halves are split again
      // down to the failing record, which alone uses up the retries (a partial response's
      // remaining records are retried whole, and that is a retry).
      const bisect = error !== undefined && settings.bisectOnError && remaining.length > 1;
      const attempts = bisect ? batch.attempts : batch.attempts + 1;
      this.#o.onBatch?.({
        shardId,
        size: live.length,
        succeeded: failedFrom,
        status: error === undefined ? 'partial' : 'error',
        attempt: batch.attempts,
        durationMs,
        newestArrival,
        ...(error === undefined ? {} : { error }),
      });
      if (settings.maxRetryAttempts >= 0 && attempts > settings.maxRetryAttempts) {
        await this.#discard(
          shardId,
          remaining,
          'RetryAttemptsExhausted',
          { attempts, invocations },
          progress,
        );
        continue;
      }
      if (this.#abort.signal.aborted) return;
      await sleep(Math.min(backoff * 2 ** Math.max(0, attempts - 1), backoff * 8), this.#abort.signal);
      if (bisect) {
        const half = Math.ceil(remaining.length / 2);
        queue.unshift(
          { records: remaining.slice(0, half), attempts, invocations },
          { records: remaining.slice(half), attempts, invocations },
        );
      } else {
        queue.unshift({ records: remaining, attempts, invocations });
      }
    }
  }

  /** The handler's result, or a rejection once the function's timeout has passed. */
  #invoke(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse | undefined> {
    const invocation = this.#o.handler(event);
    const timeout = this.#o.settings.functionTimeoutSeconds;
    if (timeout === undefined) return invocation;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${timeout.toFixed(2)} seconds`)),
        timeout * 1000,
      );
    });
    // A timed-out invocation that fails later must not be an unhandled rejection.
    invocation.catch(() => {});
    return Promise.race([invocation, timedOut]).finally(() => clearTimeout(timer));
  }

  /**
   * Index of the first record to retry, or undefined when the batch succeeded. As in Lambda, an
   * identifier that names no record of the batch fails the whole batch.
   */
  #firstFailure(records: readonly KinesisRecord[], response: KinesisStreamBatchResponse | undefined) {
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return undefined;
    let first: number | undefined;
    for (const f of failures) {
      const i = f.itemIdentifier ? records.findIndex((r) => r.SequenceNumber === f.itemIdentifier) : -1;
      if (i < 0) return 0;
      first = first === undefined ? i : Math.min(first, i);
    }
    return first;
  }

  /** Skips records for good, sending Lambda's failure metadata to the on-failure destination. */
  async #discard(
    shardId: string,
    records: readonly KinesisRecord[],
    condition: string,
    { attempts, invocations }: Pick<PendingBatch, 'attempts' | 'invocations'>,
    progress: ReadProgress,
  ) {
    const { settings } = this.#o;
    const sorted = [...records].sort((a, b) => compareSequenceNumbers(a.SequenceNumber!, b.SequenceNumber!));
    const first = sorted[0]!;
    const last = sorted[sorted.length - 1]!;
    const body = {
      requestContext: {
        requestId: crypto.randomUUID(),
        functionArn: settings.functionArn,
        condition,
        approximateInvokeCount: invocations,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp!.toISOString(),
        approximateArrivalOfLastRecord: last.ApproximateArrivalTimestamp!.toISOString(),
        batchSize: sorted.length,
        streamArn: settings.streamArn,
      },
    };
    if (this.#o.sqs && settings.onFailureQueueUrl) {
      await this.#o.sqs.send(
        new SendMessageCommand({ QueueUrl: settings.onFailureQueueUrl, MessageBody: JSON.stringify(body) }),
      );
    }
    if (this.#o.checkpoints.setGivenUp) {
      // Kept before the checkpoint moves (one write of the store holds both).
      const set = this.#givenUpOf(shardId);
      for (const r of sorted) set.add(r.SequenceNumber!);
      this.#o.checkpoints.setGivenUp(shardId, [...set]);
    }
    this.#o.log?.(
      `event source mapping: discarded ${sorted.length} record(s) of ${shardId} (${condition}), ` +
        `${first.SequenceNumber}…${last.SequenceNumber}`,
    );
    progress.finish(sorted);
    this.#o.onBatch?.({
      shardId,
      size: sorted.length,
      succeeded: 0,
      status: 'discarded',
      attempt: attempts,
      durationMs: 0,
      newestArrival: last.ApproximateArrivalTimestamp!.getTime(),
      error: condition,
    });
  }

  #event(shardId: string, records: readonly KinesisRecord[]): KinesisStreamEvent {
    const { settings } = this.#o;
    return {
      Records: records.map(
        (r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey!,
            sequenceNumber: r.SequenceNumber!,
            data: Buffer.from(r.Data!).toString('base64'),
            approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: `arn:aws:iam::000000000000:role/${settings.streamName}-processor`,
          awsRegion: settings.region,
          eventSourceARN: settings.streamArn,
        }),
      ),
    };
  }
}
