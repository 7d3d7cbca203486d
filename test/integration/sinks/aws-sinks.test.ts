import { gunzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';
import { DynamoDbAlertLedger } from '../../../src/adapters/aws/dynamodb-alert-ledger.ts';
import { countMetricRows } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { DynamoDbMetricsStore } from '../../../src/adapters/aws/dynamodb-metrics-store.ts';
import { DynamoDbStateStore } from '../../../src/adapters/aws/dynamodb-state-store.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { SqsRejectedRecordSink } from '../../../src/adapters/aws/sqs-rejected-record-sink.ts';
import type { Alert, LakeBatch, MetricRow } from '../../../src/ports/processor.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();
const env = (name: string) => {
  const v = cloud().env[name];
  if (!v) throw new Error(`local cloud env has no ${name}`);
  return v;
};
// 2024-03-08T14:30:00Z, a Friday session of the bundled sample.
const T0 = Date.UTC(2024, 2, 8, 14, 30);

describe('DynamoDB state store against the emulator', () => {
  it('saves conditionally: a stale expected sequence number is a conflict', async () => {
    const store = new DynamoDbStateStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
    });
    const s = (seq: string) => ({
      symbol: 'STATE1',
      lastSequenceNumber: seq,
      lastEventTime: T0,
      snapshot: { ema: 171.25, n: 3 },
    });
    expect(await store.save(s('100'), undefined)).toBe('saved');
    expect(await store.save(s('101'), undefined)).toBe('conflict');
    expect(await store.save(s('200'), '100')).toBe('saved');
    // A retry that read the state before the save above: stale.
    expect(await store.save(s('201'), '100')).toBe('conflict');
    const loaded = await store.loadMany(['STATE1', 'NOPE']);
    expect([...loaded.keys()]).toEqual(['STATE1']);
    expect(loaded.get('STATE1')).toEqual(s('200'));
  });

  it('loads more than 100 states in chunks', async () => {
    const store = new DynamoDbStateStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
    });
    const symbols = Array.from({ length: 130 }, (_, i) => `MANY${i}`);
    for (const symbol of symbols) {
      await store.save({ symbol, lastSequenceNumber: '1', lastEventTime: T0, snapshot: null }, undefined);
    }
    const loaded = await store.loadMany(symbols);
    expect(loaded.size).toBe(130);
    expect(loaded.get('MANY129')).toMatchObject({ symbol: 'MANY129', snapshot: null });
  });
});

