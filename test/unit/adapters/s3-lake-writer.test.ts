import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LAKE_LINE_FIELDS } from '../../../src/adapters/aws/lake-schema.ts';
import {
  isLateDay,
  lakeObjectKey,
  S3LakeWriter,
  toNdjson,
} from '../../../src/adapters/aws/s3-lake-writer.ts';
import { eventDay } from '../../../src/ports/lake-line.ts';
import type { LakeBatch, LakeRecord } from '../../../src/ports/processor.ts';

const s3 = new S3Client({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
afterEach(() => s3Mock.reset());

function record(seq: string, iso: string): LakeRecord {
  return {
    symbol: 'AAPL',
    time: Date.parse(iso),
    kind: 'bar',
    shardId: 'shardId-000000000001',
    sequenceNumber: seq,
    arrivalTime: Date.parse(iso) + 500,
    event: { type: 'bar', symbol: 'AAPL', close: 170.5 },
  };
}

// Straddles UTC midnight: an after-hours bar on 2024-03-08 (New York 19:59 = 00:59Z next day is the 9th).
const batch: LakeBatch = {
  shardId: 'shardId-000000000001',
  firstSequenceNumber: '100',
  lastSequenceNumber: '103',
  records: [
    record('100', '2024-03-08T23:58:00.000Z'),
    record('101', '2024-03-08T23:59:00.000Z'),
    record('102', '2024-03-09T00:00:00.000Z'),
    record('103', '2024-03-09T00:01:00.000Z'),
  ],
};

/** The wall clock on the batch's second day: live data, no day late. */
const live = () => Date.parse('2024-03-09T12:00:00.000Z');

function expectedLine(seq: string, iso: string): string {
  const t = Date.parse(iso);
  return `{"symbol":"AAPL","time":${t},"kind":"bar","shardId":"shardId-000000000001","sequenceNumber":"${seq}","arrivalTime":${t + 500},"event":{"type":"bar","symbol":"AAPL","close":170.5}}\n`;
}

describe('S3LakeWriter', () => {
  it('names each object by exactly its records: the same records give the same key, a subset of the range another one', () => {
    const rs = batch.records;
    const key = (records: readonly LakeRecord[]) =>
      lakeObjectKey('raw/', '2024-03-08', 'shardId-000000000001', records);
    expect(key(rs)).toBe(key([...rs]));
    const keys = new Set([
      key(rs),
      key([rs[0]!, rs[3]!]),
      key([rs[0]!, rs[1]!, rs[3]!]),
      key([rs[0]!, rs[2]!, rs[3]!]),
    ]);
    expect(keys.size).toBe(4);
    for (const k of keys)
      expect(k).toMatch(/^raw\/dt=2024-03-08\/shard=shardId-000000000001\/100-103-[0-9a-f]{16}\.ndjson\.gz$/);
    expect(() => key([])).toThrow(/at least one record/);
    // Only decimal sequence numbers reach the key's path, whichever day's object they start or end.
    expect(() => key([rs[0]!, { ...rs[3]!, sequenceNumber: '../x' }])).toThrow(
      /sequenceNumber must be a decimal string, got '..\/x'/,
    );
  });

  it('writes one gzip NDJSON object per event day (UTC) under dt=/shard=, keyed by the records it holds', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const writer = new S3LakeWriter({ s3, bucket: 'lake', now: live });
    const keys = await writer.writeBatch(batch);
    // First and last sequence numbers, and 16 hex digits of the SHA-256 of all of them, comma-joined.
    const digest = (seqs: string) => createHash('sha256').update(seqs).digest('hex').slice(0, 16);
    expect([...keys].sort()).toEqual([
      `raw/dt=2024-03-08/shard=shardId-000000000001/100-101-${digest('100,101')}.ndjson.gz`,
      `raw/dt=2024-03-09/shard=shardId-000000000001/102-103-${digest('102,103')}.ndjson.gz`,
    ]);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(2);
    const day8 = puts.find((p) => p.Key!.includes('dt=2024-03-08'))!;
    expect(day8.Bucket).toBe('lake');
    expect(day8.ContentType).toBe('application/x-ndjson');
    expect(day8.ContentEncoding).toBe('gzip');
    expect(gunzipSync(day8.Body as Buffer).toString('utf8')).toBe(
      expectedLine('100', '2024-03-08T23:58:00.000Z') + expectedLine('101', '2024-03-08T23:59:00.000Z'),
    );
  });

  it('writes byte-identical objects for the same batch (a retry overwrites)', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const writer = new S3LakeWriter({ s3, bucket: 'lake', prefix: 'raw', now: live });
    const first = await writer.writeBatch(batch);
    const second = await writer.writeBatch(batch);
    expect(second).toEqual(first);
    // The objects of one write go out concurrently: compare them by key, not by call order.
    const calls = s3Mock
      .commandCalls(PutObjectCommand)
      .map((c) => [c.args[0].input.Key!, (c.args[0].input.Body as Buffer).toString('base64')] as const);
    expect(calls).toHaveLength(4);
    const firstWrite = new Map(calls.slice(0, 2));
    const secondWrite = new Map(calls.slice(2));
    expect(firstWrite.size).toBe(2);
    expect(secondWrite).toEqual(firstWrite);
  });

  it('marks a day written two or more UTC days late, after its object, for the nightly compaction', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    // 2024-03-10 23:59Z: the 9th is yesterday (the next night's run covers it), the 8th is late.
    const writer = new S3LakeWriter({
      s3,
      bucket: 'lake',
      now: () => Date.parse('2024-03-10T23:59:59.999Z'),
    });
    const keys = await writer.writeBatch(batch);
    const day8 = keys.find((k) => k.includes('dt=2024-03-08'))!;
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key).sort()).toEqual(
      [...keys, `compaction-pending/${day8.slice('raw/'.length)}`].sort(),
    );
    const mark = puts.findIndex((p) => p.Key!.startsWith('compaction-pending/'));
    expect(puts.findIndex((p) => p.Key === day8)).toBeLessThan(mark);
    expect(puts[mark]!.Body).toBe('');
  });

  it('sends the empty mark with its length (Content-Length: 0), so the SDK has no warning to print per mark', async () => {
    // Through the SDK's middleware (the mock above replaces send): the requests as they would leave.
    const sent: { key: string; headers: Record<string, string> }[] = [];
    const client = new S3Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: {
        handle: async (request: { path: string; headers: Record<string, string> }) => {
          sent.push({ key: decodeURIComponent(request.path.slice(1)), headers: request.headers });
          return { response: { statusCode: 200, headers: {}, body: Readable.from([]) } };
        },
      },
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const writer = new S3LakeWriter({
        s3: client,
        bucket: 'lake',
        now: () => Date.parse('2024-03-10T23:59:59.999Z'),
      });
      await writer.writeBatch(batch);
      const mark = sent.find((r) => r.key.startsWith('compaction-pending/'));
      expect(mark?.key).toMatch(/^compaction-pending\/dt=2024-03-08\//);
      expect(mark?.headers['content-length']).toBe('0');
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      client.destroy();
    }
  });

  it('leaves no mark when the late object could not be written', async () => {
    s3Mock.on(PutObjectCommand).rejects(new Error('SlowDown'));
    const writer = new S3LakeWriter({
      s3,
      bucket: 'lake',
      now: () => Date.parse('2024-04-01T00:00:00.000Z'),
    });
    await expect(writer.writeBatch(batch)).rejects.toThrow('SlowDown');
    const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key!);
    expect(keys.filter((k) => k.startsWith('compaction-pending/'))).toEqual([]);
  });

  it('refuses a marks prefix that is not apart from the raw zone', () => {
    expect(() => new S3LakeWriter({ s3, bucket: 'lake', prefix: 'x', pendingPrefix: 'x/' })).toThrow(
      /pendingPrefix must be a prefix of its own/,
    );
  });

  it('writes nothing for an empty batch and refuses a bad sequence number', async () => {
    const writer = new S3LakeWriter({ s3, bucket: 'lake' });
    expect(await writer.writeBatch({ ...batch, records: [] })).toEqual([]);
    await expect(writer.writeBatch({ ...batch, firstSequenceNumber: '../x' })).rejects.toThrow(
      /firstSequenceNumber must be a decimal string/,
    );
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('toNdjson', () => {
  it('writes each record as one JSON line, fields in the lake order', () => {
    const records: LakeRecord[] = [
      record('200', '2024-03-08T15:30:00.000Z'),
      {
        ...record('201', '2024-03-08T15:31:00.000Z'),
        symbol: 'BRK-B',
        kind: 'tick',
        event: {
          note: 'quote "q" \\ back\nslash é 😀',
          price: 1e21,
          small: 5e-7,
          none: null,
          list: [1, 'a'],
        },
      },
      { ...record('202', '2024-03-08T15:32:00.000Z'), arrivalTime: Number.NaN, shardId: 'shard "x"' },
    ];
    // Written out by hand: the lake's field order, JSON's escapes, a non-finite number as null.
    const expected = [
      '{"symbol":"AAPL","time":1709911800000,"kind":"bar","shardId":"shardId-000000000001","sequenceNumber":"200","arrivalTime":1709911800500,"event":{"type":"bar","symbol":"AAPL","close":170.5}}',
      '{"symbol":"BRK-B","time":1709911860000,"kind":"tick","shardId":"shardId-000000000001","sequenceNumber":"201","arrivalTime":1709911860500,"event":{"note":"quote \\"q\\" \\\\ back\\nslash é 😀","price":1e+21,"small":5e-7,"none":null,"list":[1,"a"]}}',
      '{"symbol":"AAPL","time":1709911920000,"kind":"bar","shardId":"shard \\"x\\"","sequenceNumber":"202","arrivalTime":null,"event":{"type":"bar","symbol":"AAPL","close":170.5}}',
    ].join('\n');
    expect(toNdjson(records)).toBe(`${expected}\n`);
    expect(toNdjson([])).toBe('');
    // The fields both SQL views of the lake (Glue's table, the local DuckDB view) are defined by.
    expect(Object.keys(JSON.parse(toNdjson(records).split('\n')[0]!))).toEqual([
      ...LAKE_LINE_FIELDS.map(([name]) => name),
      'event',
    ]);
  });
});

describe('eventDay', () => {
  it('is the UTC calendar day, also for times before 1970 and right at midnight', () => {
    for (const iso of ['2024-03-08T23:59:59.999Z', '2024-03-09T00:00:00.000Z', '1969-12-31T12:00:00.000Z']) {
      expect(eventDay(Date.parse(iso))).toBe(iso.slice(0, 10));
    }
    expect(() => eventDay(Number.NaN)).toThrow(/finite epoch-ms/);
  });

  it('is the UTC day on a machine in another time zone (npm start on a laptop)', () => {
    const zone = process.env.TZ;
    try {
      // New York's evening and Tokyo's morning are the next UTC day and the same UTC day.
      process.env.TZ = 'America/New_York';
      expect(eventDay(Date.parse('2024-11-05T03:00:00.000Z'))).toBe('2024-11-05');
      process.env.TZ = 'Asia/Tokyo';
      expect(eventDay(Date.parse('2024-11-06T20:00:00.000Z'))).toBe('2024-11-06');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('isLateDay: a day no scheduled compaction covers any more', () => {
  it('is late from the second UTC day after it on', () => {
    expect(isLateDay('2024-03-08', Date.parse('2024-03-09T23:59:59.999Z'))).toBe(false);
    expect(isLateDay('2024-03-08', Date.parse('2024-03-10T00:00:00.000Z'))).toBe(true);
    expect(isLateDay('2024-03-08', Date.parse('2024-03-08T12:00:00.000Z'))).toBe(false);
    expect(isLateDay('2024-03-09', Date.parse('2024-03-08T12:00:00.000Z'))).toBe(false);
    expect(isLateDay('2023-12-31', Date.parse('2024-03-08T12:00:00.000Z'))).toBe(true);
  });
});
