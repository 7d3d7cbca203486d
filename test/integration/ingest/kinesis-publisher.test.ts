import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { cursorKey, DynamoDbCursorStore } from '../../../src/adapters/aws/dynamodb-cursor-store.ts';
import { KinesisPublisher } from '../../../src/adapters/aws/kinesis-publisher.ts';
import { SyntheticMarket } from '../../../src/adapters/synthetic/synthetic-source.ts';
import {
  decodeMarketEvent,
  eventSymbol,
  eventTime,
  type MarketEvent,
} from '../../../src/domain/market/index.ts';
import { failSomeEntries } from '../../support/kinesis-faults.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();

/** Every record on the stream, per partition key, in sequence order. */
async function readStream(kinesis: KinesisClient, stream: string): Promise<Map<string, MarketEvent[]>> {
  const out = new Map<string, MarketEvent[]>();
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  for (const shard of shards) {
    let it = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    for (let empty = 0; it && empty < 2; ) {
      const r = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      if ((r.Records ?? []).length === 0) empty++;
      for (const rec of r.Records ?? []) {
        const d = decodeMarketEvent(new TextDecoder().decode(rec.Data), Number.POSITIVE_INFINITY);
        if (!d.ok) throw new Error(`undecodable record on the stream: ${JSON.stringify(d.issues)}`);
        const list = out.get(rec.PartitionKey!) ?? [];
        list.push(d.value);
        out.set(rec.PartitionKey!, list);
      }
      it = r.NextShardIterator;
      if ((r.MillisBehindLatest ?? 0) === 0 && (r.Records ?? []).length === 0) break;
    }
  }
  return out;
}

