import type { KinesisStreamEvent } from 'aws-lambda';
import type { StreamRecord } from './process-batch.ts';

/** Lambda's Kinesis event → the pipeline's records (the shard id is the eventID's prefix). */
export function toStreamRecords(event: KinesisStreamEvent): StreamRecord[] {
  return event.Records.map((r) => {
    const colon = r.eventID.indexOf(':');
    if (colon <= 0) throw new Error(`Kinesis eventID "${r.eventID}" has no "shardId:sequenceNumber" form`);
    return {
      shardId: r.eventID.slice(0, colon),
      sequenceNumber: r.kinesis.sequenceNumber,
      partitionKey: r.kinesis.partitionKey,
      data: r.kinesis.data,
      arrivalTime: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
    };
  });
}
