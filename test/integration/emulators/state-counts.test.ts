/** What the local cloud counts of a resource's contents (the start-up lines' "— N records"). */
import { CreateStreamCommand, ListShardsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { countStreamRecords } from '../../../scripts/local/provision.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();

describe('countStreamRecords', () => {
  it('counts every record of a shard that holds more than one GetRecords page (10,000)', async () => {
    const stream = cloud().resources.streams.TicksStream!;
    const total = 10_250;
    for (let i = 0; i < total; i += 500) {
      const n = Math.min(500, total - i);
      const out = await cloud().clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: stream.name,
          // One partition key: every record in one shard.
          Records: Array.from({ length: n }, (_, j) => ({
            PartitionKey: 'AAPL',
            Data: Buffer.from(`${i + j}`),
          })),
        }),
      );
      expect(out.FailedRecordCount ?? 0).toBe(0);
    }
    expect(await countStreamRecords(cloud().clients, stream, { deadline: Date.now() + 60_000 })).toEqual({
      count: total,
      complete: true,
    });
  });

  it('reports a count complete when every shard was read to its tip, even past the deadline', async () => {
    // The deadline was checked after every page, the tip's empty one included: a count that had
    // read every shard to its end, but finished after the deadline (the start-up's 1.5 s, on a
    // loaded machine), was reported as a lower bound ("complete: false") although it was exact.
    const name = 'tickstream-test-count-empty';
    await cloud().clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 3 }));
    const shards = await cloud().clients.kinesis.send(new ListShardsCommand({ StreamName: name }));
    const stream = {
      logicalId: 'Empty',
      name,
      arn: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`,
      mode: 'PROVISIONED' as const,
      shardIds: (shards.Shards ?? []).map((s) => s.ShardId!),
      retentionHours: 24,
      existed: false,
    };
    expect(stream.shardIds).toHaveLength(3);
    // A deadline already passed: the only way the count can end in time is to read nothing more
    // than the shards' tips, which it must still read (an unread shard would be an unknown count).
    expect(await countStreamRecords(cloud().clients, stream, { deadline: Date.now() - 1 })).toEqual({
      count: 0,
      complete: true,
    });
  });
});
