/**
 * The lake's compaction step against the local S3: the compactLake handler, with its environment
 * from the template, reads the raw objects the real lake writer put (a retried batch, a later
 * record of one key, a damaged line) and writes the day's Parquet object; DuckDB — a Parquet
 * reader that is not the writer — reads it back and finds exactly the rows of the `events` view.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { CompactSummary } from '../../../functions/compact-lake.ts';
import { LocalLake } from '../../../scripts/local/lake-sql.ts';
import { lambdaContext } from '../../../scripts/pipeline/local-pipeline.ts';
import { S3LakeWriter, toNdjson } from '../../../src/adapters/aws/s3-lake-writer.ts';
import type { LakeRecord } from '../../../src/ports/processor.ts';
import { captureJsonLines, emfMetrics } from '../../support/json-output.ts';
import { lakeBatchOf } from '../../support/lake.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const SHARD = 'shardId-000000000001';
const DAY = '2024-10-02';

/** `count` sample bars of `symbol`, moved `offsetDays` after the sample's day (2024-10-02). */
function barsOn(offsetDays: number, count: number, symbol: string): LakeRecord[] {
  const shift = offsetDays * 86_400_000;
  return aaplSampleBars()
    .slice(0, count)
    .map((bar, i) => ({
      symbol,
      time: bar.start + shift,
      kind: 'bar',
      shardId: SHARD,
      sequenceNumber: (7n * 10n ** 20n + BigInt(offsetDays * 1000 + i)).toString(),
      arrivalTime: bar.start + shift + 61_000,
      event: { ...bar, symbol, start: bar.start + shift },
    }));
}

/**
 * The local S3 behind a loopback proxy that answers a listing under `prefix` with AccessDenied, as
 * S3 does for a role without that prefix; every other request goes through untouched.
 */
async function denyingListings(target: string, prefix: string) {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', upstream);
    if (url.searchParams.get('list-type') === '2' && url.searchParams.get('prefix')?.startsWith(prefix)) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
      );
      return;
    }
    const forward = request(
      url,
      { method: req.method, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', (e) => res.destroy(e));
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The marks of late days the writer left for `day`. */
async function marksOf(s3: S3Client, bucket: string, day: string) {
  const page = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `compaction-pending/dt=${day}/` }),
  );
  return page.Contents ?? [];
}

/** The nightly run at `time`, with `timeoutSeconds` to go: its day reports and its JSON log lines. */
function scheduledRun(
  handler: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>,
  time: string,
  timeoutSeconds: number,
) {
  return captureJsonLines(
    async () => (await handler({ time }, lambdaContext('compactLake', timeoutSeconds))) as CompactSummary[],
  );
}

