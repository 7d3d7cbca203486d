/**
 * processTicks on the local event source mapping at the prod stage's ParallelizationFactor (2), on
 * the emulators: two symbols in different lanes, processed by concurrent invocations of the real
 * handler, each in an execution environment of its own, are stored exactly as one lane would store
 * them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { type BatchOutcome, laneOf } from '../../../scripts/pipeline/event-source-mapping.ts';
import { startLocalPipeline } from '../../../scripts/pipeline/local-pipeline.ts';
import { countMetricRows } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { stateKey } from '../../../src/adapters/aws/market-table.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { captureJsonLines } from '../../support/json-output.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const cloud = useLocalCloud({ stage: 'prod' });
const PER_SYMBOL = 60;

describe('processTicks on the local event source mapping with ParallelizationFactor 2 (prod)', () => {
  it("stores every symbol's rows and state once, each lane in its own concurrent batches", async () => {
    const c = cloud();
    const [a, b] = ['AAPL', 'NVDA'];
    expect([laneOf(a!, 2), laneOf(b!, 2)]).toEqual([0, 1]);
    // The two symbols' bars interleaved on one shard (the prod stream has more than one).
    const barsA = aaplSampleBars(a).slice(0, PER_SYMBOL);
    const barsB = aaplSampleBars(b).slice(0, PER_SYMBOL);
    const entries = barsA.flatMap((bar, i) =>
      [bar, barsB[i]!].map((x) => ({
        PartitionKey: x.symbol,
        ExplicitHashKey: '0',
        Data: Buffer.from(encodeMarketEvent({ kind: 'bar', bar: x })),
      })),
    );
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: c.env.TICKS_STREAM_NAME!, Records: entries }),
    );
    expect(put.FailedRecordCount ?? 0).toBe(0);
    const sequenceNumbers = put.Records!.map((r) => r.SequenceNumber!);
    const shardId = put.Records![0]!.ShardId!;
    expect(new Set(put.Records!.map((r) => r.ShardId))).toEqual(new Set([shardId]));
    const lastOf = (symbol: string) =>
      sequenceNumbers.filter((_, i) => entries[i]!.PartitionKey === symbol).at(-1);

    const outcomes: BatchOutcome[] = [];
    const log: string[] = [];
    const { result: pipeline, lines } = await captureJsonLines(async () => {
      // Batches of 20 (reads of up to 40): several reads, each lane with batches of its own.
      const p = await startLocalPipeline({
        cloud: c,
        overrides: { batchSize: 20, batchingWindowSeconds: 0 },
        log: (line) => log.push(line),
        onBatch: (o) => outcomes.push(o),
      });
      try {
        await p.idle();
      } finally {
        await p.stop();
      }
      return p;
    });
    expect(pipeline.mappings[0]!.parallelizationFactor).toBe(2);

    expect(outcomes.map((o) => o.status).every((s) => s === 'ok')).toBe(true);
    expect(outcomes.every((o) => o.size <= 20)).toBe(true);
    expect(outcomes.reduce((n, o) => n + o.succeeded, 0)).toBe(2 * PER_SYMBOL);
    const table = c.env.MARKET_TABLE_NAME!;
    for (const symbol of [a!, b!]) {
      expect(await countMetricRows(c.clients.documents, table, symbol, 'bar')).toBe(PER_SYMBOL);
      const state = await c.clients.documents.send(
        new GetCommand({ TableName: table, Key: stateKey(symbol), ConsistentRead: true }),
      );
      expect(state.Item?.lastSequenceNumber, symbol).toBe(lastOf(symbol));
    }
    // EMF totals: each batch's counts once, in the flush of the environment that ran it.
    const sum = (name: string) =>
      lines
        .filter((e) => '_aws' in e)
        .flatMap((e) => [e[name] ?? []].flat() as number[])
        .reduce((n, v) => n + v, 0);
    expect(sum('RecordsReceived')).toBe(2 * PER_SYMBOL);
    expect(sum('RecordsProcessed')).toBe(2 * PER_SYMBOL);
    expect(sum('RecordsDuplicate')).toBe(0);
    // Two invocations of the one shard ran at the same time (one lane's, the other's), in two
    // execution environments: the second is created only when the first is busy (at most two
    // invocations overlap), each reporting its own cold start, as on Lambda.
    expect(log.filter((l) => l.includes('cold start'))).toEqual([
      expect.stringMatching(/^tickstream-prod-\w+: cold start of environment 2$/),
    ]);
    expect(sum('ColdStart')).toBe(2);
    expect(lines.filter((e) => e.message === 'batch processed' && e.cold_start === true)).toHaveLength(2);

    const checkpoints = JSON.parse(
      readFileSync(join(c.state.dir, `checkpoints-${pipeline.mappings[0]!.logicalId}.json`), 'utf8'),
    ) as Record<string, string>;
    expect(checkpoints).toEqual({ [shardId]: sequenceNumbers.at(-1) });
  });

  it("delivers a lane's batches of one read one after the other, in sequence order", async () => {
    const c = cloud();
    // One symbol, so one lane: a read of 40 (batchSize × factor) is two of its batches. Were they
    // sent out of order or at once, the later batch's state would pass the earlier's records, which
    // the processor then skips as already processed: rows lost.
    const symbol = 'MSFT';
    const entries = aaplSampleBars(symbol)
      .slice(0, PER_SYMBOL)
      .map((x) => ({
        PartitionKey: symbol,
        ExplicitHashKey: '0',
        Data: Buffer.from(encodeMarketEvent({ kind: 'bar', bar: x })),
      }));
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: c.env.TICKS_STREAM_NAME!, Records: entries }),
    );
    expect(put.FailedRecordCount ?? 0).toBe(0);

    const outcomes: BatchOutcome[] = [];
    const { lines } = await captureJsonLines(async () => {
      const p = await startLocalPipeline({
        cloud: c,
        overrides: { batchSize: 20, batchingWindowSeconds: 0 },
        onBatch: (o) => outcomes.push(o),
      });
      try {
        await p.idle();
      } finally {
        await p.stop();
      }
    });
    // The premise: a lane with more than one batch of a read (reads of 40: 20 + 20, then 20).
    expect(outcomes.map((o) => [o.status, o.size])).toEqual([
      ['ok', 20],
      ['ok', 20],
      ['ok', 20],
    ]);
    const table = c.env.MARKET_TABLE_NAME!;
    expect(await countMetricRows(c.clients.documents, table, symbol, 'bar')).toBe(PER_SYMBOL);
    const state = await c.clients.documents.send(
      new GetCommand({ TableName: table, Key: stateKey(symbol), ConsistentRead: true }),
    );
    expect(state.Item?.lastSequenceNumber).toBe(put.Records!.at(-1)!.SequenceNumber);
    const duplicates = lines
      .filter((e) => '_aws' in e)
      .flatMap((e) => [e.RecordsDuplicate ?? []].flat() as number[]);
    expect(duplicates.reduce((n, v) => n + v, 0)).toBe(0);
  });
});
