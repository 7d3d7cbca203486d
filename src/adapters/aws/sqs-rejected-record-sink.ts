import {
  type BatchResultErrorEntry,
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { RejectedRecord, RejectedRecordSink } from '../../ports/processor.ts';
import { type BackoffOptions, resolveBackoff } from './market-table.ts';

/** SendMessageBatch: at most 10 entries and 256 KiB (bodies + attributes) per call. */
export const SQS_BATCH_MAX_ENTRIES = 10;
export const SQS_BATCH_MAX_BYTES = 262_144;
/** Longest reason kept in the `reason` attribute (the body always holds the full reason). */
export const REASON_ATTRIBUTE_MAX_CHARS = 1024;

export class RejectedRecordSendError extends Error {
  readonly failures: readonly { sequenceNumber: string; code: string; message: string }[];
  constructor(queueUrl: string, failures: RejectedRecordSendError['failures'], attempts: number) {
    const sample = failures
      .slice(0, 5)
      .map((f) => `${f.sequenceNumber}: ${f.code} ${f.message}`)
      .join('; ');
    super(
      `SQS SendMessageBatch to ${queueUrl} failed for ${failures.length} rejected record(s) after ${attempts} attempt(s): ${sample}`,
    );
    this.name = 'RejectedRecordSendError';
    this.failures = failures;
  }
}

/** The dead-letter message body: the record as received and why it was rejected. */
export interface RejectedRecordMessage extends RejectedRecord {
  readonly rejectedAt: number;
  /** Set when `data` had to be cut so the message fits SQS's size limit. */
  readonly dataTruncated?: true;
  /** Length of the original base64 `data` when truncated. */
  readonly dataLength?: number;
}

// Characters SQS accepts in message attributes and bodies: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000+.
const NOT_SQS_TEXT = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function sqsSafe(text: string): string {
  return text.replace(NOT_SQS_TEXT, '\uFFFD');
}

/**
 * A JSON text SQS accepts as a message body, parsing to the same value: JSON.stringify already
 * escapes control characters and lone surrogates, but not U+FFFE or U+FFFF (which a reason can quote
 * from a garbage payload), so those are written as \u escapes too.
 */
function sqsJson(value: unknown): string {
  return JSON.stringify(value).replace(
    NOT_SQS_TEXT,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let n = 0;
  for (const [name, v] of Object.entries(attributes)) {
    n +=
      Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  }
  return n;
}

interface Prepared {
  readonly entry: SendMessageBatchRequestEntry;
  readonly bytes: number;
  readonly sequenceNumber: string;
}

export function prepareEntry(record: RejectedRecord, id: string, rejectedAt: number): Prepared {
  const reason = sqsSafe(record.reason);
  const attributes: Record<string, MessageAttributeValue> = {
    reason: {
      DataType: 'String',
      StringValue:
        (reason.length > REASON_ATTRIBUTE_MAX_CHARS
          ? `${reason.slice(0, REASON_ATTRIBUTE_MAX_CHARS - 3)}...`
          : reason) || 'unspecified',
    },
    shardId: { DataType: 'String', StringValue: sqsSafe(record.shardId) || 'unknown' },
    sequenceNumber: { DataType: 'String', StringValue: record.sequenceNumber || 'unknown' },
  };
  const message: RejectedRecordMessage = { ...record, rejectedAt };
  let body = sqsJson(message);
  const budget = SQS_BATCH_MAX_BYTES - attributeBytes(attributes);
  let bytes = Buffer.byteLength(body);
  if (bytes > budget) {
    // Keep every field but cut the payload (Kinesis still holds the original for its retention).
    const over = bytes - budget;
    const keep = Math.max(0, record.data.length - over - 64);
    body = sqsJson({
      ...message,
      data: record.data.slice(0, keep),
      dataTruncated: true,
      dataLength: record.data.length,
    } satisfies RejectedRecordMessage);
    bytes = Buffer.byteLength(body);
  }
  return {
    entry: { Id: id, MessageBody: body, MessageAttributes: attributes },
    bytes: bytes + attributeBytes(attributes),
    sequenceNumber: record.sequenceNumber,
  };
}

/** Groups entries into batches of ≤ 10 entries and ≤ 256 KiB, in order. */
export function packBatches(entries: readonly Prepared[]): Prepared[][] {
  const batches: Prepared[][] = [];
  let current: Prepared[] = [];
  let size = 0;
  for (const e of entries) {
    if (
      current.length > 0 &&
      (current.length === SQS_BATCH_MAX_ENTRIES || size + e.bytes > SQS_BATCH_MAX_BYTES)
    ) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += e.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface SqsRejectedRecordSinkOptions {
  readonly sqs: SQSClient;
  /** The dead-letter queue's URL. */
  readonly queueUrl: string;
  readonly backoff?: BackoffOptions;
  readonly now?: () => number;
}

/**
 * Sends records that can never be processed to the dead-letter queue, with their reason both in the
 * JSON body and as the `reason` message attribute. Failed entries are retried with backoff (unless
 * SQS says the sender is at fault), then reported with a specific error.
 */
export class SqsRejectedRecordSink implements RejectedRecordSink {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #backoff: ReturnType<typeof resolveBackoff>;
  readonly #now: () => number;

  constructor(options: SqsRejectedRecordSinkOptions) {
    if (!options.queueUrl) throw new RangeError('SqsRejectedRecordSink queueUrl must be a non-empty URL');
    this.#sqs = options.sqs;
    this.#queueUrl = options.queueUrl;
    this.#backoff = resolveBackoff({ maxRetries: 4, ...options.backoff });
    this.#now = options.now ?? Date.now;
  }

  async send(records: readonly RejectedRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = this.#now();
    const prepared = records.map((r, i) => prepareEntry(r, `r${i}`, now));
    for (const batch of packBatches(prepared)) await this.#sendBatch(batch);
  }

  async #sendBatch(batch: readonly Prepared[]): Promise<void> {
    let pending = [...batch];
    for (let attempt = 0; ; attempt++) {
      const res = await this.#sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: pending.map((p) => p.entry) }),
      );
      const failed: BatchResultErrorEntry[] = res.Failed ?? [];
      if (failed.length === 0) return;
      const byId = new Map(pending.map((p) => [p.entry.Id, p]));
      const report = () =>
        failed.map((f) => ({
          sequenceNumber: byId.get(f.Id)?.sequenceNumber ?? `entry ${f.Id}`,
          code: f.Code ?? 'Unknown',
          message: f.Message ?? '',
        }));
      // A sender fault (bad entry) fails the same way every time: report it now.
      if (failed.some((f) => f.SenderFault) || attempt >= this.#backoff.maxRetries) {
        throw new RejectedRecordSendError(this.#queueUrl, report(), attempt + 1);
      }
      const failedIds = new Set(failed.map((f) => f.Id));
      pending = pending.filter((p) => failedIds.has(p.entry.Id));
      await this.#backoff.delay(attempt);
    }
  }
}
