import { Worker } from 'node:worker_threads';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3CompactedLakeWriter, S3RawLakeReader } from '../../../src/adapters/aws/s3-lake-compaction.ts';

const s3 = new S3Client({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
afterEach(() => s3Mock.reset());

const object = (shard: string, name: string) => `raw/dt=2024-10-02/shard=shardId-00000000000${shard}/${name}`;

describe("S3RawLakeReader: a day's raw objects", () => {
  it('lists every page of the day (a shard writes thousands of objects a day), only its gzip NDJSON objects', async () => {
    s3Mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [
          // Not an object the lake writer puts: a console's folder marker, a stray upload.
          { Key: 'raw/dt=2024-10-02/' },
          { Key: object('0', '100-199-a.ndjson.gz') },
          { Key: object('0', '200-299-c.ndjson.gz') },
        ],
      })
      .on(ListObjectsV2Command, { ContinuationToken: 'page-2' })
      .resolves({
        IsTruncated: false,
        Contents: [{ Key: object('0', 'notes.txt') }, { Key: object('1', '300-399-b.ndjson.gz') }],
      });
    const keys = await new S3RawLakeReader({ s3, bucket: 'lake' }).listDay('2024-10-02');
    expect(keys).toEqual([
      object('0', '100-199-a.ndjson.gz'),
      object('0', '200-299-c.ndjson.gz'),
      object('1', '300-399-b.ndjson.gz'),
    ]);
    const listed = s3Mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(listed).toEqual([
      { Bucket: 'lake', Prefix: 'raw/dt=2024-10-02/', ContinuationToken: undefined },
      { Bucket: 'lake', Prefix: 'raw/dt=2024-10-02/', ContinuationToken: 'page-2' },
    ]);
  });
});

describe("S3CompactedLakeWriter: the day's existing object", () => {
  const key = 'compacted/dt=2024-10-02/events.parquet';

  it('says how many events it holds from its event-count metadata; an object without it holds an unknown number', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: key }] });
    const writer = new S3CompactedLakeWriter({ s3, bucket: 'lake' });
    s3Mock.on(HeadObjectCommand).resolves({ Metadata: { 'event-count': '389' } });
    expect(await writer.existing('2024-10-02')).toEqual({ events: 389 });
    // Put there by hand (a copy from elsewhere, say): not known to hold fewer events than a
    // compaction would find, so the compaction keeps it rather than replace it.
    const uncounted: (Record<string, string> | undefined)[] = [
      {},
      undefined,
      { 'event-count': 'many' },
      { 'event-count': '-1' },
    ];
    for (const Metadata of uncounted) {
      s3Mock.on(HeadObjectCommand).resolves({ Metadata });
      expect(await writer.existing('2024-10-02')).toEqual({ events: undefined });
    }
    expect(s3Mock.commandCalls(HeadObjectCommand).map((c) => c.args[0].input)).toContainEqual({
      Bucket: 'lake',
      Key: key,
    });
  });

  it('is undefined for a day with no object', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [] });
    expect(await new S3CompactedLakeWriter({ s3, bucket: 'lake' }).existing('2024-10-02')).toBeUndefined();
    expect(s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });
});

/** Runs the encode worker over `events` ticks with `heapMb` of old generation; its result or error. */
function encodeInWorker(events: number, heapMb: number) {
  return new Promise<{ bytes?: number; error?: string }>((resolve) => {
    const worker = new Worker(new URL('../../fixtures/compaction/encode-day-worker.ts', import.meta.url), {
      workerData: { events },
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    worker.once('message', (m: { bytes: number }) => resolve({ bytes: m.bytes }));
    worker.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe('the compacted Parquet file of a day', () => {
  it('is built in little more memory than the day’s events hold (the columns a row group at a time)', async () => {
    // 500,000 parsed ticks take about 360 MB of heap. Built for the whole day at once, the file's
    // columns needed over 520 MB in all (so the default 2 GiB function held about a million events
    // a day); a row group at a time, under 420 MB.
    const result = await encodeInWorker(500_000, 480);
    expect(result.error).toBeUndefined();
    expect(result.bytes).toBeGreaterThan(0);
  }, 60_000);
});
