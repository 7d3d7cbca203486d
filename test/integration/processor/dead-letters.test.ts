/**
 * Dead letters end to end against the emulators: the template's processor on the local event
 * source mapping gives up on a symbol whose stored state cannot be read (every retry fails), and
 * rejects a malformed record; the review then reads the given-up ranges back from the stream, finds
 * exactly the failed symbol's records without metric rows, and the recovery writes exactly those to
 * the lake's raw zone and deletes only the given-up messages.
 */
import { gunzipSync } from 'node:zlib';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { startLocalPipeline } from '../../../scripts/pipeline/local-pipeline.ts';
import { DynamoDbMetricRowIndex } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { KinesisRangeReader } from '../../../src/adapters/aws/kinesis-range-reader.ts';
import { S3RawLakeReader } from '../../../src/adapters/aws/s3-lake-compaction.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { SqsDeadLetterQueue } from '../../../src/adapters/aws/sqs-dead-letter-queue.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import { type DeadLetterDeps, reviewDeadLetters } from '../../../src/pipeline/recover/dead-letters.ts';
import { storeUnreadableState, useLocalCloud } from '../../support/local-cloud.ts';
import { SESSION_OPEN_2024_10_02, sessionBar } from '../../support/samples.ts';

const OPEN = SESSION_OPEN_2024_10_02;

function bar(symbol: string, minute: number, close: number) {
  return encodeMarketEvent({ kind: 'bar', bar: sessionBar(symbol, minute, close) });
}

