/**
 * The local event source mapping's batch outcomes, which `npm start --once` adds up as `processed`
 * and `discarded`: each record counts once as completed or as given up, never both, and the records
 * a partially failed batch completed are counted.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  type BatchOutcome,
  KinesisEventSourcePoller,
} from '../../../scripts/pipeline/event-source-mapping.ts';

const records: KinesisRecord[] = [1, 2, 3, 4, 5].map((n) => ({
  SequenceNumber: String(n),
  PartitionKey: 'AAA',
  Data: Buffer.from(`record ${n}`),
  ApproximateArrivalTimestamp: new Date(),
}));

/** One shard holding `records`; an iterator starts after the sequence number it names. */
function oneShard() {
  const kinesis = mockClient(KinesisClient);
  kinesis.on(ListShardsCommand).resolves({
    Shards: [{ ShardId: 'shard-0', HashKeyRange: undefined, SequenceNumberRange: undefined }],
  });
  kinesis
    .on(GetShardIteratorCommand)
    .callsFake((input) => ({ ShardIterator: `after:${input.StartingSequenceNumber ?? 0}` }));
  kinesis.on(GetRecordsCommand).callsFake((input) => {
    const after = Number(String(input.ShardIterator).slice('after:'.length));
    return {
      Records: records.filter((r) => Number(r.SequenceNumber) > after),
      NextShardIterator: `after:${records.length}`,
      MillisBehindLatest: 0,
    };
  });
  return kinesis;
}

describe('local event source mapping: batch outcomes', () => {
  it('counts the records before the first reported failure as completed, and the records given up as discarded', async () => {
    const kinesis = oneShard();
    const outcomes: BatchOutcome[] = [];
    const invocations: string[][] = [];
    const checkpoints = new Map<string, string>();
    const poller = new KinesisEventSourcePoller({
      kinesis: kinesis as unknown as KinesisClient,
      settings: {
        streamName: 's',
        streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        batchSize: 10,
        batchingWindowSeconds: 0,
        startingPosition: 'TRIM_HORIZON',
        bisectOnError: false,
        maxRetryAttempts: 1,
        maxRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        region: 'us-east-1',
      },
      // First invocation: records 1 and 2 done, 3 reported failed; from then on the handler throws.
      handler: async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
        invocations.push(event.Records.map((r) => r.kinesis.sequenceNumber));
        if (invocations.length === 1) return { batchItemFailures: [{ itemIdentifier: '3' }] };
        throw new Error('boom');
      },
      checkpoints: {
        get: (shard) => checkpoints.get(shard),
        set: (shard, seq) => void checkpoints.set(shard, seq),
      },
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await poller.start();
    await poller.idle();
    await poller.stop();

    expect(invocations).toEqual([
      ['1', '2', '3', '4', '5'],
      ['3', '4', '5'],
    ]);
    expect(outcomes.map((o) => [o.status, o.size, o.succeeded])).toEqual([
      ['partial', 5, 2],
      ['error', 3, 0],
      ['discarded', 3, 0],
    ]);
    const completed = outcomes.reduce((n, o) => n + o.succeeded, 0);
    const discarded = outcomes.filter((o) => o.status === 'discarded').reduce((n, o) => n + o.size, 0);
    expect(completed + discarded).toBe(records.length);
    expect(checkpoints.get('shard-0')).toBe('5');
  });
});
