import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RejectedRecordSendError,
  SqsRejectedRecordSink,
} from '../../../src/adapters/aws/sqs-rejected-record-sink.ts';
import type { RejectedRecord } from '../../../src/ports/processor.ts';

const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/000000000000/tickstream-dev-dlq';
const noSleep = { sleep: async () => {}, random: () => 0 };

afterEach(() => sqsMock.reset());

function rejected(i: number, data = Buffer.from(`{"bad":${i}`).toString('base64')): RejectedRecord {
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber: String(49_000_000_000_000_000_000_000n + BigInt(i)),
    partitionKey: 'AAPL',
    data,
    reason: `payload is not JSON (record ${i})`,
  };
}

type Entry = { Id: string; MessageBody: string; MessageAttributes: Record<string, { StringValue: string }> };
const entriesOf = (i: number) =>
  sqsMock.commandCalls(SendMessageBatchCommand)[i]!.args[0].input.Entries as Entry[];

describe('SqsRejectedRecordSink', () => {
  it('sends ≤ 10 entries per batch with the reason as an attribute and the record in the body', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE, now: () => 1_700_000_000_000 });
    const records = Array.from({ length: 23 }, (_, i) => rejected(i));
    await sink.send(records);
    const calls = sqsMock.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([10, 10, 3]);
    expect(calls[0]!.args[0].input.QueueUrl).toBe(QUEUE);
    const first = entriesOf(0)[0]!;
    expect(first.MessageAttributes.reason!.StringValue).toBe('payload is not JSON (record 0)');
    expect(JSON.parse(first.MessageBody)).toEqual({ ...records[0], rejectedAt: 1_700_000_000_000 });
    const ids = entriesOf(1).map((e) => e.Id);
    expect(new Set(ids).size).toBe(10);
  });

  it('splits batches so none exceeds 256 KiB', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE });
    // 5 records of ~100 KB each: at most 2 fit in one 256 KiB batch.
    const big = 'A'.repeat(100_000);
    await sink.send(Array.from({ length: 5 }, (_, i) => rejected(i, big)));
    const calls = sqsMock.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries!.length)).toEqual([2, 2, 1]);
    for (const c of calls) {
      const bytes = (c.args[0].input.Entries as Entry[]).reduce(
        (n, e) =>
          n +
          Buffer.byteLength(e.MessageBody) +
          Object.entries(e.MessageAttributes).reduce(
            (m, [k, v]) => m + k.length + 6 + Buffer.byteLength(v.StringValue),
            0,
          ),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(262_144);
    }
  });

  it('cuts an oversized payload to fit, saying so in the body', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE });
    const huge = 'B'.repeat(400_000);
    await sink.send([rejected(1, huge)]);
    const body = JSON.parse(entriesOf(0)[0]!.MessageBody);
    expect(body.dataTruncated).toBe(true);
    expect(body.dataLength).toBe(400_000);
    expect(body.reason).toBe('payload is not JSON (record 1)');
    expect(Buffer.byteLength(entriesOf(0)[0]!.MessageBody)).toBeLessThan(262_144);
  });

  it('writes characters SQS refuses as JSON escapes in a cut body too, the reason kept exactly', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE });
    const reason = `payload is not JSON: Unexpected token '\uFFFF', "\uFFFE" is not valid JSON`;
    await sink.send([{ ...rejected(1, 'B'.repeat(400_000)), reason }]);
    const raw = entriesOf(0)[0]!.MessageBody;
    expect(raw).not.toMatch(/[\uFFFE\uFFFF]/);
    const body = JSON.parse(raw);
    expect([body.dataTruncated, body.reason]).toEqual([true, reason]);
  });

  it('retries only the entries SQS reports as Failed', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [],
        Failed: [
          { Id: 'r1', Code: 'InternalError', SenderFault: false, Message: 'try again' },
          { Id: 'r3', Code: 'InternalError', SenderFault: false, Message: 'try again' },
        ],
      })
      .resolves({});
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE, backoff: noSleep });
    await sink.send([0, 1, 2, 3].map((i) => rejected(i)));
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
    expect(entriesOf(1).map((e) => JSON.parse(e.MessageBody).sequenceNumber)).toEqual([
      rejected(1).sequenceNumber,
      rejected(3).sequenceNumber,
    ]);
  });

  it('throws a specific error naming the records still failing after the bounded retries', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: 'r0', Code: 'ServiceUnavailable', SenderFault: false, Message: 'busy' }],
    });
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE, backoff: { ...noSleep, maxRetries: 2 } });
    const err = await sink.send([rejected(0)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectedRecordSendError);
    expect((err as RejectedRecordSendError).failures).toEqual([
      { sequenceNumber: rejected(0).sequenceNumber, code: 'ServiceUnavailable', message: 'busy' },
    ]);
    expect((err as Error).message).toMatch(/failed for 1 rejected record\(s\) after 3 attempt/);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('does not retry a sender fault', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: 'r0', Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad char' }],
    });
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE, backoff: noSleep });
    await expect(sink.send([rejected(0)])).rejects.toThrow(/InvalidMessageContents bad char/);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('replaces characters SQS refuses in the reason attribute', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl: QUEUE });
    await sink.send([{ ...rejected(0), reason: 'bad\u0000byte' }]);
    expect(entriesOf(0)[0]!.MessageAttributes.reason!.StringValue).toBe('bad\uFFFDbyte');
  });
});