describe('DynamoDB metrics store against the emulator', () => {
  const bar = (symbol: string, minute: number, close: number): MetricRow => ({
    symbol,
    time: T0 + minute * 60_000,
    kind: 'bar',
    values: { close, volume: 1200 + minute, session: 'regular', rsi14: minute < 14 ? null : 55.5 },
  });

  it('writes > 25 rows including duplicates as one row per (symbol, event time)', async () => {
    const store = new DynamoDbMetricsStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
      ttlDays: 7,
      now: () => T0 + 45 * 60_000, // written live, as the session runs
    });
    const rows = Array.from({ length: 40 }, (_, i) => bar('ROWS', i, 170 + i / 100));
    rows.push(bar('ROWS', 5, 999), bar('ROWS', 30, 888), bar('ROWS', 5, 777));
    await store.write(rows);
    await store.write(rows); // a retry of the same batch
    expect(await countMetricRows(cloud().clients.documents, env('MARKET_TABLE_NAME'), 'ROWS')).toBe(40);
    expect(await countMetricRows(cloud().clients.documents, env('MARKET_TABLE_NAME'), 'ROWS', 'tick')).toBe(
      0,
    );
    const item = await cloud().clients.documents.send(
      new GetCommand({
        TableName: env('MARKET_TABLE_NAME'),
        Key: { pk: 'SYMBOL#ROWS', sk: 'BAR#2024-03-08T14:35:00.000Z' },
      }),
    );
    expect(item.Item).toMatchObject({
      symbol: 'ROWS',
      kind: 'bar',
      time: T0 + 5 * 60_000,
      values: { close: 777, volume: 1205, session: 'regular', rsi14: null },
      expiresAt: Math.floor((T0 + 5 * 60_000) / 1000) + 7 * 86_400,
    });
  });

  it('gives a row of a replayed day whose expiry is past an expiry DynamoDB’s TTL acts on: now', async () => {
    // AWS (DynamoDB developer guide, "Using Time to Live"): the TTL process ignores an expiry more
    // than five years in the past. A replay of the bundled 2019 sample (README) written now would
    // otherwise keep its rows for good instead of expiring METRICS_TTL_DAYS after their event time.
    const FIVE_YEARS_S = 5 * 365 * 86_400;
    const writtenAt = Date.UTC(2026, 0, 6, 15);
    const store = new DynamoDbMetricsStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
      ttlDays: 90,
      now: () => writtenAt,
    });
    const old = Date.UTC(2019, 10, 5, 15, 0); // the sample's first session
    const recent = writtenAt - 86_400_000; // yesterday: 89 days to go
    await store.write([
      { symbol: 'OLDTTL', time: old, kind: 'bar', values: { close: 3074.6 } },
      { symbol: 'OLDTTL', time: recent, kind: 'bar', values: { close: 5900.1 } },
    ]);
    const expiresAt = async (time: number) =>
      (
        await cloud().clients.documents.send(
          new GetCommand({
            TableName: env('MARKET_TABLE_NAME'),
            Key: { pk: 'SYMBOL#OLDTTL', sk: `BAR#${new Date(time).toISOString()}` },
          }),
        )
      ).Item?.expiresAt as number;
    const nowSeconds = writtenAt / 1000;
    expect(await expiresAt(old)).toBe(nowSeconds); // already expired: at once, within TTL's window
    expect(await expiresAt(old)).toBeGreaterThan(nowSeconds - FIVE_YEARS_S);
    expect(await expiresAt(recent)).toBe(recent / 1000 + 90 * 86_400); // event time + METRICS_TTL_DAYS
  });

  it('LATEST never moves backwards', async () => {
    const store = new DynamoDbMetricsStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
      ttlDays: 7,
    });
    await store.write([bar('LAT', 10, 10), bar('LAT', 12, 12)]);
    await store.write([bar('LAT', 11, 11)]); // late row
    const latest = async () =>
      (
        await cloud().clients.documents.send(
          new GetCommand({ TableName: env('MARKET_TABLE_NAME'), Key: { pk: 'SYMBOL#LAT', sk: 'LATEST' } }),
        )
      ).Item;
    expect(await latest()).toMatchObject({ time: T0 + 12 * 60_000, values: { close: 12 } });
    await store.write([bar('LAT', 13, 13)]);
    expect(await latest()).toMatchObject({ time: T0 + 13 * 60_000, values: { close: 13 } });
    expect(await countMetricRows(cloud().clients.documents, env('MARKET_TABLE_NAME'), 'LAT')).toBe(4);
  });

  it('stores any finite number: beyond 2^53 exact, outside DynamoDB’s range as 0 / null', async () => {
    const store = new DynamoDbMetricsStore({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
      ttlDays: 7,
    });
    const row: MetricRow = {
      symbol: 'HUGE',
      time: T0,
      kind: 'bar',
      values: { close: 171.25, volume: 1e16, notional: 1.5e21, flow: -2.5e30, tiny: 1e-200, vast: 3e130 },
    };
    await store.write([row]);
    const want = { close: 171.25, volume: 1e16, notional: 1.5e21, flow: -2.5e30, tiny: 0, vast: null };
    for (const sk of ['BAR#2024-03-08T14:30:00.000Z', 'LATEST']) {
      const item = await cloud().clients.documents.send(
        new GetCommand({ TableName: env('MARKET_TABLE_NAME'), Key: { pk: 'SYMBOL#HUGE', sk } }),
      );
      expect(item.Item?.values).toStrictEqual(want);
    }
  });
});

