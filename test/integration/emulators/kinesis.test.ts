import { createHash } from 'node:crypto';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { useLocalCloud } from '../../support/local-cloud.ts';

// Kinesis through the project's client factory against kinesalite, on the template's ticks stream.
const cloud = useLocalCloud();

const SYMBOLS = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'IWM', 'DIA', 'JPM'];

/** Kinesis maps a partition key to a 128-bit hash key: MD5 of the key's UTF-8 bytes, big-endian. */
const hashKeyOf = (partitionKey: string) =>
  BigInt(`0x${createHash('md5').update(partitionKey).digest('hex')}`);

async function readShard(streamName: string, shardId: string) {
  const c = cloud().clients.kinesis;
  let it = (
    await c.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    )
  ).ShardIterator;
  const out: { seq: bigint; key: string; data: string }[] = [];
  while (it) {
    const page = await c.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
    for (const r of page.Records ?? [])
      out.push({
        seq: BigInt(r.SequenceNumber!),
        key: r.PartitionKey!,
        data: Buffer.from(r.Data!).toString('utf8'),
      });
    if (!page.Records?.length || page.MillisBehindLatest === 0) break;
    it = page.NextShardIterator;
  }
  return out;
}

describe('Kinesis (kinesalite) through createAwsClients', () => {
  it('reads records back per shard in sequence order, each partition key in put order, on the shard its hash key selects', async () => {
    const streamName = cloud().env.TICKS_STREAM_NAME!;
    const c = cloud().clients.kinesis;
    // 5 rounds over 12 symbols, sent in PutRecords batches of 20 (batch order = per-key order).
    const sent: { key: string; data: string }[] = [];
    for (let round = 0; round < 5; round++)
      for (const s of SYMBOLS) sent.push({ key: s, data: JSON.stringify({ symbol: s, n: round }) });
    for (let i = 0; i < sent.length; i += 20) {
      const batch = sent.slice(i, i + 20);
      const res = await c.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: batch.map((r) => ({ PartitionKey: r.key, Data: Buffer.from(r.data) })),
        }),
      );
      expect(res.FailedRecordCount ?? 0).toBe(0);
    }

    const shards: Shard[] = (await c.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
    expect(shards.map((s) => s.ShardId)).toEqual(cloud().resources.streams.TicksStream!.shardIds);
    const read = new Map<string, { seq: bigint; key: string; data: string }[]>();
    for (const s of shards) read.set(s.ShardId!, await readShard(streamName, s.ShardId!));

    // Every record back exactly once.
    const all = [...read.values()].flat();
    expect(all.map((r) => r.data).sort()).toEqual(sent.map((r) => r.data).sort());
    // The keys spread over more than one shard, so ordering is checked per shard, not globally.
    expect([...read.values()].filter((rs) => rs.length > 0).length).toBeGreaterThan(1);

    for (const shard of shards) {
      const records = read.get(shard.ShardId!)!;
      // Strictly increasing sequence numbers within the shard.
      for (let i = 1; i < records.length; i++) expect(records[i]!.seq > records[i - 1]!.seq).toBe(true);
      // Each record sits on the shard whose hash-key range holds MD5(partition key).
      const lo = BigInt(shard.HashKeyRange!.StartingHashKey!);
      const hi = BigInt(shard.HashKeyRange!.EndingHashKey!);
      for (const r of records) {
        const h = hashKeyOf(r.key);
        expect(h >= lo && h <= hi).toBe(true);
      }
    }
    // Per partition key, the records come back in the order they were put.
    for (const s of SYMBOLS) {
      const got = all.filter((r) => r.key === s).sort((a, b) => (a.seq < b.seq ? -1 : 1));
      expect(got.map((r) => r.data)).toEqual(sent.filter((r) => r.key === s).map((r) => r.data));
    }
  });

  it('orders single PutRecord calls of one key by SequenceNumberForOrdering', async () => {
    const streamName = cloud().env.TICKS_STREAM_NAME!;
    const c = cloud().clients.kinesis;
    let previous: string | undefined;
    const seqs: bigint[] = [];
    let shardId: string | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await c.send(
        new PutRecordCommand({
          StreamName: streamName,
          PartitionKey: 'ORDERED',
          Data: Buffer.from(`tick-${i}`),
          ...(previous ? { SequenceNumberForOrdering: previous } : {}),
        }),
      );
      previous = res.SequenceNumber!;
      seqs.push(BigInt(previous));
      shardId ??= res.ShardId;
      expect(res.ShardId).toBe(shardId);
    }
    const back = (await readShard(streamName, shardId!)).filter((r) => r.key === 'ORDERED');
    expect(back.map((r) => r.data)).toEqual(['tick-0', 'tick-1', 'tick-2', 'tick-3', 'tick-4']);
    expect(back.map((r) => r.seq)).toEqual(seqs);
  });
});