describe('lake compaction (compactLake) against the local S3', () => {
  const cloud = useLocalCloud();
  /** The compactLake handler as Lambda loads it (environment from the template), and its bucket. */
  async function compaction() {
    const c = cloud();
    const env = c.functionEnv('CompactLakeLambdaFunction');
    Object.assign(process.env, env);
    const { handler } = await import('../../../functions/compact-lake.ts');
    const s3: S3Client = c.clients.s3;
    return { c, bucket: env.LAKE_BUCKET_NAME!, s3, handler };
  }

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
    const { result, lines } = await captureJsonLines(
      async () => (await handler({ day: DAY }, lambdaContext('compactLake'))) as CompactSummary[],
    );
    const [report] = result;
    // Its metrics in the stage's namespace under the one dimension the alarms watch (resources/monitoring.yml).
    const filed = emfMetrics(lines);
    expect(filed.map((m) => m.name).sort()).toEqual([
      'LakeDaysFailed',
      'LakeDuplicatesDropped',
      'LakeEventsCompacted',
      'LakeLinesRead',
      'LakeLinesRejected',
      'LakePendingDaysLeft',
    ]);
    for (const m of filed)
      expect(m).toEqual({ namespace: 'tickstream/dev', dimensions: ['service'], name: m.name });
    expect(lines.find((l) => '_aws' in l)).toMatchObject({
      service: 'tickstream-compaction',
      LakeLinesRejected: 1,
    });
    expect(report).toMatchObject({
      day: DAY,
      objects: 4,
      lines: 30 + 20 + 1 + 2,
      duplicates: 10 + 1 + 1,
      events: 40,
      written: { key: `compacted/dt=${DAY}/events.parquet` },
    });
    expect(report).toMatchObject({ rejectedLines: 1 });
    expect(report!.firstRejected).toEqual([
      { key: `raw/dt=${DAY}/shard=${SHARD}/damaged.ndjson.gz`, line: 2, reason: 'not JSON' },
    ]);
    const head = await c.clients.s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: report!.written!.key }),
    );
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    expect(head.ContentLength).toBe(report!.written!.bytes);
    expect(head.Metadata).toEqual({ 'event-count': '40' });

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
    const [empty] = (await handler({ day: '2024-10-05' }, lambdaContext('compactLake'))) as CompactSummary[];
    expect(empty).toMatchObject({ objects: 0, events: 0, written: undefined });
  });

  it('a scheduled run compacts each of its days on its own: an unreadable object is rejected, a day that would shrink is kept and fails the run after the other', async () => {
    const { c, bucket, s3, handler } = await compaction();
    const writer = new S3LakeWriter({ s3, bucket });
    // 2024-10-05: 12 bars and an object that is not gzip at all.
    await writer.writeBatch(lakeBatchOf(barsOn(3, 12, 'SPY')));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'raw/dt=2024-10-05/shard=x/broken.ndjson.gz',
        Body: 'plain text',
      }),
    );
    // 2024-10-06: 5 bars, but its compacted object already says it holds 50 events.
    await writer.writeBatch(lakeBatchOf(barsOn(4, 5, 'SPY')));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'compacted/dt=2024-10-06/events.parquet',
        Body: 'an earlier compaction',
        Metadata: { 'event-count': '50' },
      }),
    );

    await expect(handler({ time: '2024-10-07T00:30:00Z' }, lambdaContext('compactLake'))).rejects.toThrow(
      /^lake compaction failed for 2024-10-06: the compacted day holds 50 events; this compaction found 5 \(0 lines rejected\): kept, not replaced/,
    );
    const body = async (key: string) =>
      (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    expect(await body('compacted/dt=2024-10-06/events.parquet')).toBe('an earlier compaction');
    // The scheduled run went on to the other day and compacted it before failing.
    const compacted05 = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'compacted/dt=2024-10-05/events.parquet' }),
    );
    expect(compacted05.Metadata).toEqual({ 'event-count': '12' });
    // The other day of the run was compacted, the unreadable object rejected with its reason.
    const [summary] = (await handler(
      { day: '2024-10-05' },
      lambdaContext('compactLake'),
    )) as CompactSummary[];
    expect(summary).toMatchObject({ events: 12, rejectedLines: 1 });
    expect(summary!.firstRejected[0]).toMatchObject({
      key: 'raw/dt=2024-10-05/shard=x/broken.ndjson.gz',
      line: 0,
      reason: expect.stringMatching(/^not gzip: /),
    });
    const lake = await LocalLake.open({ s3Dir: join(c.state.dir, 's3'), bucket, stage: 'dev' });
    try {
      expect(await lake.query("SELECT count(*) AS n FROM compacted_events WHERE dt = '2024-10-05'")).toEqual([
        { n: '12' },
      ]);
    } finally {
      lake.close();
    }
    // Forced, the day is replaced with what its raw zone holds.
    const [forced] = (await handler(
      { day: '2024-10-06', force: true },
      lambdaContext('compactLake'),
    )) as CompactSummary[];
    expect(forced).toMatchObject({ events: 5, written: { key: 'compacted/dt=2024-10-06/events.parquet' } });
  });

  it('keeps the whole lines of a raw object whose gzip is cut off, and reports the line the cut falls on', async () => {
    const { bucket, s3, handler } = await compaction();
    const day = '2024-10-13';
    const records = barsOn(11, 10, 'TLT');
    // Bars 6–9 as the writer put them; bars 0–6 in an object cut off inside bar 6's line (a
    // partial copy): a gzip header and its deflate stream flushed to a byte boundary there, so a
    // reader gets exactly those bytes, then the end of the input (no final block, no trailer).
    await new S3LakeWriter({ s3, bucket }).writeBatch(lakeBatchOf(records.slice(6)));
    const text = toNdjson(records.slice(0, 7));
    const upToCut = text.slice(0, text.lastIndexOf('\n', text.length - 2) + 40);
    const cutKey = `raw/dt=${day}/shard=${SHARD}/cut.ndjson.gz`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: cutKey,
        Body: Buffer.concat([
          gzipSync('').subarray(0, 10),
          deflateRawSync(upToCut, { finishFlush: constants.Z_FULL_FLUSH }),
        ]),
      }),
    );

    const { result, lines } = await captureJsonLines(
      async () => (await handler({ day }, lambdaContext('compactLake'))) as CompactSummary[],
    );
    const [report] = result;
    expect(report).toMatchObject({ day, objects: 2, lines: 6 + 4, duplicates: 0, events: 10 });
    expect(report!.firstRejected).toEqual([
      {
        key: cutKey,
        line: 7,
        reason: 'gzip cut off: unexpected end of file: this line and any after it are lost',
      },
    ]);
    expect(lines.find((l) => l.message === 'raw lake line rejected')).toMatchObject({
      day,
      key: cutKey,
      line: 7,
    });
    expect(lines.find((l) => '_aws' in l)).toMatchObject({ LakeLinesRejected: 1, LakeEventsCompacted: 10 });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: `compacted/dt=${day}/events.parquet` }),
    );
    expect(head.Metadata).toEqual({ 'event-count': '10' });
  });

  it('a scheduled run also compacts an older day the writer marked late, and removes its marks', async () => {
    const { bucket, s3, handler } = await compaction();
    const late = '2024-10-09';
    const records = barsOn(7, 8, 'QQQ');
    // Written today (the wall clock), years after its day: late, so marked.
    const writer = new S3LakeWriter({ s3, bucket });
    await writer.writeBatch(lakeBatchOf(records.slice(0, 5)));
    await writer.writeBatch(lakeBatchOf(records.slice(5)));
    const marks = () => marksOf(s3, bucket, late);
    expect(await marks()).toHaveLength(2);

    // The night of 2024-10-20 compacts the 19th and the 18th (nothing there), then the marked day.
    const { result, lines } = await scheduledRun(handler, '2024-10-20T00:30:00Z', 900);
    expect(result.map((r) => [r.day, r.events])).toEqual([
      ['2024-10-19', 0],
      ['2024-10-18', 0],
      [late, 8],
    ]);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: `compacted/dt=${late}/events.parquet` }),
    );
    expect(head.Metadata).toEqual({ 'event-count': '8' });
    expect(await marks()).toEqual([]);
    expect(lines.find((l) => '_aws' in l)).toMatchObject({ LakePendingDaysLeft: 0 });
  });

  it("a scheduled run with under a minute left leaves a marked day (the invocation's remaining time), counted; a {day} run then removes its marks", async () => {
    const { bucket, s3, handler } = await compaction();
    const late = '2024-10-11';
    await new S3LakeWriter({ s3, bucket }).writeBatch(lakeBatchOf(barsOn(9, 4, 'IWM')));
    const marks = () => marksOf(s3, bucket, late);
    expect(await marks()).toHaveLength(1);

    // A 30 s timeout: its own two days only, whatever is marked waits for a night with time.
    const { result, lines } = await scheduledRun(handler, '2024-10-30T00:30:00Z', 30);
    expect(result.map((r) => r.day)).toEqual(['2024-10-29', '2024-10-28']);
    expect(await marks()).toHaveLength(1);
    expect(lines.find((l) => '_aws' in l)).toMatchObject({ LakePendingDaysLeft: 1 });

    const [day] = (await handler({ day: late }, lambdaContext('compactLake', 900))) as CompactSummary[];
    expect(day).toMatchObject({ day: late, events: 4 });
    expect(await marks()).toEqual([]);
  });

  it('compacts its own days when the marks cannot be listed, then fails the run for it (no day counted failed)', async () => {
    const { c, bucket, s3 } = await compaction();
    await new S3LakeWriter({ s3, bucket }).writeBatch(lakeBatchOf(barsOn(20, 4, 'DIA')));
    const proxy = await denyingListings(c.env.TICKSTREAM_ENDPOINT_S3!, 'compaction-pending/');
    try {
      // The module builds its default handler at import, from the environment compaction() set.
      const { createCompactHandler } = await import('../../../functions/compact-lake.ts');
      const handler = createCompactHandler({
        ...c.functionEnv('CompactLakeLambdaFunction'),
        TICKSTREAM_ENDPOINT_S3: proxy.url,
      });
      // The night of 2024-10-24 compacts the 23rd and the 22nd (the DIA bars), then would list the marks.
      const { result, lines } = await captureJsonLines(() =>
        handler({ time: '2024-10-24T00:30:00Z' }, lambdaContext('compactLake', 900)).then(
          () => 'resolved',
          (e: Error) => e.message,
        ),
      );
      expect(result).toMatch(/^lake compaction failed for pending days: .*Access Denied/);
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: 'compacted/dt=2024-10-22/events.parquet' }),
      );
      expect(head.Metadata).toEqual({ 'event-count': '4' });
      expect(lines.find((l) => '_aws' in l)).toMatchObject({ LakeDaysFailed: 0 });
    } finally {
      await proxy.close();
    }
  });
});
