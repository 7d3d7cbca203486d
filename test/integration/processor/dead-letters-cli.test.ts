/**
 * `npm run dead-letters` through the real script against the emulators, with messages put on the
 * dead-letter queue by hand: what is not a given-up batch of this stage's stream (another stream's,
 * a range that ends before it starts) is reported with its reason and kept, and nothing of it is
 * read into the lake.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { CreateStreamCommand, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbMetricRowIndex } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { KinesisRangeReader } from '../../../src/adapters/aws/kinesis-range-reader.ts';
import { SqsDeadLetterQueue } from '../../../src/adapters/aws/sqs-dead-letter-queue.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import { reviewDeadLetters } from '../../../src/pipeline/recover/dead-letters.ts';
import type { DeadLetterQueue } from '../../../src/ports/dead-letters.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { sessionBar } from '../../support/samples.ts';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function deadLetters(env: Record<string, string>, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/dead-letters.ts', ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The script, interrupted (signalled, its output closed) once it has printed its first reviewed
 * range: it is then reviewing the others.
 */
function deadLettersInterrupted(
  env: Record<string, string>,
  args: readonly string[],
  interrupt: (p: ChildProcessWithoutNullStreams) => void,
): Promise<Run & { readonly signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/dead-letters.ts', ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    p.stdout.on('data', (d) => {
      stdout += d;
      if (sent || !stdout.includes('given up ')) return;
      sent = true;
      interrupt(p);
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Lambda's on-failure record of a Kinesis batch (the documented shape). */
function givenUpBody(streamName: string, shardId: string, start: string, end: string, batchSize: number) {
  return JSON.stringify({
    requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
    version: '1.0',
    timestamp: '2024-10-02T14:00:00.000Z',
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: start,
      endSequenceNumber: end,
      batchSize,
      streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`,
    },
  });
}

const bars = (symbol: string, n: number) =>
  Array.from({ length: n }, (_, m) => ({
    PartitionKey: symbol,
    Data: Buffer.from(encodeMarketEvent({ kind: 'bar', bar: sessionBar(symbol, m, 100 + m) })),
  }));

describe('npm run dead-letters: messages that are not this stage’s given-up batches', () => {
  const cloud = useLocalCloud();

  // Each test starts from an empty queue (PurgeQueue is refused twice within 60 s).
  beforeEach(async () => {
    const c = cloud();
    for (;;) {
      const got = await c.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: c.env.DEAD_LETTER_QUEUE_URL, MaxNumberOfMessages: 10 }),
      );
      if (!got.Messages?.length) break;
      await c.clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
          Entries: got.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  });

  const queueCounts = async () => {
    const c = cloud();
    const a = await c.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(a.Attributes?.ApproximateNumberOfMessages),
      hidden: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  };
  const rawKeys = async () => {
    const c = cloud();
    const listed = await c.clients.s3.send(
      new ListObjectsV2Command({ Bucket: c.env.LAKE_BUCKET_NAME, Prefix: 'raw/' }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!);
  };

  it('keeps a given-up batch of another stream, with its reason, and writes none of its records', async () => {
    const c = cloud();
    // Another stream in the same account (another stage's, another application's) whose
    // event source mapping sends its given-up batches to this queue.
    const other = 'elsewhere-ticks';
    await c.clients.kinesis.send(new CreateStreamCommand({ StreamName: other, ShardCount: 1 }));
    await waitUntilStreamExists({ client: c.clients.kinesis, maxWaitTime: 30 }, { StreamName: other });
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: other, Records: bars('IBM', 3) }),
    );
    const recs = put.Records!;
    await c.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
        MessageBody: givenUpBody(
          other,
          recs[0]!.ShardId!,
          recs[0]!.SequenceNumber!,
          recs[2]!.SequenceNumber!,
          3,
        ),
      }),
    );
    const before = await rawKeys();

    const r = await deadLetters(c.env, ['--recover', '--json']);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.givenUp).toEqual([]);
    expect(out.unreadable).toEqual([
      { messageId: expect.any(String), reason: expect.stringContaining(`stream "${other}"`) },
    ]);
    expect(await rawKeys()).toEqual(before);
    expect(await queueCounts()).toEqual({ visible: 1, hidden: 0 });
  }, 60_000);

  it('--json says whether the review stopped at --max (more may wait) or saw the whole queue', async () => {
    const c = cloud();
    for (let i = 0; i < 3; i++)
      await c.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
          MessageBody: JSON.stringify({
            shardId: 'shardId-000000000000',
            sequenceNumber: String(2000 + i),
            partitionKey: 'AAPL',
            data: '',
            reason: 'payload is not JSON',
          }),
        }),
      );
    const capped = JSON.parse(
      (await deadLetters(c.env, ['--max', '2', '--json'])).stdout.trim().split('\n').at(-1)!,
    );
    expect(capped).toMatchObject({ messages: 2, stoppedAtMax: true });
    // Reviewed without --recover, the messages are made visible again: the next review sees all three.
    const whole = JSON.parse((await deadLetters(c.env, ['--json'])).stdout.trim().split('\n').at(-1)!);
    expect(whole).toMatchObject({ messages: 3, stoppedAtMax: false });
  }, 60_000);

  it('keeps a range that ends before it starts, saying so rather than blaming the retention', async () => {
    const c = cloud();
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: c.env.TICKS_STREAM_NAME, Records: bars('AAPL', 2) }),
    );
    const [first, last] = put.Records!;
    await c.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
        MessageBody: givenUpBody(
          c.env.TICKS_STREAM_NAME!,
          first!.ShardId!,
          last!.SequenceNumber!,
          first!.SequenceNumber!,
          2,
        ),
      }),
    );
    const r = await deadLetters(c.env, ['--recover', '--json']);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.givenUp).toEqual([]);
    expect(out.unreadable).toEqual([
      { messageId: expect.any(String), reason: expect.stringContaining('ends before it starts') },
    ]);
    expect(r.stdout).not.toContain('retention');
    expect(await queueCounts()).toEqual({ visible: 1, hidden: 0 });
  }, 60_000);

  it('says how many records the batch held when its range also holds other lanes’ (parallelization factor 2)', async () => {
    const c = cloud();
    // One shard, two symbols interleaved: with two lanes, a batch of IBM's lane holds IBM's two
    // records, and its range (first to last) holds the AAPL record put between them too.
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: c.env.TICKS_STREAM_NAME,
        Records: [...bars('IBM', 1), ...bars('AAPL', 1), ...bars('IBM', 2).slice(1)].map((r) => ({
          ...r,
          ExplicitHashKey: '0',
        })),
      }),
    );
    const [first, , last] = put.Records!;
    await c.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
        MessageBody: givenUpBody(
          c.env.TICKS_STREAM_NAME!,
          first!.ShardId!,
          first!.SequenceNumber!,
          last!.SequenceNumber!,
          2,
        ),
      }),
    );
    const text = await deadLetters(c.env, []);
    expect(text.stdout).toMatch(
      /3 read back \(the batch held 2; the range also holds other lanes' records, parallelization factor above 1\)/,
    );
    const json = await deadLetters(c.env, ['--json']);
    expect(JSON.parse(json.stdout.trim().split('\n').at(-1)!).givenUp).toEqual([
      expect.objectContaining({ batchSize: 2, read: 3 }),
    ]);
    expect(await queueCounts()).toEqual({ visible: 1, hidden: 0 });
  }, 60_000);

  /** Given-up batches of two records each, all on one shard (read at most twice a second). */
  const queueGivenUpRanges = async (n: number) => {
    const c = cloud();
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: c.env.TICKS_STREAM_NAME, Records: bars('IBM', 2 * n) }),
    );
    const recs = put.Records!;
    for (let i = 0; i < n; i++)
      await c.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
          MessageBody: givenUpBody(
            c.env.TICKS_STREAM_NAME!,
            recs[2 * i]!.ShardId!,
            recs[2 * i]!.SequenceNumber!,
            recs[2 * i + 1]!.SequenceNumber!,
            2,
          ),
        }),
      );
  };

  it.each([
    // One Ctrl-C reaches the script twice: from the terminal (the whole process group) and
    // forwarded by npm, when the script shell exec'd node (bash, macOS's sh).
    { what: 'a Ctrl-C delivered twice at once', signals: ['SIGINT', 'SIGINT'], code: 130 },
    { what: 'SIGTERM (a process manager, `timeout`, `kill`)', signals: ['SIGTERM'], code: 143 },
  ] as const)('stops cleanly on $what: exit $code, every message visible again', async ({
    signals,
    code,
  }) => {
    const c = cloud();
    await queueGivenUpRanges(5);
    const r = await deadLettersInterrupted(c.env, [], (p) =>
      signals.forEach((s, i) => {
        setTimeout(() => p.kill(s), i * 5);
      }),
    );
    expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
    expect(r.stdout).toMatch(/stopped: \d given-up batch\(es\) not reviewed, their messages kept/);
    expect(await queueCounts()).toEqual({ visible: 5, hidden: 0 });
  }, 60_000);

  it('stops cleanly when its reader is gone (`| head`, `less` quit early): exit 141, every message visible again', async () => {
    const c = cloud();
    await queueGivenUpRanges(5);
    const r = await deadLettersInterrupted(c.env, [], (p) => p.stdout.destroy());
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 141, signal: null });
    expect(r.stderr).toContain('stopping after the current range');
    expect(await queueCounts()).toEqual({ visible: 5, hidden: 0 });
  }, 60_000);

  it('says it was stopped when Ctrl-C came while it was still receiving, and releases what it took', async () => {
    const c = cloud();
    const url = c.env.DEAD_LETTER_QUEUE_URL!;
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: c.env.TICKS_STREAM_NAME, Records: bars('AAPL', 1) }),
    );
    const rec = put.Records![0]!;
    // Rejected records first, then a given-up batch: more than one receive's worth of messages.
    for (let i = 0; i < 12; i++)
      await c.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: JSON.stringify({
            shardId: rec.ShardId,
            sequenceNumber: String(1000 + i),
            partitionKey: 'AAPL',
            data: '',
            reason: 'payload is not JSON',
          }),
        }),
      );
    await c.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: givenUpBody(
          c.env.TICKS_STREAM_NAME!,
          rec.ShardId!,
          rec.SequenceNumber!,
          rec.SequenceNumber!,
          1,
        ),
      }),
    );
    const stop = new AbortController();
    const sqs = new SqsDeadLetterQueue({ sqs: c.clients.sqs, queueUrl: url });
    const queue: DeadLetterQueue = {
      receive: async (max) => {
        const got = await sqs.receive(max);
        stop.abort(); // Ctrl-C while the first receive was under way
        return got;
      },
      delete: (m) => sqs.delete(m),
      release: (m) => sqs.release(m),
    };
    const review = await reviewDeadLetters(
      {
        queue,
        stream: new KinesisRangeReader({ kinesis: c.clients.kinesis }),
        rows: new DynamoDbMetricRowIndex({
          documents: c.clients.documents,
          tableName: c.env.MARKET_TABLE_NAME!,
        }),
        engines: analyticsEngines(),
      },
      { recover: false, signal: stop.signal },
    );
    expect(review.messages).toBe(10);
    expect(review.stopped).toBe(true);
    expect(await queueCounts()).toEqual({ visible: 13, hidden: 0 });
  }, 60_000);
});
