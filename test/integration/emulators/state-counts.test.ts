/** What the local cloud counts of a resource's contents (the start-up lines' "— N records"). */
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
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
});
