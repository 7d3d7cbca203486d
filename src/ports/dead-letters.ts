/**
 * The ports the dead-letter review and recovery needs (src/pipeline/recover): the processor's
 * dead-letter queue, the stream read back by sequence range, and which metric rows exist.
 */
import type { StreamRecord } from './processor.ts';

/** A message received from the dead-letter queue, invisible to other readers until released or deleted. */
export interface DeadLetterMessage {
  readonly id: string;
  /** What deletes or releases this receipt of the message. */
  readonly receipt: string;
  readonly body: string;
}

export interface DeadLetterQueue {
  /**
   * Up to `max` messages, each hidden from other readers until released or deleted (however long
   * that takes: an adapter whose messages reappear after a visibility timeout renews it meanwhile);
   * fewer (or none) when the queue has no more visible ones.
   */
  receive(max: number): Promise<DeadLetterMessage[]>;
  delete(messages: readonly DeadLetterMessage[]): Promise<void>;
  /** Makes messages visible again at once (a review that handled nothing leaves the queue as it was). */
  release(messages: readonly DeadLetterMessage[]): Promise<void>;
}

/** The records of one shard between two sequence numbers, as far as the stream still holds them. */
export interface StreamRange {
  readonly records: readonly StreamRecord[];
  /**
   * True when the range's first record is no longer in the stream (past its retention): the
   * records returned start later than asked, and the ones before are gone.
   */
  readonly trimmed: boolean;
  /**
   * True when the record at `end` was read (a given-up range's end is always a record): the range
   * was read to its end. False when the read stopped first (the shard's tip or end, a call budget).
   */
  readonly complete: boolean;
}

export interface StreamRangeReader {
  /**
   * Records of `shardId` with start ≤ sequence number ≤ end, in sequence order. `expected`, the
   * number of records the range is known to hold, sizes the reads.
   */
  read(
    streamName: string,
    shardId: string,
    start: string,
    end: string,
    expected?: number,
  ): Promise<StreamRange>;
}

/**
 * Which shards of a stream a partition key's records were put on: those whose hash key range holds
 * the key's hash (the shard it is on now and, after a reshard, its parents and children the stream
 * still lists).
 */
export interface StreamShardMap {
  shardsOf(streamName: string, partitionKey: string): Promise<readonly string[]>;
}

/** A metric row's identity: (symbol, kind, event time). */
export interface MetricRowKey {
  readonly symbol: string;
  readonly kind: 'bar' | 'tick';
  readonly time: number;
}

export interface MetricRowIndex {
  /** Which of these rows exist, as `metricRowId` strings. */
  existing(keys: readonly MetricRowKey[]): Promise<Set<string>>;
}

/** One string per metric row key, for sets. */
export function metricRowId(key: MetricRowKey): string {
  return `${key.symbol}|${key.kind}|${key.time}`;
}
