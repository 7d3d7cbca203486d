/**
 * The dead-letter queue adapter against the local SQS, through the real SDK: a release or delete
 * whose call fails for one chunk of ten still sends the other chunks, and reports the failed ones.
 * The failure is made by a middleware on the client that fails the first such call as SQS would
 * after the SDK's retries (a service error); every other call reaches the local queue.
 */
import { SendMessageBatchCommand, SQSServiceException } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { SqsDeadLetterQueue } from '../../../src/adapters/aws/sqs-dead-letter-queue.ts';
import type { DeadLetterMessage } from '../../../src/ports/dead-letters.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

describe('SqsDeadLetterQueue: one chunk whose call fails', () => {
  const cloud = useLocalCloud();

  /** Receives every visible message (hidden again for the adapter's 900 s). */
  const drain = async (queue: SqsDeadLetterQueue) => {
    const got: DeadLetterMessage[] = [];
    for (;;) {
      const batch = await queue.receive(10);
      if (batch.length === 0) return got;
      got.push(...batch);
    }
  };

  /** Sends `n` messages, then receives them all (hidden for the adapter's 900 s). */
  const receiveAll = async (queue: SqsDeadLetterQueue, n: number) => {
    const c = cloud();
    for (let i = 0; i < n; i += 10)
      await c.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
          Entries: Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
            Id: String(j),
            MessageBody: `{"n":${i + j}}`,
          })),
        }),
      );
    const got: DeadLetterMessage[] = [];
    while (got.length < n) got.push(...(await queue.receive(n - got.length)));
    return got;
  };

  /** Fails the first call of `command` on the cloud's SQS client; returns how many it failed. */
  const failFirst = (command: string) => {
    const stats = { failed: 0 };
    cloud().clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== command || stats.failed > 0) return next(args);
        stats.failed++;
        throw new SQSServiceException({
          name: 'InternalError',
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
          message: 'injected by the test',
        });
      },
      { step: 'initialize', name: `failFirst${command}` },
    );
    return () => cloud().clients.sqs.middlewareStack.remove(`failFirst${command}`);
  };

  it('release: the other chunks are made visible again, the failed one is reported', async () => {
    const c = cloud();
    const queue = new SqsDeadLetterQueue({ sqs: c.clients.sqs, queueUrl: c.env.DEAD_LETTER_QUEUE_URL! });
    const messages = await receiveAll(queue, 25);
    const ids = (ms: readonly DeadLetterMessage[]) => ms.map((m) => m.id).sort();

    const restore = failFirst('ChangeMessageVisibilityBatchCommand');
    try {
      await expect(queue.release(messages)).rejects.toThrow(
        /could not release 10 message\(s\).*injected by the test/,
      );
    } finally {
      restore();
    }
    // Chunks two and three (15 messages) are visible again; the first chunk's 10 stay hidden.
    const visible = await drain(queue);
    expect(ids(visible)).toEqual(ids(messages.slice(10)));
    // Cleanup for the next test: everything visible again.
    await queue.release([...messages.slice(0, 10), ...visible]);
    expect(await drain(queue)).toHaveLength(25);
  });

  it('delete: the other chunks are deleted, the failed one is reported and kept', async () => {
    const c = cloud();
    const queue = new SqsDeadLetterQueue({ sqs: c.clients.sqs, queueUrl: c.env.DEAD_LETTER_QUEUE_URL! });
    // What the first test left (received and hidden by its last drain): delete it.
    await queue.delete(await drain(queue));
    const messages = await receiveAll(queue, 25);

    const restore = failFirst('DeleteMessageBatchCommand');
    try {
      await expect(queue.delete(messages)).rejects.toThrow(/could not delete 10 message\(s\)/);
    } finally {
      restore();
    }
    // The failed chunk's 10 are still in the queue; the other 15 are gone.
    await queue.release(messages.slice(0, 10));
    const left = await drain(queue);
    expect(left.map((m) => m.id).sort()).toEqual(
      messages
        .slice(0, 10)
        .map((m) => m.id)
        .sort(),
    );
  });
});