describe('dead letters: review and recovery of given-up batches', () => {
  const cloud = useLocalCloud();

  it('finds the given-up symbol’s records without rows, writes exactly those to the lake, and leaves rejected records listed', async () => {
    const c = cloud();
    const env = {
      MARKET_TABLE_NAME: c.env.MARKET_TABLE_NAME!,
      TICKS_STREAM_NAME: c.env.TICKS_STREAM_NAME!,
      DEAD_LETTER_QUEUE_URL: c.env.DEAD_LETTER_QUEUE_URL!,
      LAKE_BUCKET_NAME: c.env.LAKE_BUCKET_NAME!,
    };
    // MSFT's stored state is unreadable (an incompatible snapshot): every attempt fails MSFT alone.
    await storeUnreadableState(c, 'MSFT');
    const entries = [0, 1, 2].flatMap((m) => [
      { PartitionKey: 'AAPL', Data: Buffer.from(bar('AAPL', m, 226 + m)) },
      { PartitionKey: 'MSFT', Data: Buffer.from(bar('MSFT', m, 417 + m)) },
    ]);
    entries.push({ PartitionKey: 'AAPL', Data: Buffer.from('{"kind":"bar","bar":{"symbol":"AAPL"}}') });
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: env.TICKS_STREAM_NAME, Records: entries }),
    );
    expect(put.FailedRecordCount).toBe(0);
    const msft = put
      .Records!.map((r, i) => ({ ...r, key: entries[i]!.PartitionKey, i }))
      .filter((r) => r.key === 'MSFT');

    const pipeline = await startLocalPipeline({ cloud: c, idlePollMs: 20 });
    await pipeline.idle();
    await pipeline.stop();

    const deps: DeadLetterDeps = {
      queue: new SqsDeadLetterQueue({ sqs: c.clients.sqs, queueUrl: env.DEAD_LETTER_QUEUE_URL }),
      stream: new KinesisRangeReader({ kinesis: c.clients.kinesis }),
      rows: new DynamoDbMetricRowIndex({ documents: c.clients.documents, tableName: env.MARKET_TABLE_NAME }),
      lake: new S3LakeWriter({ s3: c.clients.s3, bucket: env.LAKE_BUCKET_NAME }),
      raw: new S3RawLakeReader({ s3: c.clients.s3, bucket: env.LAKE_BUCKET_NAME }),
      engines: analyticsEngines(),
    };
    const visible = async () =>
      Number(
        (
          await c.clients.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: env.DEAD_LETTER_QUEUE_URL,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          )
        ).Attributes?.ApproximateNumberOfMessages,
      );
    const queued = await visible();

    // Review only: nothing written, nothing deleted, every message visible again.
    const review = await reviewDeadLetters(deps, { recover: false });
    expect(review.messages).toBe(queued);
    expect(review.unreadable).toEqual([]);
    // The malformed record, once however many retries rejected it again.
    const malformed = put.Records!.at(-1)!;
    expect(review.rejected).toEqual([
      expect.objectContaining({
        shardId: malformed.ShardId,
        sequenceNumber: malformed.SequenceNumber,
        partitionKey: 'AAPL',
        reason: expect.stringContaining('schema version'),
      }),
    ]);
    const rejectedMessages = review.rejected[0]!.copies;
    expect(review.givenUp.length).toBeGreaterThan(0);
    for (const g of review.givenUp) {
      expect(g.letter.condition).toBe('RetryAttemptsExhausted');
      expect(g.trimmed).toBe(false);
    }
    const missing = review.givenUp.flatMap((g) => g.withoutRow);
    expect(new Set(missing.map((m) => m.sequenceNumber))).toEqual(new Set(msft.map((r) => r.SequenceNumber)));
    expect(missing.every((m) => m.symbol === 'MSFT' && m.kind === 'bar')).toBe(true);
    // Each range read back whole: exactly the records put on its shard between its bounds.
    const within = (g: (typeof review.givenUp)[number]) =>
      put.Records!.filter(
        (r) =>
          r.ShardId === g.letter.shardId &&
          BigInt(r.SequenceNumber!) >= BigInt(g.letter.startSequenceNumber) &&
          BigInt(r.SequenceNumber!) <= BigInt(g.letter.endSequenceNumber),
      ).length;
    for (const g of review.givenUp) {
      expect(g.error).toBeUndefined();
      expect(g.read).toBe(within(g));
    }
    // AAPL's records are in the raw zone already (the processor wrote them); MSFT's are not.
    expect(review.givenUp.reduce((n, g) => n + (g.notInLake ?? 0), 0)).toBe(
      new Set(missing.map((m) => m.sequenceNumber)).size,
    );
    expect(await visible()).toBe(queued);
    const listed = await c.clients.s3.send(
      new ListObjectsV2Command({ Bucket: env.LAKE_BUCKET_NAME, Prefix: 'raw/' }),
    );
    const before = new Set((listed.Contents ?? []).map((o) => o.Key));

    // Recovery: the records whose key the raw zone lacks, MSFT's three bars, go to it once, as
    // the processor writes lines.
    const recovery = await reviewDeadLetters(deps, { recover: true });
    expect(recovery.givenUp.every((g) => g.deleted && g.error === undefined)).toBe(true);
    const written = recovery.givenUp.flatMap((g) => g.lakeObjects);
    expect(written.length).toBeGreaterThan(0);
    for (const key of written) expect(before.has(key)).toBe(false);
    const lines = [];
    for (const key of written) {
      expect(key).toMatch(/^raw\/dt=2024-10-02\/shard=shardId-\d+\/\d+-\d+-[0-9a-f]{16}\.ndjson\.gz$/);
      const got = await c.clients.s3.send(new GetObjectCommand({ Bucket: env.LAKE_BUCKET_NAME, Key: key }));
      const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
      lines.push(
        ...text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    expect(lines.map((l) => l.sequenceNumber).sort()).toEqual(msft.map((r) => r.SequenceNumber).sort());
    for (const m of msft) {
      expect(lines.find((l) => l.sequenceNumber === m.SequenceNumber)).toMatchObject({
        symbol: 'MSFT',
        kind: 'bar',
        shardId: m.ShardId,
        time: OPEN + ((m.i - 1) / 2) * 60_000, // MSFT is every second entry, from the second
        event: { symbol: 'MSFT', close: 417 + (m.i - 1) / 2, interval: '1m' },
      });
    }
    // Only the rejected record's message is left; a second recovery finds nothing to do.
    expect(await visible()).toBe(rejectedMessages);
    const again = await reviewDeadLetters(deps, { recover: true });
    expect(again.givenUp).toEqual([]);
    expect(again.rejected).toHaveLength(1);
  }, 60_000);
});
