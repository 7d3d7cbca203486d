import { PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { encodeMarketEvent, eventSymbol, type MarketEvent } from '../../domain/market/index.ts';
import { backoffDelay, errorMessage, sleep } from '../../pipeline/ingest/backoff.ts';
import type { EventPublisher, FailedEvent, PublishReport } from '../../ports/event-publisher.ts';

/** Kinesis PutRecords limits (Kinesis Data Streams quotas). */
export const KINESIS_LIMITS = {
  recordsPerCall: 500,
  bytesPerCall: 5 * 1024 * 1024,
  /** Data blob plus partition key. */
  bytesPerRecord: 1024 * 1024,
  /** Characters of a partition key (at least 1); one outside that fails the whole PutRecords call. */
  partitionKeyChars: 256,
  /** Write throughput of one shard. */
  recordsPerSecondPerShard: 1_000,
} as const;

/** The one call the publisher makes (a `KinesisClient` satisfies it). */
export interface PutRecordsSender {
  send(command: PutRecordsCommand, options?: { abortSignal?: AbortSignal }): Promise<PutRecordsCommandOutput>;
}

export interface KinesisPublisherOptions {
  readonly streamName: string;
  readonly kinesis: PutRecordsSender;
  /** Bound of the buffer; `publish` waits while it is full (default 10,000 records). */
  readonly maxBufferedRecords?: number;
  /** Bound of the buffer in bytes (default 16 MiB). */
  readonly maxBufferedBytes?: number;
  /** Tries per record, the first included, before it is reported as failed (default 8). */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /**
   * Longest wait for one PutRecords call, the SDK's own retries included (default 10 s). A call
   * without an answer by then counts as a failed try of its records: a connection that hangs must
   * not stall the flush for ever (the SDK's HTTP handler has no timeout of its own).
   */
  readonly callTimeoutMs?: number;
  /**
   * When to stop (epoch ms; read before each call; undefined: no limit), for a caller that must be
   * done by then, as the poller must within its invocation: a call still unanswered then is
   * abandoned, and every record not delivered by then, and each one published until the next
   * `flush` returns, is reported with that reason. Tries and the call timeout alone bound one
   * record's time, not a flush's (a symbol's records go one call each).
   */
  readonly deadline?: () => number | undefined;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /**
   * When a record is given up on, also give up (without sending) its symbol's later records until
   * the next `flush` returns, so none of them reaches the stream ahead of it. For a caller that
   * sends the failed record again later, as the poller does from its cursor: otherwise the resent
   * record would land behind the later ones. Default false (the later records proceed).
   */
  readonly holdSymbolAfterFailure?: boolean;
  /**
   * Called once per record given up on (also listed in the report). What it throws is caught: the
   * record is in the report all the same, and the writer carries on.
   */
  readonly onFailed?: (f: FailedEvent) => void;
  /** Record payload (default: the compact versioned envelope `encodeMarketEvent`). */
  readonly encode?: (e: MarketEvent) => string;
  /** Called after each PutRecords call (metrics, benchmarks); what it throws is caught, as for onFailed. */
  readonly onCall?: (c: { records: number; bytes: number; failed: number; error?: string }) => void;
}

interface Entry {
  readonly event: MarketEvent;
  readonly key: string;
  readonly data: Uint8Array;
  readonly size: number;
  attempts: number;
  lastError: string;
}

/**
 * Whole-call errors about the stream itself (missing, not allowed, its KMS key unusable): no retry
 * fixes them and no other record can go either, so the rest are reported without a call each until
 * the next `flush`.
 */
const STREAM_CALL_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSNotFoundException',
  'KMSInvalidStateException',
  'KMSOptInRequired',
  'UnrecognizedClientException',
]);

/** Whole-call errors that no retry can fix: every record of the call is reported at once. */
const PERMANENT_CALL_ERRORS = new Set([
  ...STREAM_CALL_ERRORS,
  'ValidationException',
  'InvalidArgumentException',
]);

const utf8 = new TextEncoder();

/**
 * Calls a caller's callback without letting it throw into the writer: thrown inside the send loop
 * it would reject the loop (an unhandled rejection, which ends a Lambda runtime, when no flush is
 * waiting) and leave the call's other records half accounted; thrown in publish it would fail the
 * caller's publish of a record that is in the report anyway.
 */
function notify<T>(callback: ((arg: T) => void) | undefined, arg: T): void {
  try {
    callback?.(arg);
  } catch {
    // The report holds what the callback was told.
  }
}

/**
 * Writes market events to a Kinesis stream with PutRecords, partition key = symbol.
 *
 * Ordering: a call carries at most ONE record per symbol and only one call is in flight. Kinesis
 * may fail any entry of a call while accepting the entries after it; if a call held two records
 * of a symbol and the first failed, the second would already be on the stream ahead of it. With
 * one record per symbol per call, a failed record stays at the head of its symbol's queue and is
 * resent (with backoff) before any later record of that symbol; other symbols carry on.
 * Calls hold up to 500 records / 5 MiB, so a call is as large as the number of symbols with
 * pending records allows.
 *
 * Only the failed entries of a response are resent. After `maxAttempts` a record is reported as
 * failed (report + `onFailed`), never dropped silently; the symbol's later records then proceed,
 * or with `holdSymbolAfterFailure` are reported as not sent until the next flush.
 */
