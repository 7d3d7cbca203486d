/**
 * The dead-letter queue adapter against the local SQS, through the real SDK: a release or delete
 * whose call fails for one chunk of ten still sends the other chunks, and reports the failed ones.
 * The failure is made by a middleware on the client that fails the first such call as SQS would
 * after the SDK's retries (a service error); every other call reaches the local queue. And a
 * message it holds stays hidden past its visibility timeout, renewed until deleted or released;
 * one whose renewal failed (another reader deleted it) is not deleted with the older receipt.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
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

describe('SqsDeadLetterQueue: messages held longer than their visibility timeout', () => {
  const cloud = useLocalCloud();

  /** A queue of its own with one message, and a counter of the renewals answered on it. */
  const setUp = async (name: string) => {
    const c = cloud();
    const queueUrl = (await c.clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    await c.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"n":1}' }));
    const renewals = { count: 0 };
    c.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { QueueUrl?: string; Entries?: { VisibilityTimeout?: number }[] };
        const answer = await next(args);
        if (
          context.commandName === 'ChangeMessageVisibilityBatchCommand' &&
          input.QueueUrl === queueUrl &&
          input.Entries?.some((e) => e.VisibilityTimeout !== 0)
        )
          renewals.count++;
        return answer;
      },
      { step: 'initialize', name: `count${name}` },
    );
    const counts = async () => {
      const a = await c.clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        messages: Number(a.Attributes?.ApproximateNumberOfMessages),
        hidden: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible),
      };
    };
    return {
      c,
      queueUrl,
      renewals,
      counts,
      done: () => c.clients.sqs.middlewareStack.remove(`count${name}`),
    };
  };

  it('keeps a held message hidden past its timeout, and stops renewing once it is deleted', async () => {
    const { c, queueUrl, renewals, counts, done } = await setUp('held-renewed');
    try {
      // A 2 s timeout renewed every 400 ms: held for 3.5 s, the message would be visible again
      // twice over without the renewals.
      const queue = new SqsDeadLetterQueue({
        sqs: c.clients.sqs,
        queueUrl,
        visibilityTimeoutSeconds: 2,
        heartbeatMs: 400,
      });
      const [held] = await queue.receive(10);
      expect(held).toBeDefined();
      await sleep(3500);
      expect(renewals.count).toBeGreaterThan(0);
      // Another reader finds nothing to take.
      const other = await c.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      expect(other.Messages ?? []).toEqual([]);
      expect(await counts()).toEqual({ messages: 1, hidden: 1 });
      await queue.delete([held!]);
      expect(await counts()).toEqual({ messages: 0, hidden: 0 });
      // Nothing is held any more: no renewal is sent after the delete.
      const after = renewals.count;
      await sleep(1200);
      expect(renewals.count).toBe(after);
    } finally {
      done();
    }
  }, 30_000);

  it('does not delete a message whose renewal failed, and says why', async () => {
    const { c, queueUrl, renewals, done } = await setUp('held-lost');
    try {
      // Renewed only after the 1 s timeout has passed: meanwhile another reader takes the
      // message and deletes it, so the renewal finds no such message.
      const queue = new SqsDeadLetterQueue({
        sqs: c.clients.sqs,
        queueUrl,
        visibilityTimeoutSeconds: 1,
        heartbeatMs: 2000,
      });
      const [held] = await queue.receive(10);
      let taken: string | undefined;
      while (!taken) {
        const got = await c.clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
        );
        taken = got.Messages?.[0]?.ReceiptHandle;
      }
      await c.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: taken }));
      while (renewals.count === 0) await sleep(100);
      await sleep(0); // the renewal's answer handled
      await expect(queue.delete([held!])).rejects.toThrow(/could not keep 1 message\(s\) .* hidden/);
      // Released at the end of a run, it is left alone (not another reader's to make visible).
      await queue.release([held!]);
    } finally {
      done();
    }
  }, 30_000);
});
