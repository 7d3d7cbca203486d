/**
 * The lake's compaction step against the local S3: the compactLake handler, with its environment
 * from the template, reads the raw objects the real lake writer put (a retried batch, a later
 * record of one key, a damaged line) and writes the day's Parquet object; DuckDB — a Parquet
 * reader that is not the writer — reads it back and finds exactly the rows of the `events` view.
 */
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { LocalLake } from '../../../scripts/local/lake-sql.ts';
import { lambdaContext } from '../../../scripts/pipeline/local-pipeline.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import type { CompactReport } from '../../../src/pipeline/compact/compact-day.ts';
import type { LakeRecord } from '../../../src/ports/processor.ts';
import { lakeBatchOf } from '../../support/lake.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const SHARD = 'shardId-000000000001';
const DAY = '2024-10-02';

describe('lake compaction (compactLake) against the local S3', () => {
  const cloud = useLocalCloud();

  it("writes the day once as Parquet: each (symbol, kind, time) once, the events view's rows exactly; again, the same bytes", async () => {
    const c = cloud();
    const env = c.functionEnv('CompactLakeLambdaFunction');
    const bucket = env.LAKE_BUCKET_NAME!;
    expect(bucket).toBe(c.env.LAKE_BUCKET_NAME);
    const writer = new S3LakeWriter({ s3: c.clients.s3, bucket });
    const bars = aaplSampleBars().slice(0, 40);
    const records: LakeRecord[] = bars.map((bar, i) => ({
      symbol: 'AAPL',
      time: bar.start,
      kind: 'bar',
      shardId: SHARD,
      sequenceNumber: (5n * 10n ** 20n + BigInt(i)).toString(),
      arrivalTime: bar.start + 61_000,
      event: bar,
    }));
    await writer.writeBatch(lakeBatchOf(records.slice(0, 30)));
    await writer.writeBatch(lakeBatchOf(records.slice(20))); // a retry: bars 20–29 twice
    // A later record of bar 3 (a revised volume).
    await writer.writeBatch(
      lakeBatchOf([
        {
          ...records[3]!,
          sequenceNumber: (6n * 10n ** 20n).toString(),
          event: { ...bars[3]!, volume: 4242 },
        },
      ]),
    );
    // A damaged object: one good line, one cut off.
    const good = JSON.stringify({ ...records[39], event: bars[39] });
    await c.clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `raw/dt=${DAY}/shard=${SHARD}/damaged.ndjson.gz`,
        Body: gzipSync(`${good}\n{"symbol":"AAPL","time":\n`),
      }),
    );

    // The module builds its handler at import from process.env, as Lambda loads it.
    Object.assign(process.env, env);
    const { handler } = await import('../../../functions/compact-lake.ts');
    const [report] = (await handler({ day: DAY }, lambdaContext('compactLake'))) as CompactReport[];
    expect(report).toMatchObject({
      day: DAY,
      objects: 4,
      lines: 30 + 20 + 1 + 2,
      duplicates: 10 + 1 + 1,
      events: 40,
      written: { key: `compacted/dt=${DAY}/events.parquet` },
    });
    expect(report!.rejected).toEqual([
      { key: `raw/dt=${DAY}/shard=${SHARD}/damaged.ndjson.gz`, line: 2, reason: 'not JSON' },
    ]);
    const head = await c.clients.s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: report!.written!.key }),
    );
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    expect(head.ContentLength).toBe(report!.written!.bytes);

    const lake = await LocalLake.open({ s3Dir: join(c.state.dir, 's3'), bucket, stage: 'dev' });
    try {
      expect(await lake.query('SELECT count(*) AS n FROM compacted_events')).toEqual([{ n: '40' }]);
      const columns = async (name: string) =>
        (await lake.query(`DESCRIBE ${name}`)).map((r) => [r.column_name, r.column_type]);
      expect(await columns('compacted_events')).toEqual(await columns('events'));
      // Row for row what the events view makes of the raw zone, both ways.
      for (const [a, b] of [
        ['events', 'compacted_events'],
        ['compacted_events', 'events'],
      ]) {
        expect(await lake.query(`SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b}`)).toEqual([]);
      }
      const rows = await lake.query('SELECT time, event.volume, event.close FROM compacted_events');
      expect(rows.map((r) => Number(r.time))).toEqual(bars.map((b) => b.start)); // in file order: sorted
      expect(rows.map((r) => r.volume)).toEqual(bars.map((b, i) => (i === 3 ? 4242 : b.volume)));
      expect(rows.map((r) => r.close)).toEqual(bars.map((b) => b.close));
      expect(
        await lake.query('SELECT count(*) AS n FROM compacted_events WHERE event.price IS NOT NULL'),
      ).toEqual([{ n: '0' }]);
    } finally {
      lake.close();
    }

    // Idempotent: compacting the day again writes the same object, byte for byte.
    const body = async () =>
      (
        await c.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: report!.written!.key }))
      ).Body!.transformToByteArray();
    const before = await body();
    await handler({ day: DAY }, lambdaContext('compactLake'));
    expect(Buffer.from(await body()).equals(Buffer.from(before))).toBe(true);

    // A day with nothing in the raw zone: nothing is written.
    const [empty] = (await handler({ day: '2024-10-05' }, lambdaContext('compactLake'))) as CompactReport[];
    expect(empty).toMatchObject({ objects: 0, events: 0, written: undefined });
  });
});