describe('DynamoDB alert ledger against the emulator', () => {
  const alert: Alert = {
    id: `LEDG#volume-spike#${T0}`,
    symbol: 'LEDG',
    kind: 'volume-spike',
    severity: 'medium',
    at: T0,
    value: 6,
    threshold: 4,
    message: 'volume 6σ above normal',
  };

  it("claim twice → already-claimed; only the claim's own token releases it; confirmed → never released", async () => {
    const ledger = new DynamoDbAlertLedger({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
    });
    expect(await ledger.claim(alert, 'first')).toBe('claimed');
    expect(await ledger.claim(alert, 'second')).toBe('already-claimed');
    await ledger.release(alert, 'second');
    expect(await ledger.claim(alert, 'third')).toBe('already-claimed');
    await ledger.release(alert, 'first');
    expect(await ledger.claim(alert, 'fourth')).toBe('claimed');
    await ledger.confirm(alert, 'msg-123');
    await ledger.release(alert, 'fourth');
    expect(await ledger.claim(alert, 'fifth')).toBe('already-claimed');
    const item = await cloud().clients.documents.send(
      new GetCommand({
        TableName: env('MARKET_TABLE_NAME'),
        Key: { pk: 'SYMBOL#LEDG', sk: 'ALERT#volume-spike#2024-03-08T14:30:00.000Z' },
      }),
    );
    expect(item.Item).toMatchObject({ status: 'published', messageId: 'msg-123', alertId: alert.id });
    // TTL: 35 days after the claim.
    expect(item.Item!.expiresAt).toBeGreaterThan(Date.now() / 1000 + 34 * 86_400);
  });

  it('a claim never confirmed nor released is final however old (at most once, no take-over)', async () => {
    // Publish outcome unknown (e.g. SNS accepted it, the reply was lost): the item stays 'claimed'
    // and no later retry may take it over and send the alert a second time.
    let now = T0;
    const ledger = new DynamoDbAlertLedger({
      documents: cloud().clients.documents,
      tableName: env('MARKET_TABLE_NAME'),
      now: () => now,
    });
    const a = { ...alert, symbol: 'UNKNOWN', id: 'UNKNOWN#x' };
    expect(await ledger.claim(a, 'first')).toBe('claimed');
    now = T0 + 60 * 60_000; // 1 hour later
    expect(await ledger.claim(a, 'later')).toBe('already-claimed');
    now = T0 + 24 * 60 * 60_000; // 1 day later
    expect(await ledger.claim(a, 'much later')).toBe('already-claimed');
    const item = await cloud().clients.documents.send(
      new GetCommand({
        TableName: env('MARKET_TABLE_NAME'),
        Key: { pk: 'SYMBOL#UNKNOWN', sk: 'ALERT#volume-spike#2024-03-08T14:30:00.000Z' },
      }),
    );
    expect(item.Item).toMatchObject({ status: 'claimed', claimedAt: T0, alertId: a.id, claimToken: 'first' });
    // Only its own release (nothing was sent) gives it back.
    await ledger.release(a, 'first');
    expect(await ledger.claim(a, 'again')).toBe('claimed');
  });

  it("a claim whose reply was lost is still this claim's when the SDK's retry finds it: the alert is sent", async () => {
    // The first PutItem is stored, then its reply is lost (a reset connection): the SDK retries the
    // same request, whose condition now fails on the item the first attempt stored.
    let lost = 0;
    class LosingFirstPutReply extends NodeHttpHandler {
      override async handle(...[request, options]: Parameters<NodeHttpHandler['handle']>) {
        const answer = await super.handle(request, options);
        if (lost === 0 && String(request.headers['x-amz-target']).endsWith('.PutItem')) {
          lost++;
          (answer.response.body as NodeJS.ReadableStream).resume();
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        return answer;
      }
    }
    const client = new DynamoDBClient({
      region: cloud().clientConfig.region,
      endpoint: cloud().endpoints.dynamodb!,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new LosingFirstPutReply(),
    });
    try {
      const ledger = new DynamoDbAlertLedger({
        documents: DynamoDBDocumentClient.from(client),
        tableName: env('MARKET_TABLE_NAME'),
      });
      const a = { ...alert, symbol: 'LOSTREPLY', id: 'LOSTREPLY#x' };
      expect(await ledger.claim(a, 'mine')).toBe('claimed');
      expect(lost).toBe(1);
      // Anyone else's claim, or this one once published, still finds it taken.
      expect(await ledger.claim(a, 'another')).toBe('already-claimed');
      await ledger.confirm(a, 'msg-1');
      expect(await ledger.claim(a, 'mine')).toBe('already-claimed');
    } finally {
      client.destroy();
    }
  });
});

describe('S3 lake writer against the emulator', () => {
  const record = (seq: string, minute: number, close: number) => ({
    symbol: 'LAKE',
    time: T0 + minute * 60_000,
    kind: 'bar' as const,
    shardId: 'shardId-000000000000',
    sequenceNumber: seq,
    arrivalTime: T0 + minute * 60_000 + 61_000,
    event: { type: 'bar', symbol: 'LAKE', open: close, high: close, low: close, close, volume: 100 },
  });
  const batch: LakeBatch = {
    shardId: 'shardId-000000000000',
    firstSequenceNumber: '49650000000000000000000000000000000000000000000000000001',
    lastSequenceNumber: '49650000000000000000000000000000000000000000000000000002',
    records: [
      record('49650000000000000000000000000000000000000000000000000001', 0, 171.5),
      record('49650000000000000000000000000000000000000000000000000002', 1, 171.75),
    ],
  };

  it('writes one gzip NDJSON object under dt=, byte-exact, and a rewrite of the batch is still one object', async () => {
    const s3 = cloud().clients.s3;
    const bucket = env('LAKE_BUCKET_NAME');
    const writer = new S3LakeWriter({ s3, bucket });
    const keys = await writer.writeBatch(batch);
    await writer.writeBatch(batch);
    const [key] = keys;
    expect(keys).toEqual([
      expect.stringMatching(
        /^raw\/dt=2024-03-08\/shard=shardId-000000000000\/49650000000000000000000000000000000000000000000000000001-49650000000000000000000000000000000000000000000000000002-[0-9a-f]{16}\.ndjson\.gz$/,
      ),
    ]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'raw/dt=2024-03-08/' }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([key]);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(got.ContentType).toBe('application/x-ndjson');
    const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
    expect(text).toBe(
      '{"symbol":"LAKE","time":1709908200000,"kind":"bar","shardId":"shardId-000000000000","sequenceNumber":"49650000000000000000000000000000000000000000000000000001","arrivalTime":1709908261000,"event":{"type":"bar","symbol":"LAKE","open":171.5,"high":171.5,"low":171.5,"close":171.5,"volume":100}}\n' +
        '{"symbol":"LAKE","time":1709908260000,"kind":"bar","shardId":"shardId-000000000000","sequenceNumber":"49650000000000000000000000000000000000000000000000000002","arrivalTime":1709908321000,"event":{"type":"bar","symbol":"LAKE","open":171.75,"high":171.75,"low":171.75,"close":171.75,"volume":100}}\n',
    );
  });
});

describe('SQS dead-letter sink against the emulator', () => {
  it('delivers every rejected record with its reason', async () => {
    const sqs = cloud().clients.sqs;
    const queueUrl = env('DEAD_LETTER_QUEUE_URL');
    const sink = new SqsRejectedRecordSink({ sqs, queueUrl });
    const records = Array.from({ length: 12 }, (_, i) => ({
      shardId: 'shardId-000000000000',
      sequenceNumber: String(1000 + i),
      partitionKey: 'BAD',
      data: Buffer.from(`{"symbol":"BAD","price":"x${i}"}`).toString('base64'),
      reason: `price: expected a number, got string (record ${i})`,
    }));
    await sink.send(records);
    const got: { body: Record<string, unknown>; reason: string | undefined }[] = [];
    for (let i = 0; i < 10 && got.length < 12; i++) {
      const res = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          VisibilityTimeout: 60,
        }),
      );
      for (const m of res.Messages ?? []) {
        got.push({ body: JSON.parse(m.Body!), reason: m.MessageAttributes?.reason?.StringValue });
      }
    }
    expect(got).toHaveLength(12);
    const bySeq = new Map(got.map((g) => [g.body.sequenceNumber, g]));
    for (const r of records) {
      const g = bySeq.get(r.sequenceNumber)!;
      expect(g.reason).toBe(r.reason);
      expect(g.body).toMatchObject(r);
    }
  });

  it('sends a reason quoting characters SQS refuses (U+FFFF) as a body SQS takes, the reason kept exactly', async () => {
    // local-aws-sqs takes any text; fauxqs (the local SNS, whose endpoint also serves SQS) enforces
    // SQS's character set, as AWS does.
    const sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: cloud().sns.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'dlq-character-set' }));
      const record = {
        shardId: 'shardId-000000000000',
        sequenceNumber: '2000',
        partitionKey: 'BAD\uFFFE',
        data: Buffer.from([0xef, 0xbf, 0xbf]).toString('base64'),
        // What V8 says of the payload EF BF BF (U+FFFF): the reason quotes it.
        reason: `payload is not JSON: Unexpected token '\uFFFF', "\uFFFF" is not valid JSON`,
      };
      await new SqsRejectedRecordSink({ sqs, queueUrl: QueueUrl! }).send([record]);
      const res = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
      );
      expect(res.Messages).toHaveLength(1);
      const [m] = res.Messages!;
      expect(JSON.parse(m!.Body!)).toMatchObject(record);
      expect(m!.MessageAttributes?.reason?.StringValue).toBe(record.reason.replaceAll('\uFFFF', '\uFFFD'));
    } finally {
      sqs.destroy();
    }
  });
});
