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