export class KinesisPublisher implements EventPublisher {
  private readonly o: KinesisPublisherOptions;
  private readonly queues = new Map<string, Entry[]>();
  private count = 0;
  private bytes = 0;
  private delivered = 0;
  private calls = 0;
  private retries = 0;
  private readonly failed: FailedEvent[] = [];
  /** Symbols held after a failure (holdSymbolAfterFailure), until the next flush returns. */
  private readonly held = new Set<string>();
  /**
   * Why nothing more is sent until the next flush returns: the stream refused a call for good
   * (STREAM_CALL_ERRORS), or the deadline passed.
   */
  private stopped: string | undefined;
  private pumping: Promise<void> | undefined;
  private spaceWaiters: (() => void)[] = [];
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxAttempts: number;

  constructor(o: KinesisPublisherOptions) {
    this.o = o;
    this.maxRecords = Math.max(1, o.maxBufferedRecords ?? 10_000);
    this.maxBytes = Math.max(KINESIS_LIMITS.bytesPerRecord, o.maxBufferedBytes ?? 16 * 1024 * 1024);
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 8);
  }

  get pending(): number {
    return this.count;
  }

  /** Bytes buffered (data + partition keys). */
  get pendingBytes(): number {
    return this.bytes;
  }

  async publish(event: MarketEvent): Promise<void> {
    const key = eventSymbol(event);
    const data = utf8.encode((this.o.encode ?? encodeMarketEvent)(event));
    const size = data.byteLength + utf8.encode(key).byteLength;
    const entry = { event, key, data, size, attempts: 0, lastError: '' };
    if (this.stopped) {
      this.giveUp(entry, `not sent: ${this.stopped}`);
      return;
    }
    // Checked here, for this record alone: Kinesis validates the whole request, so one record over
    // a limit in a call would fail every record of it.
    const refusal =
      key.length < 1 || key.length > KINESIS_LIMITS.partitionKeyChars
        ? `partition key is ${key.length} characters; Kinesis accepts 1 to ${KINESIS_LIMITS.partitionKeyChars}`
        : size > KINESIS_LIMITS.bytesPerRecord
          ? `record is ${size} bytes; Kinesis accepts at most ${KINESIS_LIMITS.bytesPerRecord} bytes per record (data + partition key)`
          : undefined;
    if (refusal) {
      this.giveUp(entry, refusal);
      // Records already queued are earlier and still go; later ones are held.
      if (this.o.holdSymbolAfterFailure) this.held.add(key);
      return;
    }
    while (this.count >= this.maxRecords || (this.count > 0 && this.bytes + size > this.maxBytes)) {
      this.ensurePump();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    // Checked after any wait: the writer may have stopped, or the symbol been held, meanwhile.
    if (this.stopped) {
      this.giveUp(entry, `not sent: ${this.stopped}`);
      return;
    }
    if (this.held.has(key)) {
      this.giveUp(entry, `not sent: an earlier record of ${key} was not delivered`);
      return;
    }
    let q = this.queues.get(key);
    if (!q) {
      q = [];
      this.queues.set(key, q);
    }
    q.push(entry);
    this.count++;
    this.bytes += size;
    this.ensurePump();
  }

  async flush(): Promise<PublishReport> {
    while (this.count > 0 || this.pumping) {
      this.ensurePump();
      await this.pumping;
    }
    const report = this.report();
    this.held.clear();
    this.stopped = undefined;
    this.delivered = 0;
    this.calls = 0;
    this.retries = 0;
    this.failed.length = 0;
    return report;
  }

  /** Counts since the last `flush` (which resets them), so a long-lived publisher holds no history. */
  report(): PublishReport {
    return { delivered: this.delivered, failed: [...this.failed], calls: this.calls, retries: this.retries };
  }

  private ensurePump(): void {
    if (this.pumping || this.count === 0) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.count > 0) this.ensurePump();
    });
  }

  /** Heads of the symbol queues, one per symbol, within the per-call limits; served symbols rotate to the back. */
  private nextCall(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    const served: string[] = [];
    for (const [key, q] of this.queues) {
      const head = q[0];
      if (!head) continue;
      if (batch.length >= KINESIS_LIMITS.recordsPerCall) break;
      if (bytes + head.size > KINESIS_LIMITS.bytesPerCall) continue;
      batch.push(head);
      bytes += head.size;
      served.push(key);
    }
    for (const key of served) {
      const q = this.queues.get(key)!;
      this.queues.delete(key);
      this.queues.set(key, q);
    }
    return batch;
  }

  private async pump(): Promise<void> {
    // Let a producer that is publishing right now fill the buffer before the first call (batching).
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.count > 0) {
      const deadline = this.o.deadline?.();
      if (deadline !== undefined && Date.now() >= deadline) {
        const at = new Date(deadline).toISOString();
        const reason = `the writer's deadline ${at} passed`;
        this.stopAll(reason, (e) =>
          e.attempts > 0
            ? `not delivered by the writer's deadline ${at} after ${e.attempts} attempts: ${e.lastError}`
            : `not sent: ${reason}`,
        );
        return;
      }
      const batch = this.nextCall();
      if (batch.length === 0) return;
      const bytes = batch.reduce((n, e) => n + e.size, 0);
      this.calls++;
      let failedNow: Entry[] = [];
      let callError: string | undefined;
      const callTimeoutMs = this.o.callTimeoutMs ?? 10_000;
      const timeoutMs =
        deadline === undefined ? callTimeoutMs : Math.max(1, Math.min(callTimeoutMs, deadline - Date.now()));
      const abort = new AbortController();
      const timer = setTimeout(
        () => abort.abort(new Error(`PutRecords had no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      try {
        const out = await this.o.kinesis.send(
          new PutRecordsCommand({
            StreamName: this.o.streamName,
            Records: batch.map((e) => ({ Data: e.data, PartitionKey: e.key })),
          }),
          { abortSignal: abort.signal },
        );
        const results = out.Records ?? [];
        if (results.length !== batch.length) {
          throw new Error(`PutRecords answered ${results.length} results for ${batch.length} records`);
        }
        batch.forEach((e, i) => {
          const r = results[i]!;
          if (r.ErrorCode) {
            e.lastError = `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`.trim();
            failedNow.push(e);
          } else {
            this.remove(e);
            this.delivered++;
          }
        });
      } catch (err) {
        callError = abort.signal.aborted
          ? `TimeoutError: ${(abort.signal.reason as Error).message}`
          : errorMessage(err);
        const name = (err as { name?: string }).name ?? '';
        for (const e of batch) e.lastError = callError;
        if (PERMANENT_CALL_ERRORS.has(name)) {
          for (const e of batch) {
            e.attempts++;
            this.remove(e);
            this.giveUp(e, `PutRecords failed permanently: ${callError}`);
            this.holdAfter(e);
          }
          failedNow = [];
          if (STREAM_CALL_ERRORS.has(name)) this.stopAll(`PutRecords failed permanently: ${callError}`);
        } else {
          failedNow = batch;
        }
      } finally {
        clearTimeout(timer);
      }
      notify(this.o.onCall, {
        records: batch.length,
        bytes,
        failed: failedNow.length,
        ...(callError ? { error: callError } : {}),
      });
      let worst = 0;
      for (const e of failedNow) {
        e.attempts++;
        if (e.attempts >= this.maxAttempts) {
          this.remove(e);
          this.giveUp(e, `not delivered after ${e.attempts} attempts: ${e.lastError}`);
          this.holdAfter(e);
        } else {
          this.retries++;
          worst = Math.max(worst, e.attempts);
        }
      }
      this.wakeWriters();
      if (worst > 0) {
        const delay = backoffDelay(worst, {
          maxAttempts: this.maxAttempts,
          baseDelayMs: this.o.baseDelayMs ?? 100,
          maxDelayMs: this.o.maxDelayMs ?? 5_000,
          ...(this.o.random ? { random: this.o.random } : {}),
        });
        const left = deadline === undefined ? delay : deadline - Date.now();
        await (this.o.sleep ?? sleep)(Math.max(0, Math.min(delay, left)));
      }
    }
  }

  /** Removes `e`, which is the head of its symbol's queue. */
  private remove(e: Entry): void {
    const q = this.queues.get(e.key);
    if (!q || q[0] !== e) throw new Error(`internal: ${e.key} record is not at the head of its queue`);
    q.shift();
    if (q.length === 0) this.queues.delete(e.key);
    this.count--;
    this.bytes -= e.size;
  }

  private giveUp(e: Entry, reason: string): void {
    const f: FailedEvent = { event: e.event, reason, attempts: e.attempts };
    this.failed.push(f);
    notify(this.o.onFailed, f);
  }

  /** With holdSymbolAfterFailure: gives up the rest of `e`'s symbol queue (all later than `e`) and holds the symbol. */
  private holdAfter(e: Entry): void {
    if (!this.o.holdSymbolAfterFailure) return;
    this.held.add(e.key);
    const q = this.queues.get(e.key);
    while (q?.[0]) {
      const later = q[0];
      this.remove(later);
      this.giveUp(later, `not sent: an earlier record of ${e.key} was not delivered`);
    }
  }

  /**
   * Nothing more is sent until the next flush returns (`reason`: the stream refused a call for
   * good, or the deadline passed): every queued record, and each one published meanwhile, is
   * reported — with `reasonFor` its own reason when it was tried already.
   */
  private stopAll(reason: string, reasonFor: (e: Entry) => string = () => `not sent: ${reason}`): void {
    this.stopped = reason;
    for (const q of [...this.queues.values()]) {
      while (q[0]) {
        const e = q[0];
        this.remove(e);
        this.giveUp(e, reasonFor(e));
      }
    }
    this.wakeWriters();
  }

  private wakeWriters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }
}
