/**
 * KinesisRangeReader against kinesalite on the template's stream: a range is read with both ends
 * included and nothing beyond, across several GetRecords pages, and a start the shard does not hold
 * is read from what follows and flagged as trimmed.
 */
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { KinesisRangeReader } from '../../../src/adapters/aws/kinesis-range-reader.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

describe('KinesisRangeReader', () => {
  const cloud = useLocalCloud();

  async function putTen() {
    const c = cloud();
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: c.env.TICKS_STREAM_NAME,
        Records: Array.from({ length: 10 }, (_, i) => ({ PartitionKey: 'AAPL', Data: Buffer.from(`r${i}`) })),
      }),
    );
    expect(put.FailedRecordCount).toBe(0);
    return put.Records!.map((r) => ({ shardId: r.ShardId!, seq: r.SequenceNumber! }));
  }

  it('reads start…end, both included, page by page, and stops there', async () => {
    const c = cloud();
    const put = await putTen();
    const reader = new KinesisRangeReader({ kinesis: c.clients.kinesis, limit: 2, callIntervalMs: 0 });
    const range = await reader.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[3]!.seq, put[7]!.seq);
    expect(range.records.map((r) => r.sequenceNumber)).toEqual(put.slice(3, 8).map((p) => p.seq));
    expect(range.records.map((r) => Buffer.from(r.data, 'base64').toString())).toEqual([
      'r3',
      'r4',
      'r5',
      'r6',
      'r7',
    ]);
    expect(range.records.every((r) => r.partitionKey === 'AAPL' && r.shardId === put[0]!.shardId)).toBe(true);
    expect(range).toMatchObject({ trimmed: false, complete: true });
    // The last record of the shard as the end: read up to the tip.
    const last = await reader.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[8]!.seq, put[9]!.seq);
    expect(last.records.map((r) => r.sequenceNumber)).toEqual([put[8]!.seq, put[9]!.seq]);
  });

  it('says a range is not whole when its end record is not read: at the tip, or out of calls', async () => {
    const c = cloud();
    const put = await putTen();
    const beyond = (BigInt(put[9]!.seq) + 1n).toString(); // after the tip: never read
    const reader = new KinesisRangeReader({ kinesis: c.clients.kinesis, callIntervalMs: 0 });
    const tip = await reader.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[8]!.seq, beyond);
    expect(tip).toMatchObject({ complete: false, trimmed: false });
    expect(tip.records).toHaveLength(2);
    const short = new KinesisRangeReader({
      kinesis: c.clients.kinesis,
      callIntervalMs: 0,
      limit: 1,
      maxCalls: 2,
    });
    const cut = await short.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[3]!.seq, put[7]!.seq);
    expect(cut.records.map((r) => r.sequenceNumber)).toEqual([put[3]!.seq, put[4]!.seq]);
    expect(cut.complete).toBe(false);
  });

  it('spaces its calls on a shard by the interval, and sizes them by the records expected', async () => {
    const c = cloud();
    const put = await putTen();
    let now = 1_000_000;
    const sleeps: number[] = [];
    const limits: number[] = [];
    c.clients.kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetRecordsCommand') limits.push((args.input as { Limit: number }).Limit);
        return next(args);
      },
      { step: 'initialize', name: 'recordLimits' },
    );
    try {
      const reader = new KinesisRangeReader({
        kinesis: c.clients.kinesis,
        limit: 1,
        clock: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      });
      await reader.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[0]!.seq, put[2]!.seq);
      expect(sleeps).toEqual([500, 500]); // three calls of one record, 500 ms apart
      const sized = new KinesisRangeReader({ kinesis: c.clients.kinesis, callIntervalMs: 0 });
      await sized.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, put[0]!.seq, put[2]!.seq, 3);
      expect(limits.at(-1)).toBe(14); // 3 × 1.1, rounded up, + 10
    } finally {
      c.clients.kinesis.middlewareStack.remove('recordLimits');
    }
  });

  it('flags a start the shard does not hold and reads what follows it', async () => {
    const c = cloud();
    const put = await putTen();
    const missing = (BigInt(put[2]!.seq) + 1n).toString(); // between two records: never a record
    const reader = new KinesisRangeReader({ kinesis: c.clients.kinesis, callIntervalMs: 0 });
    const range = await reader.read(c.env.TICKS_STREAM_NAME!, put[0]!.shardId, missing, put[5]!.seq);
    expect(range.trimmed).toBe(true);
    expect(range.records.map((r) => r.sequenceNumber)).toEqual(put.slice(3, 6).map((p) => p.seq));
  });
});
