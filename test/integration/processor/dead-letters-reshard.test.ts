/**
 * `npm run dead-letters -- --recover` across a reshard, through the real script against the
 * emulators: the line the table was built from is on the parent shard, the given-up copy of the
 * same (symbol, kind, time) on a child (a replayed or revised bar put after the split). The raw zone
 * holds that key, so the copy is left alone, as on one shard: the compaction keeps the greatest
 * sequence number, and a child's copy would replace the parent's line.
 */
import { spawn } from 'node:child_process';
import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { S3RawLakeReader } from '../../../src/adapters/aws/s3-lake-compaction.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { decodeStreamRecord, lakeRecordOf } from '../../../src/pipeline/process/stream-records.ts';
import { lakeBatchOf } from '../../support/lake.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { SESSION_OPEN_2024_10_02, sessionBar } from '../../support/samples.ts';

const bar = (minute: number, close: number) =>
  Buffer.from(encodeMarketEvent({ kind: 'bar', bar: sessionBar('AAPL', minute, close) }));

describe('npm run dead-letters -- --recover across a reshard', () => {
  const cloud = useLocalCloud();

  it('leaves alone a given-up copy on a child shard of a key the raw zone holds on the parent', async () => {
    const c = cloud();
    const StreamName = c.env.TICKS_STREAM_NAME!;
    const bucket = c.env.LAKE_BUCKET_NAME!;
    // The original bar, on its shard, and its line as the processor writes it.
    const [original] = (
      await c.clients.kinesis.send(
        new PutRecordsCommand({ StreamName, Records: [{ PartitionKey: 'AAPL', Data: bar(0, 226) }] }),
      )
    ).Records!;
    const parent = original!.ShardId!;
    const record = {
      shardId: parent,
      sequenceNumber: original!.SequenceNumber!,
      partitionKey: 'AAPL',
      data: bar(0, 226).toString('base64'),
      arrivalTime: SESSION_OPEN_2024_10_02 + 61_000,
    };
    const event = decodeStreamRecord(record, SESSION_OPEN_2024_10_02 + 120_000);
    if (typeof event === 'string') throw new Error(event);
    await new S3LakeWriter({ s3: c.clients.s3, bucket }).writeBatch(
      lakeBatchOf([lakeRecordOf(record, event)]),
    );

    // The stream scales out: the shard splits in two, AAPL's records go to one of its children.
    const shards = (await c.clients.kinesis.send(new ListShardsCommand({ StreamName }))).Shards!;
    const range = shards.find((s) => s.ShardId === parent)!.HashKeyRange!;
    const middle = (BigInt(range.StartingHashKey!) + BigInt(range.EndingHashKey!)) / 2n;
    await c.clients.kinesis.send(
      new SplitShardCommand({ StreamName, ShardToSplit: parent, NewStartingHashKey: String(middle) }),
    );
    for (let i = 0; ; i++) {
      const s = await c.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
      if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      if (i > 100) throw new Error('the split did not end');
      await new Promise((r) => setTimeout(r, 100));
    }
    // A revised copy of the first bar and the next bar, on the child, given up by the processor.
    const copies = (
      await c.clients.kinesis.send(
        new PutRecordsCommand({
          StreamName,
          Records: [
            { PartitionKey: 'AAPL', Data: bar(0, 230) },
            { PartitionKey: 'AAPL', Data: bar(1, 227) },
          ],
        }),
      )
    ).Records!;
    const child = copies[0]!.ShardId!;
    expect(child).not.toBe(parent);
    await c.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: c.env.DEAD_LETTER_QUEUE_URL,
        MessageBody: JSON.stringify({
          requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
          version: '1.0',
          timestamp: '2024-10-02T14:00:00.000Z',
          KinesisBatchInfo: {
            shardId: child,
            startSequenceNumber: copies[0]!.SequenceNumber,
            endSequenceNumber: copies[1]!.SequenceNumber,
            batchSize: 2,
            streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`,
          },
        }),
      }),
    );

    const run = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['scripts/dead-letters.ts', '--recover', '--json'], {
        env: { ...process.env, ...c.env },
      });
      let stdout = '';
      p.stdout.on('data', (d) => {
        stdout += d;
      });
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout }));
    });
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(out.givenUp).toEqual([expect.objectContaining({ read: 2, notInLake: 1, deleted: true })]);

    // The raw zone: the parent's original line, and only the next bar from the child.
    const raw = new S3RawLakeReader({ s3: c.clients.s3, bucket });
    const lines = [];
    for (const key of await raw.listDay('2024-10-02'))
      for (const l of (await raw.read(key)).trimEnd().split('\n')) lines.push(JSON.parse(l));
    expect(lines.map((l) => [l.shardId, l.time, l.event.close]).sort()).toEqual(
      [
        [parent, SESSION_OPEN_2024_10_02, 226],
        [child, SESSION_OPEN_2024_10_02 + 60_000, 227],
      ].sort(),
    );
  }, 60_000);
});
