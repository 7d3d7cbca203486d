import type { LakeBatch, LakeRecord } from '../../src/ports/processor.ts';

/** A lake batch of one shard holding `records` (first and last sequence numbers from them). */
export function lakeBatchOf(records: readonly LakeRecord[]): LakeBatch {
  return {
    shardId: records[0]!.shardId,
    firstSequenceNumber: records[0]!.sequenceNumber,
    lastSequenceNumber: records.at(-1)!.sequenceNumber,
    records,
  };
}
