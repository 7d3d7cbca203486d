import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it, vi } from 'vitest';
import { S3PendingDays } from '../../../src/adapters/aws/s3-lake-compaction.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

// S3 through the project's client factory against s3rver, on the template's lake bucket.
const cloud = useLocalCloud();

/** Real AAPL 1-minute bars (test/fixtures/local-cloud/SOURCES.md) as NDJSON, the lake's raw format. */
const NDJSON = (() => {
  const [header, ...rows] = readFileSync(
    fileURLToPath(new URL('../../fixtures/local-cloud/aapl-2024-10-02-first-30.csv', import.meta.url)),
    'utf8',
  )
    .trim()
    .split('\n');
  const cols = header!.split(',');
  return (
    rows.map((r) => JSON.stringify(Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])))).join('\n') +
    '\n'
  );
})();

describe('S3 (s3rver) through createAwsClients', () => {
  it('stores a gzip object and reads it back byte-exact', async () => {
    const s3 = cloud().clients.s3;
    const Bucket = cloud().env.LAKE_BUCKET_NAME!;
    const body = gzipSync(Buffer.from(NDJSON), { level: 9 });
    const Key = 'raw/dt=2024-01-02/shard=shardId-000000000000/batch-0001.ndjson.gz';
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key,
        Body: body,
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'gzip',
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ContentEncoding).toBe('gzip');
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.equals(body)).toBe(true);
    expect(gunzipSync(bytes).toString('utf8')).toBe(NDJSON);
    expect(NDJSON.split('\n').filter(Boolean)).toHaveLength(30);
  });

  it('lists a prefix over several pages with MaxKeys and continuation tokens, each key once, in order', async () => {
    const s3 = cloud().clients.s3;
    const Bucket = cloud().env.LAKE_BUCKET_NAME!;
    const Prefix = 'raw/dt=2024-01-03/';
    const keys = Array.from(
      { length: 7 },
      (_, i) => `${Prefix}batch-${String(i).padStart(4, '0')}.ndjson.gz`,
    );
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: gzipSync(Key) }));
    const listed: string[] = [];
    const tokens: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix,
          MaxKeys: 3,
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      );
      expect(page.KeyCount).toBeLessThanOrEqual(3);
      listed.push(...(page.Contents ?? []).map((o) => o.Key!));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated) {
        expect(ContinuationToken).toBeTruthy();
        tokens.push(ContinuationToken!);
      }
    } while (ContinuationToken);
    expect(tokens).toHaveLength(2); // 7 keys, 3 a page: 3 pages
    expect(listed).toEqual(keys);
  });

  it('paginates without the legacy OpenSSL provider too (s3rver DES tokens through the shim)', async () => {
    // A child Node with no --openssl-legacy-provider (vitest's workers have it): boot, list, report.
    const script = `
      import { PutObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
      import { startLocalCloud } from './scripts/local/local-cloud.ts';
      import { synthesizeTemplate } from './scripts/template/synthesize.ts';
      import crypto from 'node:crypto';
      let legacy = true;
      try { crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8)); } catch { legacy = false; }
      const cloud = await startLocalCloud({ template: await synthesizeTemplate('dev') });
      const Bucket = cloud.env.LAKE_BUCKET_NAME;
      for (let i = 0; i < 5; i++) await cloud.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'k' + i, Body: 'x' }));
      const keys = []; let token;
      do {
        const p = await cloud.clients.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 2, ContinuationToken: token }));
        keys.push(...p.Contents.map((o) => o.Key)); token = p.IsTruncated ? p.NextContinuationToken : undefined;
      } while (token);
      await cloud.stop();
      console.log(JSON.stringify({ legacy, desShim: cloud.desShim, keys }));
    `;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: process.cwd(), env, timeout: 30_000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      ),
    );
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      legacy: boolean;
      desShim: boolean;
      keys: string[];
    };
    expect(result.legacy).toBe(false);
    expect(result.desShim).toBe(true);
    expect(result.keys).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
  });
  it('the shim is single DES: the published known-answer vector holds without the legacy provider', async () => {
    // DES worked example (J. Orlin Grabbe, "The DES Algorithm Illustrated"): key 133457799BBCDFF1,
    // plaintext 0123456789ABCDEF -> ciphertext 85E813540F0AB405. CBC with a zero IV = ECB for one block.
    const script = `
      import { installDesShim } from './scripts/local/des-shim.ts';
      import crypto from 'node:crypto';
      const active = installDesShim();
      const c = crypto.createCipheriv('des', Buffer.from('133457799BBCDFF1', 'hex'), Buffer.alloc(8));
      c.setAutoPadding(false);
      const ct = Buffer.concat([c.update(Buffer.from('0123456789ABCDEF', 'hex')), c.final()]);
      const d = crypto.createDecipheriv('des', Buffer.from('133457799BBCDFF1', 'hex'), Buffer.alloc(8));
      d.setAutoPadding(false);
      const pt = Buffer.concat([d.update(ct), d.final()]);
      console.log(JSON.stringify({ active, ct: ct.toString('hex'), pt: pt.toString('hex') }));
    `;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: process.cwd(), env, timeout: 30_000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      ),
    );
    expect(JSON.parse(stdout.trim())).toEqual({
      active: true,
      ct: '85e813540f0ab405',
      pt: '0123456789abcdef',
    });
  });

  it("removes a day's thousands of late-day marks without reading their folder once a mark (time in the square of their count)", async () => {
    // Every raw object of a replayed or synthetic (2024) day leaves a mark beside it: a long
    // --synthetic run leaves tens of thousands a shard folder, and the compaction removes them.
    // s3rver read the whole folder after each delete (5,000 marks: about 20 s; 37,000: hours).
    const s3 = cloud().clients.s3;
    const Bucket = cloud().env.LAKE_BUCKET_NAME!;
    const folder = 'compaction-pending/dt=2024-10-09/shard=shardId-000000000000/';
    const keys = Array.from({ length: 5000 }, (_, i) => `${folder}${String(i).padStart(6, '0')}.ndjson.gz`);
    const kept = 'compaction-pending/dt=2024-10-09/shard=shardId-000000000001/000000.ndjson.gz';
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(
        keys.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: '' }))),
      );
    await s3.send(new PutObjectCommand({ Bucket, Key: kept, Body: '' }));
    const pending = new S3PendingDays({ s3, bucket: Bucket });
    expect((await pending.list('2024-10-09')).get('2024-10-09')).toHaveLength(5001);

    // s3rver's own delete read the key's whole folder (fs-extra's readdirSync, the module s3rver
    // holds) after each key: counted, not timed.
    const fsExtra = createRequire(import.meta.url)('fs-extra') as { readdirSync: (path: string) => string[] };
    const folderReads = vi.spyOn(fsExtra, 'readdirSync');
    try {
      await pending.clear(keys);
      expect(folderReads.mock.calls.length).toBeLessThan(100);
    } finally {
      folderReads.mockRestore();
    }

    // The emptied folder is gone, the day's other shard keeps its mark.
    expect(await pending.list('2024-10-09')).toEqual(new Map([['2024-10-09', [kept]]]));
    const shards = await s3.send(
      new ListObjectsV2Command({ Bucket, Prefix: 'compaction-pending/dt=2024-10-09/', Delimiter: '/' }),
    );
    expect((shards.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual([
      'compaction-pending/dt=2024-10-09/shard=shardId-000000000001/',
    ]);
  }, 120_000);
});
