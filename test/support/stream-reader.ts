import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { type Bar, decodeMarketEvent, type Tick } from '../../src/domain/market/index.ts';

export interface StreamRecord {
  readonly partitionKey: string;
  readonly event: { kind: 'tick'; tick: Tick } | { kind: 'bar'; bar: Bar };
}

/** Reads a stream with GetRecords from TRIM_HORIZON; each `readNew()` returns what arrived since the last. */
export class StreamReader {
  private iterators: Map<string, string | undefined> | undefined;
  private readonly kinesis: KinesisClient;
  private readonly stream: string;

  constructor(kinesis: KinesisClient, stream: string) {
    this.kinesis = kinesis;
    this.stream = stream;
  }

  async readNew(): Promise<StreamRecord[]> {
    if (!this.iterators) {
      this.iterators = new Map();
      const shards =
        (await this.kinesis.send(new ListShardsCommand({ StreamName: this.stream }))).Shards ?? [];
      for (const s of shards) {
        const it = await this.kinesis.send(
          new GetShardIteratorCommand({
            StreamName: this.stream,
            ShardId: s.ShardId!,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        this.iterators.set(s.ShardId!, it.ShardIterator);
      }
    }
    const out: StreamRecord[] = [];
    for (const [shard, start] of this.iterators) {
      let it = start;
      while (it) {
        const r = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        it = r.NextShardIterator;
        const records = r.Records ?? [];
        for (const rec of records) {
          const d = decodeMarketEvent(new TextDecoder().decode(rec.Data), Number.POSITIVE_INFINITY);
          if (!d.ok) throw new Error(`undecodable record on the stream: ${JSON.stringify(d.issues)}`);
          out.push({ partitionKey: rec.PartitionKey!, event: d.value as StreamRecord['event'] });
        }
        if (records.length === 0) break;
      }
      this.iterators.set(shard, it);
    }
    return out;
  }
}
