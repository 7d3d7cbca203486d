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
   * How long a received message stays hidden while the run handles it (default 900 s: a review
   * receives every message first, then reviews the ranges; one that outlasts it finds the messages
   * visible again, and releasing them is then no error).
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive (default 1 s: an empty answer then means the queue has no visible message). */
  readonly waitTimeSeconds?: number;
}

/** The processor's dead-letter queue read by a person or a tool (not by a Lambda). */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;
  readonly #visibility: number;
  readonly #wait: number;

  constructor(options: SqsDeadLetterQueueOptions) {
    if (!options.queueUrl) throw new RangeError('SqsDeadLetterQueue queueUrl must be a non-empty string');
    this.#sqs = options.sqs;
    this.#url = options.queueUrl;
    this.#visibility = options.visibilityTimeoutSeconds ?? 900;
    this.#wait = options.waitTimeSeconds ?? 1;
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
    return (res.Messages ?? []).map((m) => ({
      id: m.MessageId ?? '',
      receipt: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
    }));
  }

  async delete(messages: readonly DeadLetterMessage[]): Promise<void> {
    await this.#batches(messages, 'delete', async (entries) => {
      const res = await this.#sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.#url, Entries: entries }),
      );
      return res.Failed ?? [];
    });
  }

  async release(messages: readonly DeadLetterMessage[]): Promise<void> {
    await this.#batches(messages, 'release', async (entries) => {
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

  async #batches(
    messages: readonly DeadLetterMessage[],
    what: string,
    send: (
      entries: { Id: string; ReceiptHandle: string }[],
    ) => Promise<readonly { Id?: string; Code?: string; Message?: string }[]>,
  ): Promise<void> {
    const failed: string[] = [];
    for (let i = 0; i < messages.length; i += SQS_BATCH) {
      const chunk = messages.slice(i, i + SQS_BATCH);
      let failures: readonly { Id?: string; Code?: string; Message?: string }[];
      try {
        failures = await send(chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })));
      } catch (err) {
        // The whole call failed (after the SDK's retries): its messages are reported, and the
        // other chunks are still sent, so one failure leaves no more messages hidden than its own.
        const reason = err instanceof Error ? `${err.name} ${err.message}` : String(err);
        failures = chunk.map((_, j) => ({ Id: String(j), Code: 'call failed', Message: reason }));
      }
      for (const f of failures)
        failed.push(`${chunk[Number(f.Id)]?.id}: ${f.Code} ${f.Message ?? ''}`.trim());
    }
    if (failed.length > 0) {
      throw new Error(
        `SQS could not ${what} ${failed.length} message(s) of ${this.#url}: ${failed.join('; ')}`,
      );
    }
  }
}