describe('KinesisPublisher against the local stream (kinesalite)', () => {
  it('with injected partial failures, delivers every record exactly once and in order per symbol', async () => {
    const c = cloud();
    const stream = c.env.TICKS_STREAM_NAME!;
    const clients = createAwsClients(c.clientConfig);
    let seed = 7;
    const stats = failSomeEntries(clients.kinesis, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 < 0.25;
    });
    const publisher = new KinesisPublisher({
      streamName: stream,
      kinesis: clients.kinesis,
      maxAttempts: 30,
      baseDelayMs: 1,
      maxDelayMs: 5,
    });
    const symbols = ['AAPL', 'MSFT', 'SPY', 'BTC-USD', 'EURUSD=X', 'QQQ'];
    const sent: MarketEvent[] = [];
    for await (const e of new SyntheticMarket({ symbols, seed: 11, count: 1_800 }).events()) {
      sent.push(e);
      await publisher.publish(e);
    }
    const report = await publisher.flush();
    clients.destroy();
    expect(stats.injected).toBeGreaterThan(50);
    expect(report.failed).toEqual([]);
    expect(report.delivered).toBe(1_800);
    const onStream = await readStream(c.clients.kinesis, stream);
    for (const s of symbols) {
      const expected = sent.filter((e) => eventSymbol(e) === s);
      const got = onStream.get(s) ?? [];
      expect(got.length).toBe(expected.length);
      expect(got.map(eventTime)).toEqual(expected.map(eventTime));
      expect(got).toEqual(expected);
    }
  });

  it('a stalled stream keeps memory bounded: the source waits at the buffer bound', async () => {
    const c = cloud();
    const stream = c.env.TICKS_STREAM_NAME!;
    const clients = createAwsClients(c.clientConfig);
    // Every entry of every call fails: nothing moves.
    failSomeEntries(clients.kinesis, () => true);
    const publisher = new KinesisPublisher({
      streamName: stream,
      kinesis: clients.kinesis,
      maxBufferedRecords: 500,
      maxAttempts: 1_000_000,
      baseDelayMs: 5,
      maxDelayMs: 20,
    });
    const abort = new AbortController();
    let pulled = 0;
    const producer = (async () => {
      for await (const e of new SyntheticMarket({ symbols: ['AAA', 'BBB', 'CCC'], seed: 1 }).events(
        abort.signal,
      )) {
        pulled++;
        await publisher.publish(e);
      }
    })();
    const heapBefore = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(publisher.pending).toBe(500);
    expect(pulled).toBe(501);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
    abort.abort();
    // The producer is parked in publish(); it stays parked, by design, until the stream moves.
    void producer;
    clients.destroy();
  });

  it('a stream that does not exist: one call, then every record is reported with the reason, none sent', async () => {
    const c = cloud();
    const publisher = new KinesisPublisher({ streamName: 'no-such-stream', kinesis: c.clients.kinesis });
    // One symbol: one record per call, so without a stop each record would be its own failing call.
    const events: MarketEvent[] = [];
    for await (const e of new SyntheticMarket({ symbols: ['AAPL'], seed: 3, count: 300 }).events()) {
      events.push(e);
      await publisher.publish(e);
    }
    const report = await publisher.flush();
    expect(report.delivered).toBe(0);
    expect(report.calls).toBe(1);
    expect(report.failed.map((f) => f.event)).toEqual(events);
    for (const f of report.failed)
      expect(f.reason).toMatch(/PutRecords failed permanently: ResourceNotFoundException/);

    // Stopped only until the flush: the next run of records is tried again.
    await publisher.publish(events[0]!);
    expect((await publisher.flush()).calls).toBe(1);
  });

  it('a partition key over 256 characters: that record alone is reported, the others of its call go', async () => {
    // AWS (Kinesis API reference, PutRecordsRequestEntry): PartitionKey is 1 to 256 characters. A
    // longer one fails request validation, which refuses the whole PutRecords call.
    const c = cloud();
    const stream = c.env.TICKS_STREAM_NAME!;
    const longKey = 'L'.repeat(257);
    const at = Date.parse('2024-10-02T13:30:00Z');
    const tick = (symbol: string, i: number): MarketEvent => ({
      kind: 'tick',
      tick: { symbol, time: at + i * 1000, price: 100 + i, source: 'synthetic' },
    });
    const reasons: string[] = [];
    const publisher = new KinesisPublisher({
      streamName: stream,
      kinesis: c.clients.kinesis,
      holdSymbolAfterFailure: true,
      onFailed: (f) => reasons.push(`${eventSymbol(f.event)}: ${f.reason}`),
    });
    for (let i = 0; i < 2; i++) {
      await publisher.publish(tick('PKA', i));
      await publisher.publish(tick(longKey, i));
      await publisher.publish(tick('PKB', i));
    }
    const report = await publisher.flush();
    expect(report.failed.map((f) => eventSymbol(f.event))).toEqual([longKey, longKey]);
    expect(reasons).toEqual([
      `${longKey}: partition key is 257 characters; Kinesis accepts 1 to 256`,
      `${longKey}: partition key is 257 characters; Kinesis accepts 1 to 256`,
    ]);
    expect(report.delivered).toBe(4);
    const onStream = await readStream(c.clients.kinesis, stream);
    expect(onStream.get('PKA')?.map(eventTime)).toEqual([at, at + 1000]);
    expect(onStream.get('PKB')?.map(eventTime)).toEqual([at, at + 1000]);
  });

  it('keeps the bar cursor in the market table and never moves it back', async () => {
    const c = cloud();
    const table = c.env.MARKET_TABLE_NAME!;
    const store = new DynamoDbCursorStore({ documents: c.clients.documents, tableName: table, now: () => 1 });
    expect(await store.get('AAPL', 'bars-1m')).toBeUndefined();
    const t1 = Date.parse('2024-10-02T13:59:00Z');
    await store.advance('AAPL', 'bars-1m', t1);
    await store.advance('AAPL', 'bars-1m', t1 - 60_000);
    expect(await store.get('AAPL', 'bars-1m')).toBe(t1);
    const item = await c.clients.documents.send(
      new GetCommand({ TableName: table, Key: cursorKey('AAPL', 'bars-1m') }),
    );
    expect(item.Item).toEqual({
      pk: 'SYMBOL#AAPL',
      sk: 'CURSOR#bars-1m',
      symbol: 'AAPL',
      feed: 'bars-1m',
      lastBarStart: t1,
      lastBarStartIso: '2024-10-02T13:59:00.000Z',
      updatedAt: 1,
    });
  });
});
