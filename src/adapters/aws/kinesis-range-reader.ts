import { createHash } from 'node:crypto';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { sleep } from '../../pipeline/ingest/backoff.ts';
import { compareSequenceNumbers } from '../../pipeline/process/sequence.ts';
import type { StreamRange, StreamRangeReader, StreamShardMap } from '../../ports/dead-letters.ts';
import type { StreamRecord } from '../../ports/processor.ts';

export interface KinesisRangeReaderOptions {
  readonly kinesis: KinesisClient;
  /**
   * Records per GetRecords call at most (default and Kinesis's maximum 10,000); a read that knows
   * how many records its range holds asks for that many and 10 % more: a shard also serves 2 MB/s
   * to all its readers, and a call returns records past the range's end too.
   */
  readonly limit?: number;
  /**
   * Least time between two GetRecords calls on one shard (default 500 ms): a shard serves 5 reads a
   * second to all its readers, the processor's event source mapping among them.
   */
  readonly callIntervalMs?: number;
  /** GetRecords calls per range at most (default 10,000), so a read always ends. */
  readonly maxCalls?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

/**
 * Reads a shard's records between two sequence numbers (both included) with GetShardIterator
 * AT_SEQUENCE_NUMBER and GetRecords, until a record beyond the end, the shard's tip or its end. A
 * start past the stream's retention reads from the trim horizon and says so (`trimmed`).
 */
export class KinesisRangeReader implements StreamRangeReader {
  readonly #kinesis: KinesisClient;
  readonly #limit: number;
  readonly #interval: number;
  /** When each shard was last read (epoch ms). */
  readonly #lastCall = new Map<string, number>();
  readonly #maxCalls: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #clock: () => number;

  constructor(options: KinesisRangeReaderOptions) {
    this.#kinesis = options.kinesis;
    this.#limit = options.limit ?? 10_000;
    this.#interval = options.callIntervalMs ?? 500;
    this.#maxCalls = options.maxCalls ?? 10_000;
    this.#sleep = options.sleep ?? sleep;
    this.#clock = options.clock ?? Date.now;
  }

  async read(
    streamName: string,
    shardId: string,
    start: string,
    end: string,
    expected?: number,
  ): Promise<StreamRange> {
    const limit =
      expected !== undefined && expected > 0
        ? Math.min(this.#limit, Math.ceil(expected * 1.1) + 10)
        : this.#limit;
    let iterator = await this.#iterator(streamName, shardId, start);
    const records: StreamRecord[] = [];
    for (let calls = 0; iterator && calls < this.#maxCalls; calls++) {
      const wait = (this.#lastCall.get(shardId) ?? 0) + this.#interval - this.#clock();
      if (wait > 0) await this.#sleep(wait);
      this.#lastCall.set(shardId, this.#clock());
      const res = await this.#kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
      for (const r of res.Records ?? []) {
        const seq = r.SequenceNumber!;
        const toEnd = compareSequenceNumbers(seq, end);
        // Past the end without having read it: the end record is not in the shard.
        if (toEnd > 0) return this.#range(records, start, false);
        if (compareSequenceNumbers(seq, start) < 0) continue;
        records.push({
          shardId,
          sequenceNumber: seq,
          partitionKey: r.PartitionKey ?? '',
          data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
          arrivalTime: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
        });
        if (toEnd === 0) return this.#range(records, start, true);
      }
      iterator = res.NextShardIterator;
      if ((res.Records ?? []).length === 0) {
        // At the tip without the end record: nothing more will come (a range that is not whole).
        if ((res.MillisBehindLatest ?? 0) === 0) return this.#range(records, start, false);
      }
    }
    return this.#range(records, start, false);
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
      // A sequence number the stream no longer holds (or never held: Kinesis answers
      // InvalidArgumentException to both): read what is left from the trim horizon, flagged.
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

/** A shard's hash key range, both ends included. */
interface ShardHashRange {
  readonly shardId: string;
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * The shards a partition key maps to (ListShards, read once per stream and run): Kinesis puts a
 * record on the shard whose hash key range holds the MD5 of its partition key, so after a reshard
 * a key's records are on its old shard's parent or children, never elsewhere.
 */
export class KinesisShardMap implements StreamShardMap {
  readonly #kinesis: KinesisClient;
  readonly #streams = new Map<string, Promise<ShardHashRange[]>>();

  constructor(options: { readonly kinesis: KinesisClient }) {
    this.#kinesis = options.kinesis;
  }

  async shardsOf(streamName: string, partitionKey: string): Promise<readonly string[]> {
    let shards = this.#streams.get(streamName);
    if (!shards) {
      shards = this.#list(streamName);
      shards.catch(() => this.#streams.delete(streamName));
      this.#streams.set(streamName, shards);
    }
    const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
    return (await shards).filter((s) => s.start <= hash && hash <= s.end).map((s) => s.shardId);
  }

  async #list(streamName: string): Promise<ShardHashRange[]> {
    const shards: ShardHashRange[] = [];
    let token: string | undefined;
    do {
      const page = await this.#kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }),
      );
      for (const s of page.Shards ?? []) {
        if (!s.ShardId || !s.HashKeyRange?.StartingHashKey || !s.HashKeyRange.EndingHashKey) continue;
        shards.push({
          shardId: s.ShardId,
          start: BigInt(s.HashKeyRange.StartingHashKey),
          end: BigInt(s.HashKeyRange.EndingHashKey),
        });
      }
      token = page.NextToken;
    } while (token);
    return shards;
  }
}
