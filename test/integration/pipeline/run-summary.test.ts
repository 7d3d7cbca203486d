/**
 * The `--once` summary's `processed` and `discarded`, from a real run of the local pipeline
 * (`runPipeline`, as `npm start -- --once` calls it) on batches the processor partly fails: two
 * symbols on one shard, one of them given unreadable stored state, and a third on another shard,
 * given unreadable state too. Records of one shard arrive interleaved by symbol, and a given-up batch
 * is dead-lettered from its first failure on: only the record before the first failure counts as
 * processed, every other one as discarded. Then the compaction at the run's end, which after a long
 * run (a synthetic market's many days) takes minutes: said on the log before the first day, and
 * each day as it is done.
 */
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, type ListObjectsV2CommandInput, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runPipeline } from '../../../scripts/pipeline/run.ts';
import type { MarketEvent } from '../../../src/domain/market/index.ts';
import type { MarketSource } from '../../../src/ports/market-source.ts';
import { storeUnreadableState, useLocalCloud } from '../../support/local-cloud.ts';
import { sessionBar } from '../../support/samples.ts';

function bar(symbol: string, minute: number, close: number): MarketEvent {
  return { kind: 'bar', bar: sessionBar(symbol, minute, close) };
}

/** The shard (of `shards`, evenly split) Kinesis puts a partition key on. */
function shardOf(key: string, shards: number): number {
  const hash = BigInt(`0x${createHash('md5').update(key).digest('hex')}`);
  return Number((hash * BigInt(shards)) >> 128n);
}

function feed(events: readonly MarketEvent[]): MarketSource {
  return {
    name: 'test feed',
    async *events() {
      yield* events;
    },
    issues: () => [],
  };
}

describe('runPipeline: the summary counts of batches the processor partly fails, then the compaction', () => {
  const cloud = useLocalCloud();
  /** `npm start -- --once` on these events. */
  const runOnce = (events: readonly MarketEvent[], log: (line: string) => void = () => {}) =>
    runPipeline({
      cloud: cloud(),
      feeds: [feed(events)],
      once: true,
      signal: new AbortController().signal,
      log,
    });
  const console0 = { ...console };
  afterEach(() => {
    // runPipeline routes the functions' console output to the state directory's log file.
    Object.assign(console, console0);
  });

  it('counts as processed only the records before the first failure, the rest of each given-up batch as discarded', async () => {
    const c = cloud();
    const shards = Object.values(c.resources.streams)[0]!.shardIds.length;
    // The precondition: AAPL and MSFT share a shard, SPY is on another.
    expect(shardOf('AAPL', shards)).toBe(shardOf('MSFT', shards));
    expect(shardOf('SPY', shards)).not.toBe(shardOf('AAPL', shards));
    await storeUnreadableState(c, 'MSFT');
    await storeUnreadableState(c, 'SPY');
    // AAPL first, then MSFT and AAPL interleaved on their shard; SPY on its own: 25 records.
    const events = [
      ...Array.from({ length: 9 }, (_, m) => [bar('AAPL', m, 226 + m), bar('MSFT', m, 417 + m)]).flat(),
      ...Array.from({ length: 7 }, (_, m) => bar('SPY', m, 570 + m)),
    ];
    expect(events).toHaveLength(25);

    const summary = await runOnce(events);
    expect(summary).toMatchObject({
      ticksIn: 25,
      recordsPut: 25,
      processed: 1,
      discarded: 24,
      rejected: 0,
      interrupted: false,
    });
    // AAPL's rows were all written, those of its records after the first MSFT one too, yet those
    // records count as discarded: their batch was given up from its first failure on.
    expect(summary.dynamodbMetricRows).toBe(9);
    // One dead-letter message per given-up batch: one at least per shard (how the records were
    // batched depends on when they arrived).
    expect(summary.dlq).toBeGreaterThanOrEqual(2);
  });

  it('says how many days it compacts before the first, then each day as it is done', async () => {
    // Two sessions, 2024-10-02 and 2024-10-03, of a symbol the other run did not feed.
    const events = [0, 24 * 60].flatMap((day) => [0, 1, 2].map((m) => bar('NVDA', day + m, 120 + m)));
    const lines: string[] = [];
    const summary = await runOnce(events, (line) => lines.push(line));
    expect(summary.compactedDays).toEqual(['2024-10-02', '2024-10-03']);
    expect(lines.filter((l) => l.startsWith('compact'))).toEqual([
      'compacting the 2 day(s) the run wrote into the Parquet zone…',
      expect.stringMatching(/^compacted 2024-10-02: \d+ events /),
      expect.stringMatching(/^compacted 2024-10-03: 3 events /),
    ]);
  });

  it('counts the raw objects the run wrote however long the lake takes to list', async () => {
    const c = cloud();
    const bucket = c.env.LAKE_BUCKET_NAME!;
    // A lake kept from earlier runs: 40 objects of older days, written well before this run.
    for (let i = 0; i < 40; i++) {
      await c.clients.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `raw/dt=2020-01-02/shard=old/${i}.ndjson.gz`,
          Body: 'x',
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 2_100)); // s3rver's LastModified is to the second
    // A lake that lists slowly (a long-kept one of tens of thousands of objects takes tens of
    // seconds): pages of 10 keys, each 4 s of the clock.
    let skew = 0;
    const now = Date.now.bind(Date);
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now() + skew);
    c.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ListObjectsV2Command') return next(args);
        skew += 4_000;
        return next({ ...args, input: { ...(args.input as ListObjectsV2CommandInput), MaxKeys: 10 } });
      },
      { step: 'initialize', name: 'slowLakeListing' },
    );
    try {
      // A session of its own (2024-10-04) of a symbol the other runs did not feed.
      const events = [0, 1, 2].map((m) => bar('AMZN', 2 * 24 * 60 + m, 186 + m));
      const summary = await runOnce(events);
      c.clients.s3.middlewareStack.remove('slowLakeListing');
      const written = await c.clients.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'raw/dt=2024-10-04/' }),
      );
      expect(written.KeyCount).toBeGreaterThan(0);
      expect(summary.lakeObjects).toBe(written.KeyCount);
      expect(summary.compactedDays).toEqual(['2024-10-04']);
    } finally {
      c.clients.s3.middlewareStack.remove('slowLakeListing');
      clock.mockRestore();
    }
  });
});
