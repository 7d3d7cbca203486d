import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** Builds Lambda's Kinesis event shape (as the event source mapping delivers it) for payloads. */
export function kinesisEvent(
  records: readonly { partitionKey: string; payload: string; sequenceNumber: string; arrival?: number }[],
  shardId = 'shardId-000000000000',
  streamArn = 'arn:aws:kinesis:us-east-1:000000000000:stream/tickstream-dev-ticks',
): KinesisStreamEvent {
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: Buffer.from(r.payload).toString('base64'),
          approximateArrivalTimestamp: (r.arrival ?? Date.parse('2024-10-02T20:00:00Z')) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/processor',
        awsRegion: 'us-east-1',
        eventSourceARN: streamArn,
      }),
    ),
  };
}
