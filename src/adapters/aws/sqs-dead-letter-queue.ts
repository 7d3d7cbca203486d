import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterMessage, DeadLetterQueue } from '../../ports/dead-letters.ts';

/** SQS batch calls take at most 10 entries. */
const SQS_BATCH = 10;

export interface SqsDeadLetterQueueOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /**
   * How long a received message stays hidden (default 900 s), renewed every `heartbeatMs` while it
   * is held (received and neither deleted nor released): a review receives every message first,
   * then reviews the ranges, and may well take longer than that (a shard's day of raw objects to
   * read, ranges read twice a second); without the renewal its messages would reappear mid-run,
   * for another run to take, and a delete with the older receipt could fail or miss.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** How often the held messages' visibility is renewed (default a third of the timeout: 300 s). */
  readonly heartbeatMs?: number;
  /** Long-poll wait per receive (default 1 s: an empty answer then means the queue has no visible message). */
  readonly waitTimeSeconds?: number;
}

/** The processor's dead-letter queue read by a person or a tool (not by a Lambda). */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;
  readonly #visibility: number;
  readonly #wait: number;
  readonly #heartbeatMs: number;
  /** Received and neither deleted nor released, by message id (its newest receipt). */
  readonly #held = new Map<string, DeadLetterMessage>();
  /**
   * Messages whose renewal failed (SQS's 12-hour limit, a receipt no longer valid), by message id,
   * with the reason: they may be visible again, or taken by another reader, so they are not deleted.
   */
  readonly #lost = new Map<string, string>();
  #heartbeat: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(options: SqsDeadLetterQueueOptions) {
    if (!options.queueUrl) throw new RangeError('SqsDeadLetterQueue queueUrl must be a non-empty string');
    this.#sqs = options.sqs;
    this.#url = options.queueUrl;
    this.#visibility = options.visibilityTimeoutSeconds ?? 900;
    this.#wait = options.waitTimeSeconds ?? 1;
    this.#heartbeatMs = options.heartbeatMs ?? (this.#visibility * 1000) / 3;
  }

  async receive(max: number): Promise<DeadLetterMessage[]> {
    const res = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#url,
        MaxNumberOfMessages: Math.max(1, Math.min(SQS_BATCH, max)),
        VisibilityTimeout: this.#visibility,
        WaitTimeSeconds: this.#wait,
      }),
    );
    const messages = (res.Messages ?? []).map((m) => ({
      id: m.MessageId ?? '',
      receipt: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
    }));
    for (const m of messages) {
      // Only its id and receipt: the body is the caller's to keep or drop.
      this.#held.set(m.id, { id: m.id, receipt: m.receipt, body: '' });
      this.#lost.delete(m.id); // received again: held again, with the newer receipt
    }
    if (this.#held.size > 0 && !this.#heartbeat) {
      this.#heartbeat = setInterval(() => {
        this.#renew().catch(() => {}); // what failed is marked lost; nothing else throws
      }, this.#heartbeatMs);
      this.#heartbeat.unref();
    }
    return messages;
  }

  /**
   * Deletes the messages, except one whose hold was lost (its renewal failed: it may be visible
   * again, or received by another run with a newer receipt), which is reported and kept.
   */
  async delete(messages: readonly DeadLetterMessage[]): Promise<void> {
    const lost = messages.filter((m) => this.#lost.has(m.id));
    const held = messages.filter((m) => !this.#lost.has(m.id));
    this.#let(messages);
    let error: unknown;
    try {
      await this.#batches(held, 'delete', async (entries) => {
        const res = await this.#sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: this.#url, Entries: entries }),
        );
        return res.Failed ?? [];
      });
    } catch (err) {
      error = err;
    }
    if (lost.length > 0) {
      const why = lost.map((m) => `${m.id}: ${this.#lost.get(m.id)}`).join('; ');
      throw new Error(
        `SQS could not keep ${lost.length} message(s) of ${this.#url} hidden, so they were not deleted (they may be visible again, or another reader's): ${why}` +
          (error ? `; ${(error as Error).message}` : ''),
      );
    }
    if (error) throw error;
  }

  /**
   * Makes the messages visible again at once; one whose hold was lost is left alone (visible
   * again already, or another reader's, whose receipt this one no longer is).
   */
  async release(messages: readonly DeadLetterMessage[]): Promise<void> {
    this.#let(messages);
    const held = messages.filter((m) => !this.#lost.has(m.id));
    for (const m of messages) this.#lost.delete(m.id);
    await this.#batches(held, 'release', async (entries) => {
      const res = await this.#sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.#url,
          Entries: entries.map((e) => ({ ...e, VisibilityTimeout: 0 })),
        }),
      );
      // A message no longer in flight is visible again already: what release is for.
      return (res.Failed ?? []).filter((f) => !f.Code?.includes('MessageNotInflight'));
    });
  }

  /** No longer held: not renewed any more (the heartbeat stops once none is held). */
  #let(messages: readonly DeadLetterMessage[]): void {
    for (const m of messages) this.#held.delete(m.id);
    if (this.#held.size === 0 && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** Keeps the held messages hidden for another visibility timeout (one renewal at a time). */
  async #renew(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      const messages = [...this.#held.values()];
      const failed = await this.#send(messages, async (entries) => {
        const res = await this.#sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.#url,
            Entries: entries.map((e) => ({ ...e, VisibilityTimeout: this.#visibility })),
          }),
        );
        return res.Failed ?? [];
      });
      for (const { message, reason, call } of failed) {
        // Deleted or released meanwhile, or received again with a newer receipt: not lost. A call
        // that failed as a whole (the network, after the SDK's retries) is tried again next time.
        if (call || this.#held.get(message.id)?.receipt !== message.receipt) continue;
        this.#lost.set(message.id, reason);
        this.#let([message]);
      }
    } finally {
      this.#renewing = false;
    }
  }

  async #batches(
    messages: readonly DeadLetterMessage[],
    what: string,
    send: (
      entries: { Id: string; ReceiptHandle: string }[],
    ) => Promise<readonly { Id?: string; Code?: string; Message?: string }[]>,
  ): Promise<void> {
    const failed = (await this.#send(messages, send)).map(({ message, reason }) =>
      `${message.id}: ${reason}`.trim(),
    );
    if (failed.length > 0) {
      throw new Error(
        `SQS could not ${what} ${failed.length} message(s) of ${this.#url}: ${failed.join('; ')}`,
      );
    }
  }

  /** Sends the messages in chunks of 10: the messages that failed, with why. */
  async #send(
    messages: readonly DeadLetterMessage[],
    send: (
      entries: { Id: string; ReceiptHandle: string }[],
    ) => Promise<readonly { Id?: string; Code?: string; Message?: string }[]>,
  ): Promise<{ readonly message: DeadLetterMessage; readonly reason: string; readonly call: boolean }[]> {
    const failed: { message: DeadLetterMessage; reason: string; call: boolean }[] = [];
    for (let i = 0; i < messages.length; i += SQS_BATCH) {
      const chunk = messages.slice(i, i + SQS_BATCH);
      let failures: readonly { Id?: string; Code?: string; Message?: string }[];
      let call = false;
      try {
        failures = await send(chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })));
      } catch (err) {
        // The whole call failed (after the SDK's retries): its messages are reported, and the
        // other chunks are still sent, so one failure leaves no more messages hidden than its own.
        const reason = err instanceof Error ? `${err.name} ${err.message}` : String(err);
        failures = chunk.map((_, j) => ({ Id: String(j), Code: 'call failed', Message: reason }));
        call = true;
      }
      for (const f of failures) {
        const message = chunk[Number(f.Id)];
        if (message) failed.push({ message, reason: `${f.Code} ${f.Message ?? ''}`.trim(), call });
      }
    }
    return failed;
  }
}
