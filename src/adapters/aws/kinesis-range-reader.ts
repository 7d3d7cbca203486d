import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { compareSequenceNumbers } from '../../pipeline/process/sequence.ts';
import type { StreamRange, StreamRangeReader } from '../../ports/dead-letters.ts';
import type { StreamRecord } from '../../ports/processor.ts';

export interface KinesisRangeReaderOptions {
  readonly kinesis: KinesisClient;
  /** Records per GetRecords call (default 1,000; Kinesis allows 10,000). */
  readonly limit?: number;
  /** Pause after a call that returned nothing while the shard still had records behind (default 200 ms: 5 reads/s per shard). */
  readonly emptyReadPauseMs?: number;
  /** GetRecords calls per range at most (default 10,000), so a read always ends. */
  readonly maxCalls?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads a shard's records between two sequence numbers (both included) with GetShardIterator
 * AT_SEQUENCE_NUMBER and GetRecords, until a record beyond the end, the shard's tip or its end. A
 * start past the stream's retention reads from the trim horizon and says so (`trimmed`).
 */
export class KinesisRangeReader implements StreamRangeReader {
  readonly #kinesis: KinesisClient;
  readonly #limit: number;
  readonly #pause: number;
  readonly #maxCalls: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: KinesisRangeReaderOptions) {
    this.#kinesis = options.kinesis;
    this.#limit = options.limit ?? 1000;
    this.#pause = options.emptyReadPauseMs ?? 200;
    this.#maxCalls = options.maxCalls ?? 10_000;
    this.#sleep = options.sleep ?? realSleep;
  }

  async read(streamName: string, shardId: string, start: string, end: string): Promise<StreamRange> {
    let iterator = await this.#iterator(streamName, shardId, start);
    const records: StreamRecord[] = [];
    let ended = false;
    for (let calls = 0; iterator && calls < this.#maxCalls; calls++) {
      const res = await this.#kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#limit }),
      );
      for (const r of res.Records ?? []) {
        const seq = r.SequenceNumber!;
        if (compareSequenceNumbers(seq, end) > 0) return this.#range(records, start, true);
        if (compareSequenceNumbers(seq, start) < 0) continue;
        if (compareSequenceNumbers(seq, end) === 0) ended = true;
        records.push({
          shardId,
          sequenceNumber: seq,
          partitionKey: r.PartitionKey ?? '',
          data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
          arrivalTime: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
        });
      }
      if (ended) return this.#range(records, start, true);
      iterator = res.NextShardIterator;
      if ((res.Records ?? []).length === 0) {
        // At the tip (or a closed shard's end): nothing more will come for the range.
        if ((res.MillisBehindLatest ?? 0) === 0) return this.#range(records, start, true);
        await this.#sleep(this.#pause);
      }
    }
    return this.#range(records, start, iterator === undefined);
  }

  #range(records: StreamRecord[], start: string, complete: boolean): StreamRange {
    return { records, trimmed: records[0]?.sequenceNumber !== start, complete };
  }

  async #iterator(streamName: string, shardId: string, start: string): Promise<string | undefined> {
    try {
      const res = await this.#kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: start,
        }),
      );
      return res.ShardIterator;
    } catch (err) {
      // A sequence number the stream no longer holds: read what is left of the range.
      if (!(err instanceof InvalidArgumentException)) throw err;
      const res = await this.#kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      return res.ShardIterator;
    }
  }
}
