import type { KinesisStreamEvent } from 'aws-lambda';
import {
  decodeMarketEvent,
  eventSymbol,
  eventTime,
  formatIssues,
  type MarketEvent,
} from '../../domain/market/index.ts';
import type { LakeRecord, StreamRecord } from '../../ports/processor.ts';

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

/**
 * A stream record's event, validated as the processor takes it, or the reason it is rejected
 * (payload not base64 or not a valid tick or bar, partition key other than the event's symbol).
 */
export function decodeStreamRecord(record: StreamRecord, now: number): MarketEvent | string {
  let json: string;
  try {
    json = Buffer.from(record.data, 'base64').toString('utf8');
  } catch (err) {
    return `payload is not base64: ${err instanceof Error ? err.message : String(err)}`;
  }
  const decoded = decodeMarketEvent(json, now);
  if (!decoded.ok) return formatIssues(decoded.issues);
  const symbol = eventSymbol(decoded.value);
  if (symbol !== record.partitionKey) {
    // Ordering per symbol relies on partition key = symbol; a mismatched record could be reordered.
    return `partitionKey '${record.partitionKey}' does not match the event's symbol '${symbol}'`;
  }
  return decoded.value;
}

/** The raw zone's line for a record and its validated event. */
export function lakeRecordOf(record: StreamRecord, e: MarketEvent): LakeRecord {
  return {
    symbol: eventSymbol(e),
    time: eventTime(e),
    kind: e.kind,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    arrivalTime: record.arrivalTime,
    event: e.kind === 'tick' ? e.tick : e.bar,
  };
}
