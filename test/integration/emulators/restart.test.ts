import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../../scripts/local/local-cloud.ts';
import { StateDirLockedError } from '../../../scripts/local/state-dir.ts';
import type { CloudFormationTemplate } from '../../../scripts/local/template.ts';
import { ResetRefusedError, resetLocalState } from '../../../scripts/local-reset.ts';
import { realTemplate, useTempStateDir } from '../../support/local-cloud.ts';

// A persistent local cloud (stateDir) stopped and started again continues where it stopped.
const stateDir = useTempStateDir();

async function readAll(cloud: LocalCloud): Promise<string[]> {
  const stream = cloud.resources.streams.TicksStream!;
  const out: string[] = [];
  for (const ShardId of stream.shardIds) {
    const it = (
      await cloud.clients.kinesis.send(
        new GetShardIteratorCommand({ StreamName: stream.name, ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    const page = await cloud.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
    for (const r of page.Records ?? []) out.push(Buffer.from(r.Data!).toString('utf8'));
  }
  return out.sort();
}

describe('local cloud restart with the same stateDir', () => {
  it('finds the stream records, table items, objects and queued messages of the earlier run', async () => {
    const template = await realTemplate('dev');
    const first = await startLocalCloud({ stateDir: stateDir(), template });
    expect(first.state.foundEarlierState).toBe(false);
    expect(first.state.previousRun).toBe('none');
    const ticks = ['AAPL', 'MSFT', 'SPY', 'QQQ'].map((s, i) => JSON.stringify({ symbol: s, price: 100 + i }));
    await first.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: first.env.TICKS_STREAM_NAME,
        Records: ticks.map((t) => ({ PartitionKey: JSON.parse(t).symbol, Data: Buffer.from(t) })),
      }),
    );
    await first.clients.documents.send(
      new PutCommand({
        TableName: first.env.MARKET_TABLE_NAME,
        Item: { pk: 'SYM#SPY', sk: 'LATEST', close: 571.3 },
      }),
    );
    const object = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef]);
    await first.clients.s3.send(
      new PutObjectCommand({
        Bucket: first.env.LAKE_BUCKET_NAME,
        Key: 'raw/dt=2024-10-02/a.gz',
        Body: object,
      }),
    );
    const QueueUrl = first.env.DEAD_LETTER_QUEUE_URL!;
    const sent = await first.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: ['keep-1', 'drop', 'keep-2'].map((b, i) => ({ Id: `m${i}`, MessageBody: b })),
      }),
    );
    expect(sent.Successful).toHaveLength(3);
    const received = await first.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    const drop = received.Messages!.find((m) => m.Body === 'drop')!;
    await first.clients.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: drop.ReceiptHandle! }));
    // A second local cloud cannot share the directory while the first holds it.
    await expect(startLocalCloud({ stateDir: stateDir(), template })).rejects.toBeInstanceOf(
      StateDirLockedError,
    );
    expect(() => resetLocalState(stateDir())).toThrow(ResetRefusedError);
    await first.stop();
    await first.stop(); // idempotent
    expect(existsSync(join(stateDir(), 'lock.json'))).toBe(false);

    const second = await startLocalCloud({ stateDir: stateDir(), template });
    try {
      expect(second.state.foundEarlierState).toBe(true);
      expect(second.state.previousRun).toBe('clean');
      expect(second.state.counts.streams.TicksStream).toEqual({ count: 4, complete: true });
      expect(second.state.counts.tables.MarketTable).toEqual({ count: 1, complete: true });
      expect(second.state.counts.buckets.LakeBucket).toEqual({ count: 1, complete: true });
      expect(second.state.counts.queues.ProcessorDeadLetterQueue).toEqual({ count: 2, complete: true });

      expect(await readAll(second)).toEqual([...ticks].sort());
      const item = await second.clients.documents.send(
        new GetCommand({ TableName: second.env.MARKET_TABLE_NAME, Key: { pk: 'SYM#SPY', sk: 'LATEST' } }),
      );
      expect(item.Item?.close).toBe(571.3);
      const got = await second.clients.s3.send(
        new GetObjectCommand({ Bucket: second.env.LAKE_BUCKET_NAME, Key: 'raw/dt=2024-10-02/a.gz' }),
      );
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(object)).toBe(true);
      // Messages in flight at stop come back visible; the deleted one stays deleted; ids survive.
      const back = await second.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: second.env.DEAD_LETTER_QUEUE_URL, MaxNumberOfMessages: 10 }),
      );
      const byBody = Object.fromEntries((back.Messages ?? []).map((m) => [m.Body, m.MessageId]));
      const sentIds = Object.fromEntries(
        sent.Successful!.map((s) => [['keep-1', 'drop', 'keep-2'][Number(s.Id!.slice(1))], s.MessageId]),
      );
      expect(byBody).toEqual({ 'keep-1': sentIds['keep-1'], 'keep-2': sentIds['keep-2'] });
    } finally {
      await second.stop();
    }
  });

  it('starts again after a clean stop, and local:reset then clears the directory', async () => {
    const template = await realTemplate('dev');
    const cloud = await startLocalCloud({ stateDir: stateDir(), template });
    try {
      // stateDir() holds state from the test above, stopped cleanly.
      expect(cloud.state.previousRun).toBe('clean');
      expect(cloud.state.counts.tables.MarketTable?.count).toBe(1);
    } finally {
      await cloud.stop();
    }
    expect(resetLocalState(stateDir())).toEqual(
      expect.arrayContaining(['kinesis', 'dynamodb', 's3', 'sqs.json']),
    );
    expect(existsSync(stateDir())).toBe(false);
  });
  it('keeps SQS redrives and FIFO group order across a restart (queues from a template with a redrive policy)', async () => {
    const template: CloudFormationTemplate = {
      Resources: {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'restart-dlq' } },
        Work: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            QueueName: 'restart-work',
            VisibilityTimeout: 1,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 1 },
          },
        },
        Orders: {
          Type: 'AWS::SQS::Queue',
          Properties: { QueueName: 'restart-orders.fifo', FifoQueue: true, ContentBasedDeduplication: true },
        },
      },
    };
    const dir = join(stateDir(), 'redrive');
    const first = await startLocalCloud({ stateDir: dir, template });
    const sqs = first.clients.sqs;
    const work = first.resources.queues.Work!.url;
    const orders = first.resources.queues.Orders!.url;
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'poison' }));
    for (const body of ['o1', 'o2', 'o3'])
      await sqs.send(new SendMessageCommand({ QueueUrl: orders, MessageBody: body, MessageGroupId: 'AAPL' }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: work }))).Messages).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1300)); // visibility passes: receive count 1 = max -> redriven
    await first.stop();

    const second = await startLocalCloud({ stateDir: dir, template });
    try {
      expect(second.state.counts.queues).toEqual({
        Dlq: { count: 1, complete: true },
        Work: { count: 0, complete: true },
        Orders: { count: 3, complete: true },
      });
      const dead = await second.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: second.resources.queues.Dlq!.url, AttributeNames: ['All'] }),
      );
      expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
      expect(dead.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn).toBe(first.resources.queues.Work!.arn);
      const got = await second.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: second.resources.queues.Orders!.url, MaxNumberOfMessages: 10 }),
      );
      expect(got.Messages?.map((m) => m.Body)).toEqual(['o1', 'o2', 'o3']);
    } finally {
      await second.stop();
    }
  });

  it('warns when it starts on the state of another region: its lake is a bucket of its own', async () => {
    const dir = join(stateDir(), 'two-regions');
    const template = await realTemplate('dev');
    const lines: string[] = [];
    const first = await startLocalCloud({ stateDir: dir, template, region: 'us-east-1', countState: false });
    await first.stop();
    const same = await startLocalCloud({
      stateDir: dir,
      template,
      region: 'us-east-1',
      countState: false,
      log: (line) => lines.push(line),
    });
    await same.stop();
    expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([]);
    const other = await startLocalCloud({
      stateDir: dir,
      template,
      region: 'eu-west-1',
      countState: false,
      log: (line) => lines.push(line),
    });
    try {
      expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([
        `warning: ${dir} holds state of region us-east-1, starting region eu-west-1 on it: ` +
          "the lake is a bucket of its own, beside the other region's (npm run query reads AWS_REGION's, or the last start's)",
      ]);
      expect(other.resources.buckets.LakeBucket?.name).toBe('tickstream-000000000000-eu-west-1-dev-lake');
    } finally {
      await other.stop();
    }
  });

  it('a start-up its signal stops (Ctrl-C) closes what it started: the next start finds a clean stop', async () => {
    const dir = join(stateDir(), 'aborted-boot');
    const template = await realTemplate('dev');
    const abort = new AbortController();
    // The emulators run on the directory; the resources are not made yet.
    const log = (line: string) => {
      if (line.startsWith('sns: topic')) abort.abort();
    };
    await expect(
      startLocalCloud({ stateDir: dir, template, log, signal: abort.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const next = await startLocalCloud({ stateDir: dir, template, countState: false });
    try {
      expect(next.state.previousRun).toBe('clean');
    } finally {
      await next.stop();
    }
  });
});
