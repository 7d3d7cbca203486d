/**
 * The local event source mapping's batch outcomes, which `npm start --once` adds up as `processed`
 * and `discarded`: each record counts once as completed or as given up, never both, and the records
 * a partially failed batch completed are counted. And its parallelization factor: concurrent lanes
 * per shard by partition key, each symbol in order, a failing lane not holding back the others, and
 * a checkpoint that never passes a record some lane has not finished.
 */
import { getEventListeners } from 'node:events';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import {
  type BatchOutcome,
  type CheckpointStore,
  type EventSourceMappingSettings,
  KinesisEventSourcePoller,
  laneOf,
} from '../../../scripts/pipeline/event-source-mapping.ts';

const records: KinesisRecord[] = [1, 2, 3, 4, 5].map((n) => ({
  SequenceNumber: String(n),
  PartitionKey: 'AAA',
  Data: Buffer.from(`record ${n}`),
  ApproximateArrivalTimestamp: new Date(),
}));

describe('local event source mapping: batch outcomes', () => {
  it('counts the records before the first reported failure as completed, and the records given up as discarded', async () => {
    const { client } = shardOf(records);
    const outcomes: BatchOutcome[] = [];
    const invocations: string[][] = [];
    const checkpoints = new Map<string, string>();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: {
        streamName: 's',
        streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        batchSize: 10,
        batchingWindowSeconds: 0,
        startingPosition: 'TRIM_HORIZON',
        bisectOnError: false,
        maxRetryAttempts: 1,
        maxRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        region: 'us-east-1',
      },
      // First invocation: records 1 and 2 done, 3 reported failed; from then on the handler throws.
      handler: async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
        invocations.push(event.Records.map((r) => r.kinesis.sequenceNumber));
        if (invocations.length === 1) return { batchItemFailures: [{ itemIdentifier: '3' }] };
        throw new Error('boom');
      },
      checkpoints: {
        get: (shard) => checkpoints.get(shard),
        set: (shard, seq) => void checkpoints.set(shard, seq),
      },
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await poller.start();
    await poller.idle();
    await poller.stop();

    expect(invocations).toEqual([
      ['1', '2', '3', '4', '5'],
      ['3', '4', '5'],
    ]);
    expect(outcomes.map((o) => [o.status, o.size, o.succeeded])).toEqual([
      ['partial', 5, 2],
      ['error', 3, 0],
      ['discarded', 3, 0],
    ]);
    const completed = outcomes.reduce((n, o) => n + o.succeeded, 0);
    const discarded = outcomes.filter((o) => o.status === 'discarded').reduce((n, o) => n + o.size, 0);
    expect(completed + discarded).toBe(records.length);
    expect(checkpoints.get('shard-0')).toBe('5');
  });
});

// --- Parallelization factor -------------------------------------------------------------------

const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'SPY', 'BTC-USD'];
/** Two symbols in different lanes at factor 2. */
const A = SYMBOLS.find((s) => laneOf(s, 2) === 0)!;
const B = SYMBOLS.find((s) => laneOf(s, 2) === 1)!;

const settings = (overrides: Partial<EventSourceMappingSettings>): EventSourceMappingSettings => ({
  streamName: 's',
  streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
  functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
  batchSize: 2,
  batchingWindowSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  bisectOnError: false,
  maxRetryAttempts: -1,
  maxRecordAgeSeconds: -1,
  reportBatchItemFailures: true,
  region: 'us-east-1',
  ...overrides,
});

/** Records 1…n of one shard, with these partition keys. */
function streamOf(keys: readonly string[]): KinesisRecord[] {
  return keys.map((key, i) => ({
    SequenceNumber: String(i + 1),
    PartitionKey: key,
    Data: Buffer.from(`record ${i + 1}`),
    ApproximateArrivalTimestamp: new Date(),
  }));
}

/**
 * A client reading one shard holding `stream`, honouring GetRecords' Limit (and at most `perRead`
 * records a call); the Limits asked are kept. The `failRead`-th GetRecords call fails (each of them,
 * given several). LATEST is the position after the records there when the iterator is asked for;
 * AT_SEQUENCE_NUMBER the position before that record, AFTER_SEQUENCE_NUMBER the one after it.
 */
function shardOf(
  stream: readonly KinesisRecord[],
  o: { perRead?: number; failRead?: number | readonly number[] } = {},
) {
  const client = new KinesisClient({ region: 'us-east-1' });
  const limits: number[] = [];
  const kinesis = mockClient(client);
  kinesis.on(ListShardsCommand).resolves({
    Shards: [{ ShardId: 'shard-0', HashKeyRange: undefined, SequenceNumberRange: undefined }],
  });
  kinesis.on(GetShardIteratorCommand).callsFake((input) => {
    const position: Record<string, number> = {
      LATEST: stream.length,
      TRIM_HORIZON: 0,
      AT_SEQUENCE_NUMBER: Number(input.StartingSequenceNumber) - 1,
      AFTER_SEQUENCE_NUMBER: Number(input.StartingSequenceNumber),
    };
    const after = position[input.ShardIteratorType];
    if (after === undefined || Number.isNaN(after))
      throw new Error(`unexpected iterator ${JSON.stringify(input)}`);
    return { ShardIterator: `after:${after}` };
  });
  kinesis.on(GetRecordsCommand).callsFake((input) => {
    const after = Number(String(input.ShardIterator).slice('after:'.length));
    limits.push(input.Limit);
    if ([o.failRead].flat().includes(limits.length)) throw new Error('Rate exceeded for shard shard-0');
    const out = stream
      .filter((r) => Number(r.SequenceNumber) > after)
      .slice(0, Math.min(input.Limit, o.perRead ?? Number.POSITIVE_INFINITY));
    const next = out.length > 0 ? Number(out[out.length - 1]!.SequenceNumber) : after;
    const behind = stream.some((r) => Number(r.SequenceNumber) > next);
    return { Records: out, NextShardIterator: `after:${next}`, MillisBehindLatest: behind ? 1000 : 0 };
  });
  return { client, limits };
}

function memoryCheckpoints(onSet?: (sequenceNumber: string) => void): CheckpointStore & {
  readonly positions: Map<string, string>;
} {
  const positions = new Map<string, string>();
  return {
    positions,
    get: (shard) => positions.get(shard),
    set: (shard, seq) => {
      onSet?.(seq);
      positions.set(shard, seq);
    },
  };
}

/** Counts handler invocations running at once: wrap each invocation's work in `track`. */
function concurrency() {
  let now = 0;
  let max = 0;
  return {
    get max() {
      return max;
    },
    async track<T>(work: () => Promise<T>): Promise<T> {
      max = Math.max(max, ++now);
      try {
        return await work();
      } finally {
        now--;
      }
    },
  };
}

const keysOf = (event: KinesisStreamEvent) => event.Records.map((r) => r.kinesis.partitionKey);
const seqsOf = (event: KinesisStreamEvent) => event.Records.map((r) => r.kinesis.sequenceNumber);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(2);
  }
}

async function runToIdle(poller: KinesisEventSourcePoller) {
  await poller.start();
  try {
    await poller.idle();
  } finally {
    await poller.stop();
  }
}

describe('local event source mapping: parallelization factor', () => {
  it('picks two symbols in different lanes (stable lanes in 0 … factor − 1)', () => {
    expect([laneOf(A, 2), laneOf(B, 2)]).toEqual([0, 1]);
    for (const s of SYMBOLS) {
      expect(laneOf(s, 1)).toBe(0);
      expect(laneOf(s, 3)).toBe(laneOf(s, 3));
      expect(laneOf(s, 3)).toBeGreaterThanOrEqual(0);
      expect(laneOf(s, 3)).toBeLessThan(3);
    }
  });

  it("invokes the lanes concurrently: lane A's batch is still running when lane B's is invoked", async () => {
    const { client } = shardOf(streamOf([A, B, A, B]));
    let bInvoked!: () => void;
    const bStarted = new Promise<void>((resolve) => {
      bInvoked = resolve;
    });
    const events: string[][] = [];
    const running = concurrency();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2 }),
      handler: (event) =>
        running.track(async () => {
          events.push(seqsOf(event));
          if (keysOf(event).includes(B)) bInvoked();
          // Lane A blocks until lane B's batch has been invoked (or gives up after a second).
          if (keysOf(event).includes(A)) await Promise.race([bStarted, pause(1000)]);
          return { batchItemFailures: [] };
        }),
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(running.max).toBe(2);
    // One read of batchSize × factor records, one batch per lane.
    expect(events).toEqual([
      ['1', '3'],
      ['2', '4'],
    ]);
  });

  it("keeps each symbol's records in sequence order, each batch of one lane and at most batchSize records", async () => {
    // 60 records of the five symbols in a scrambled order; 3 lanes; every 7th record fails once.
    let x = 7;
    const keys = Array.from({ length: 60 }, () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return SYMBOLS[x % SYMBOLS.length]!;
    });
    const stream = streamOf(keys);
    const { client, limits } = shardOf(stream);
    const completed = new Map<string, string[]>();
    const failedOnce = new Set<string>();
    const events: KinesisStreamEvent[] = [];
    const outcomes: BatchOutcome[] = [];
    const running = concurrency();
    let duplicates = 0;
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 3, batchSize: 3 }),
      handler: (event) =>
        running.track(async (): Promise<KinesisStreamBatchResponse> => {
          events.push(event);
          for (const r of event.Records) {
            await pause(Number(r.kinesis.sequenceNumber) % 3);
            const { partitionKey: key, sequenceNumber: seq } = r.kinesis;
            const done = completed.get(key) ?? [];
            if (done.includes(seq)) {
              duplicates++;
              continue;
            }
            if (Number(seq) % 7 === 0 && !failedOnce.has(seq)) {
              failedOnce.add(seq);
              return { batchItemFailures: [{ itemIdentifier: seq }] };
            }
            completed.set(key, [...done, seq]);
          }
          return { batchItemFailures: [] };
        }),
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await runToIdle(poller);

    // Per symbol: every record completed once, in sequence order.
    for (const s of SYMBOLS) {
      const expected = stream.filter((r) => r.PartitionKey === s).map((r) => r.SequenceNumber!);
      expect(completed.get(s) ?? [], s).toEqual(expected);
    }
    expect(duplicates).toBe(0);
    for (const e of events) {
      expect(e.Records.length).toBeGreaterThan(0);
      expect(e.Records.length).toBeLessThanOrEqual(3);
      expect(new Set(keysOf(e).map((k) => laneOf(k, 3))).size).toBe(1);
      const seqs = seqsOf(e).map(Number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(running.max).toBeGreaterThan(1);
    expect(Math.max(...limits)).toBe(9); // a read takes up to batchSize × factor records
    expect(outcomes.reduce((n, o) => n + o.succeeded, 0)).toBe(stream.length);
    expect(outcomes.some((o) => o.status === 'discarded')).toBe(false);
    expect(checkpoints.positions.get('shard-0')).toBe('60');
  });

  it("does not hold back a lane's records while the other lane's batches keep failing", async () => {
    const stream = streamOf([A, B, A, B, A, B, A, B]);
    const { client } = shardOf(stream);
    const timeline: string[] = [];
    const outcomes: BatchOutcome[] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2, maxRetryAttempts: 2 }),
      // A's store is down: every batch holding one of A's records fails as a whole.
      handler: async (event) => {
        if (keysOf(event).includes(A)) throw new Error(`${A} store is down`);
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 5,
      onBatch: (b) => {
        outcomes.push(b);
        timeline.push(`${b.status} ${b.attempt}`);
      },
    });
    await runToIdle(poller);

    const bRecords = stream.filter((r) => r.PartitionKey === B).length;
    const aRecords = stream.length - bRecords;
    expect(outcomes.filter((o) => o.status === 'ok').reduce((n, o) => n + o.succeeded, 0)).toBe(bRecords);
    const discarded = outcomes.filter((o) => o.status === 'discarded');
    expect(discarded.reduce((n, o) => n + o.size, 0)).toBe(aRecords);
    expect(outcomes.reduce((n, o) => n + o.succeeded, 0) + aRecords).toBe(stream.length);
    // B's first batch completed while A's first batch was still being retried.
    expect(timeline.indexOf('ok 0')).toBeGreaterThanOrEqual(0);
    expect(timeline.indexOf('ok 0')).toBeLessThan(timeline.indexOf('error 1'));
    expect(checkpoints.positions.get('shard-0')).toBe('8');
  });

  it('never checkpoints past a record a lane has not finished: after a restart nothing is lost', async () => {
    // Odd records are A's, even ones B's. Read 1 is records 1…4: lane A gets 1 and 3, lane B 2 and 4.
    const stream = streamOf([A, B, A, B, A, B, A, B]);
    const { client } = shardOf(stream);
    const completed = new Set<string>();
    const violations: string[] = [];
    const checkpoints = memoryCheckpoints((seq) => {
      const unfinished = stream.filter(
        (r) => Number(r.SequenceNumber) <= Number(seq) && !completed.has(r.SequenceNumber!),
      );
      if (unfinished.length > 0)
        violations.push(`checkpoint ${seq} passes ${unfinished.map((r) => r.SequenceNumber).join(', ')}`);
    });
    let aFailures = 0;
    /** Completes records in order; with `aFailsFrom`, reports A's first record from that one on. */
    const handlerFailingA =
      (aFailsFrom: number) =>
      async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
        for (const r of event.Records) {
          const { partitionKey: key, sequenceNumber: seq } = r.kinesis;
          if (key === A && Number(seq) >= aFailsFrom) {
            aFailures++;
            return { batchItemFailures: [{ itemIdentifier: seq }] };
          }
          completed.add(seq);
        }
        return { batchItemFailures: [] };
      };

    // Run 1: A's record 3 keeps failing (retried without end); B finishes 2 and 4; then a stop.
    const first = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2 }),
      handler: handlerFailingA(3),
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
    });
    await first.start();
    try {
      await until(
        "B's records 2 and 4 while A's 3 keeps failing",
        () => completed.has('4') && aFailures >= 3,
      );
    } finally {
      await first.stop();
    }
    expect([...completed].sort()).toEqual(['1', '2', '4']);
    expect(checkpoints.positions.get('shard-0')).toBe('2');

    // Run 2 (a restart from the same checkpoints): 3 is delivered again, and all the rest.
    const again: string[] = [];
    const second = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2 }),
      handler: async (event) => {
        again.push(...seqsOf(event));
        return handlerFailingA(Number.POSITIVE_INFINITY)(event);
      },
      checkpoints,
      idlePollMs: 1,
    });
    await runToIdle(second);
    expect(again).toContain('3');
    expect(again).not.toContain('1');
    expect([...completed].sort((a, b) => Number(a) - Number(b))).toEqual(stream.map((r) => r.SequenceNumber));
    expect(checkpoints.positions.get('shard-0')).toBe('8');
    expect(violations).toEqual([]);
  });

  it('with factor 1 (or none) delivers batches of batchSize in stream order, symbols mixed, as before', async () => {
    const runWith = async (factor: number | undefined) => {
      const { client, limits } = shardOf(streamOf([A, B, A, B, A]));
      const events: string[][] = [];
      const poller = new KinesisEventSourcePoller({
        kinesis: client,
        settings: settings(factor === undefined ? {} : { parallelizationFactor: factor }),
        handler: async (event) => {
          events.push(seqsOf(event));
          return { batchItemFailures: [] };
        },
        checkpoints: memoryCheckpoints(),
        idlePollMs: 1,
      });
      await runToIdle(poller);
      return { events, limits: Math.max(...limits) };
    };
    const expected = { events: [['1', '2'], ['3', '4'], ['5']], limits: 2 };
    expect(await runWith(undefined)).toEqual(expected);
    expect(await runWith(1)).toEqual(expected);
  });

  it('refuses a factor outside 1 … 10', () => {
    for (const factor of [0, 11, 1.5]) {
      expect(
        () =>
          new KinesisEventSourcePoller({
            kinesis: new KinesisClient({ region: 'us-east-1' }),
            settings: settings({ parallelizationFactor: factor }),
            handler: async () => undefined,
            checkpoints: memoryCheckpoints(),
          }),
      ).toThrow(`the parallelization factor must be an integer from 1 to 10, got ${factor}`);
    }
  });
});

describe('local event source mapping: lanes at the edges (window, limits, stop, failures)', () => {
  it('uses every lane of the factor: three keys in three lanes at factor 3 run at once', async () => {
    // Pinned: at factor 3 these keys fall in lanes 0, 1 and 2 (none of the default symbols is in lane 0).
    const keys = ['META', 'MSFT', 'AAPL'];
    expect(keys.map((k) => laneOf(k, 3))).toEqual([0, 1, 2]);
    const { client } = shardOf(streamOf(keys));
    const running = concurrency();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 3, batchSize: 1 }),
      // Each batch waits (up to a second) until three are running at once.
      handler: () =>
        running.track(async () => {
          await until('three batches at once', () => running.max === 3, 1000).catch(() => undefined);
          return { batchItemFailures: [] };
        }),
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(running.max).toBe(3);
  });

  it('asks GetRecords for at most 10,000 records, whatever batchSize × factor', async () => {
    const { client, limits } = shardOf(streamOf([A, B]));
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2, batchSize: 10_000 }),
      handler: async () => ({ batchItemFailures: [] }),
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(Math.max(...limits)).toBe(10_000);
  });

  it('with a batching window, delivers when one lane is full, not when the read merely holds batchSize records', async () => {
    let delivered: string[][] = [];
    const run = async (keys: readonly string[], whileWaiting: (reads: () => number) => Promise<void>) => {
      const { client, limits } = shardOf(streamOf(keys));
      const events: string[][] = [];
      delivered = events;
      const poller = new KinesisEventSourcePoller({
        kinesis: client,
        settings: settings({ parallelizationFactor: 2, batchSize: 2, batchingWindowSeconds: 60 }),
        handler: async (event) => {
          events.push(seqsOf(event));
          return { batchItemFailures: [] };
        },
        checkpoints: memoryCheckpoints(),
        idlePollMs: 1,
      });
      await poller.start();
      try {
        await whileWaiting(() => limits.length);
      } finally {
        await poller.stop();
      }
      return events;
    };
    // A and B: two records, one in each lane; no lane is full, so the window (60 s) holds them.
    const held = await run([A, B], (reads) => until('ten reads', () => reads() >= 10));
    expect(held).toEqual([]);
    // A, B, A: lane A is full (2 = batchSize), so the read goes at once, long before the window ends.
    const sent = await run([A, B, A], () => until('the read delivered', () => delivered.length === 2));
    expect(sent).toEqual([['1', '3'], ['2']]);
  });

  it('stop() mid-read: a lane starts no further batch, and the checkpoint stays before its records', async () => {
    // batchSize 2, factor 2, one read of 1…4: lane A holds 1, 2, 3 (batches [1, 2], [3]), lane B 4.
    const stream = streamOf([A, A, A, B]);
    const { client } = shardOf(stream);
    const invoked: string[][] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2 }),
      handler: async (event) => {
        invoked.push(seqsOf(event));
        if (keysOf(event).includes(A)) await released;
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
    });
    await poller.start();
    await until("A's first batch and B's batch invoked", () => invoked.length === 2);
    const stopped = poller.stop();
    release();
    await stopped;
    expect(invoked).toEqual([['1', '2'], ['4']]);
    // 1 and 2 done; 3 never started, so the checkpoint may not pass it (4, done by B, included).
    expect(checkpoints.positions.get('shard-0')).toBe('2');

    const again: string[] = [];
    const restart = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2 }),
      handler: async (event) => {
        again.push(...seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
    });
    await runToIdle(restart);
    expect(again.sort()).toEqual(['3', '4']);
    expect(checkpoints.positions.get('shard-0')).toBe('4');
  });

  it('stop() during a retry backoff does not retry the failed batch', async () => {
    const { client } = shardOf(streamOf([A, B]));
    const invoked: string[][] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ parallelizationFactor: 2, bisectOnError: true, batchSize: 2 }),
      handler: async (event) => {
        invoked.push(seqsOf(event));
        throw new Error('down');
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
      retryBackoffMs: 60_000,
    });
    await poller.start();
    await until('both lanes invoked once', () => invoked.length === 2);
    await pause(10);
    await poller.stop();
    expect(invoked.length).toBe(2);
  });

  it('a lane that throws lets the other lanes finish the read before the shard is read again', async () => {
    // A's batch fails and is given up (no retries); sending its metadata to the on-failure queue
    // fails once, so lane A throws. Lane B's batch is still running then.
    const { client } = shardOf(streamOf([A, B]));
    const sqsClient = new SQSClient({ region: 'us-east-1' });
    const sqs = mockClient(sqsClient);
    sqs.on(SendMessageCommand).rejectsOnce(new Error('queue down')).resolves({});
    const log: string[] = [];
    const inFlightAtLog: number[] = [];
    const running = new Map<string, number>();
    const overlaps: string[] = [];
    let inFlight = 0;
    let logged!: () => void;
    const failureLogged = new Promise<void>((resolve) => {
      logged = resolve;
    });
    const outcomes: BatchOutcome[] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs: sqsClient,
      settings: settings({
        parallelizationFactor: 2,
        maxRetryAttempts: 0,
        onFailureQueueUrl: 'http://127.0.0.1:1/000000000000/dlq',
      }),
      handler: async (event) => {
        const key = keysOf(event)[0]!;
        if ((running.get(key) ?? 0) > 0) overlaps.push(key);
        running.set(key, (running.get(key) ?? 0) + 1);
        inFlight++;
        try {
          if (key === A) throw new Error(`${A} is down`);
          await Promise.race([failureLogged, pause(300)]);
          return { batchItemFailures: [] };
        } finally {
          inFlight--;
          running.set(key, running.get(key)! - 1);
        }
      },
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
      log: (line) => {
        log.push(line);
        if (line.includes('failed')) {
          inFlightAtLog.push(inFlight);
          logged();
        }
      },
    });
    await runToIdle(poller);
    expect(log.some((l) => l.includes('reading shard-0 failed: queue down'))).toBe(true);
    expect(inFlightAtLog).toEqual([0]);
    expect(overlaps).toEqual([]);
    expect(outcomes.filter((o) => o.status === 'discarded').map((o) => o.size)).toEqual([1]);
    expect(checkpoints.positions.get('shard-0')).toBe('2');
  });

  it('bisect and record-age discards in one lane never move the checkpoint past the other lane', async () => {
    // Odd records are A's, even ones B's. A's 1 and 3 arrived long ago (expired); A's 5 is poison
    // (its batch throws, is bisected and given up); B's records are slow but fine.
    const now = Date.now();
    const stream = streamOf([A, B, A, B, A, B, A, B]).map((r) => ({
      ...r,
      ApproximateArrivalTimestamp: new Date(['1', '3'].includes(r.SequenceNumber!) ? now - 3_600_000 : now),
    }));
    const { client } = shardOf(stream);
    const sqsClient = new SQSClient({ region: 'us-east-1' });
    const sqs = mockClient(sqsClient);
    const discarded = new Set<string>();
    sqs.on(SendMessageCommand).callsFake((input) => {
      const info = JSON.parse(input.MessageBody).KinesisBatchInfo;
      for (const r of stream) {
        const n = Number(r.SequenceNumber);
        if (
          r.PartitionKey === A &&
          n >= Number(info.startSequenceNumber) &&
          n <= Number(info.endSequenceNumber)
        )
          discarded.add(r.SequenceNumber!);
      }
      return {};
    });
    const completed = new Set<string>();
    const violations: string[] = [];
    const checkpoints = memoryCheckpoints((seq) => {
      const unfinished = stream.filter(
        (r) =>
          Number(r.SequenceNumber) <= Number(seq) &&
          !completed.has(r.SequenceNumber!) &&
          !discarded.has(r.SequenceNumber!),
      );
      if (unfinished.length > 0)
        violations.push(`checkpoint ${seq} passes ${unfinished.map((r) => r.SequenceNumber).join(', ')}`);
    });
    const outcomes: BatchOutcome[] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs: sqsClient,
      settings: settings({
        parallelizationFactor: 2,
        batchSize: 4,
        bisectOnError: true,
        maxRetryAttempts: 1,
        maxRecordAgeSeconds: 60,
        onFailureQueueUrl: 'http://127.0.0.1:1/000000000000/dlq',
      }),
      handler: async (event) => {
        if (seqsOf(event).includes('5')) throw new Error('poison');
        for (const r of event.Records) {
          await pause(3);
          completed.add(r.kinesis.sequenceNumber);
        }
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await runToIdle(poller);
    expect(violations).toEqual([]);
    expect([...completed].sort()).toEqual(['2', '4', '6', '7', '8']);
    expect(outcomes.filter((o) => o.status === 'discarded').map((o) => [o.error, o.size])).toEqual([
      ['RecordAgeExceeded', 2],
      ['RetryAttemptsExhausted', 1],
    ]);
    const counted = outcomes.reduce((n, o) => n + (o.status === 'discarded' ? o.size : o.succeeded), 0);
    expect(counted).toBe(stream.length);
    expect(checkpoints.positions.get('shard-0')).toBe('8');
  });
});

describe('local event source mapping: bisect on function error', () => {
  /** Runs 8 records of one key, record 6 poison (a batch holding it throws), to idle. */
  async function poisonRun(maxRetryAttempts: number) {
    const stream = streamOf(['K', 'K', 'K', 'K', 'K', 'K', 'K', 'K']);
    const { client } = shardOf(stream);
    const sqsClient = new SQSClient({ region: 'us-east-1' });
    const sqs = mockClient(sqsClient);
    const letters: Record<string, unknown>[] = [];
    sqs.on(SendMessageCommand).callsFake((input) => {
      letters.push(JSON.parse(input.MessageBody));
      return {};
    });
    const invocations: string[][] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs: sqsClient,
      settings: settings({
        batchSize: 8,
        bisectOnError: true,
        maxRetryAttempts,
        onFailureQueueUrl: 'http://127.0.0.1:1/000000000000/dlq',
      }),
      handler: async (event) => {
        invocations.push(seqsOf(event));
        if (seqsOf(event).includes('6')) throw new Error('poison');
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
    });
    await runToIdle(poller);
    return { invocations, letters, checkpoint: checkpoints.positions.get('shard-0') };
  }

  it('splitting a failed batch consumes no retry: only the poison record is given up, after its own retries', async () => {
    // AWS: "Splitting a batch does not count towards the retry quota" (Lambda with Kinesis, Error
    // handling): the halves are split down to the poison record, which alone uses the retries.
    for (const maxRetryAttempts of [0, 1, 3]) {
      const { invocations, letters, checkpoint } = await poisonRun(maxRetryAttempts);
      expect(letters.map((l) => l.KinesisBatchInfo)).toEqual([
        expect.objectContaining({ startSequenceNumber: '6', endSequenceNumber: '6', batchSize: 1 }),
      ]);
      // Invocations that held record 6: the batch of 8, its halves of 4 and 2, then 6 alone.
      expect(letters[0]!.requestContext).toMatchObject({
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4 + maxRetryAttempts,
      });
      // The poison record alone: one invocation and maxRetryAttempts retries.
      expect(invocations.filter((seqs) => seqs.join() === '6')).toHaveLength(maxRetryAttempts + 1);
      // Every other record was completed, none invoked again once its batch succeeded.
      const completed = invocations.filter((seqs) => !seqs.includes('6')).flat();
      expect(completed.sort()).toEqual(['1', '2', '3', '4', '5', '7', '8']);
      expect(checkpoint).toBe('8');
    }
  });
});

describe('local event source mapping: the function timeout', () => {
  it('fails an invocation that runs past the timeout, as Lambda does, and retries it (a late success does not count)', async () => {
    const { client } = shardOf(streamOf(['K', 'K']));
    const outcomes: BatchOutcome[] = [];
    let calls = 0;
    let lateFinish = false;
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ functionTimeoutSeconds: 0.05 }),
      handler: async () => {
        // The first invocation takes 300 ms against a 50 ms timeout, then returns success.
        if (++calls === 1) {
          await pause(300);
          lateFinish = true;
        }
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await runToIdle(poller);
    expect(outcomes.map((o) => [o.status, o.size, o.succeeded, o.error])).toEqual([
      ['error', 2, 0, 'Task timed out after 0.05 seconds'],
      ['ok', 2, 2, undefined],
    ]);
    // The retry did not wait for the timed-out invocation.
    expect(lateFinish).toBe(false);
    await until('the timed-out invocation to finish', () => lateFinish);
  });
});

describe('local event source mapping: a long idle', () => {
  it('keeps no abort listener of a finished sleep: an idle shard polled a hundred times holds one at most', async () => {
    // Each idle poll sleeps on the poller's stop signal: a listener left behind by every sleep piled
    // up while `npm start` idled at the end of its feed (about 80 a second, never freed).
    const signals = new Set<AbortSignal>();
    const add = EventTarget.prototype.addEventListener;
    const spy = vi.spyOn(EventTarget.prototype, 'addEventListener').mockImplementation(function (
      this: EventTarget,
      ...args: Parameters<EventTarget['addEventListener']>
    ) {
      if (this instanceof AbortSignal && args[0] === 'abort') signals.add(this);
      return add.apply(this, args);
    });
    const { client, limits } = shardOf([]);
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({}),
      handler: async () => undefined,
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    let held: number[];
    try {
      await poller.start();
      await until('a hundred idle polls', () => limits.length >= 100);
      held = [...signals].map((s) => getEventListeners(s, 'abort').length);
    } finally {
      await poller.stop();
      spy.mockRestore();
    }
    expect(signals.size).toBeGreaterThan(0);
    expect(Math.max(...held)).toBeLessThanOrEqual(1);
  });
});

describe('local event source mapping: a failed read', () => {
  it('inside a batching window does not read the held records again: each record is delivered once', async () => {
    const { client } = shardOf(streamOf([A, A, A, A]), { perRead: 2, failRead: 2 });
    const delivered: string[][] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ batchSize: 10, batchingWindowSeconds: 1 }),
      handler: async (event) => {
        delivered.push(seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(delivered.flat()).toEqual(['1', '2', '3', '4']);
  });

  it('at LATEST does not skip the records put after the start', async () => {
    const stream = streamOf([A, A]);
    const { client, limits } = shardOf(stream, { failRead: 3 });
    const reads = () => limits.length;
    const delivered: string[][] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ startingPosition: 'LATEST' }),
      handler: async (event) => {
        delivered.push(seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await poller.start();
    try {
      await until('two empty reads at the tip', () => reads() >= 2);
      stream.push(...streamOf([A, A, A, A]).slice(2)); // records 3 and 4, put after the start
      await until('records 3 and 4 delivered', () => delivered.flat().length >= 2);
    } finally {
      await poller.stop();
    }
    expect(delivered.flat()).toEqual(['3', '4']);
  });
});

describe('local event source mapping: a position kept through empty reads', () => {
  it('expires after 5 minutes; at LATEST the mapping goes on from the last read, skipping nothing put meanwhile', async () => {
    // Iterators name a position and the read that handed them out (`at:<position>:<read>`); the
    // start's (read 0) expires on the fourth read, and records 3 and 4 arrive just before it.
    const stream = streamOf([A, A]);
    const client = new KinesisClient({ region: 'us-east-1' });
    const kinesis = mockClient(client);
    kinesis.on(ListShardsCommand).resolves({
      Shards: [{ ShardId: 'shard-0', HashKeyRange: undefined, SequenceNumberRange: undefined }],
    });
    kinesis.on(GetShardIteratorCommand).callsFake((input) => ({
      ShardIterator: `at:${input.ShardIteratorType === 'LATEST' ? stream.length : (input.StartingSequenceNumber ?? 0)}:0`,
    }));
    const iteratorsRead: string[] = [];
    kinesis.on(GetRecordsCommand).callsFake((input) => {
      const iterator = String(input.ShardIterator);
      iteratorsRead.push(iterator);
      const [, at, read] = iterator.split(':').map(Number) as [number, number, number];
      if (iteratorsRead.length === 4) {
        stream.push(...streamOf([A, A, A, A]).slice(2));
        if (read === 0) throw new ExpiredIteratorException({ message: 'Iterator expired', $metadata: {} });
      }
      const out = stream.filter((r) => Number(r.SequenceNumber) > at).slice(0, input.Limit);
      const next = out.length > 0 ? Number(out.at(-1)!.SequenceNumber) : at;
      return { Records: out, NextShardIterator: `at:${next}:${iteratorsRead.length}`, MillisBehindLatest: 0 };
    });
    const delivered: string[] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ startingPosition: 'LATEST' }),
      handler: async (event) => {
        delivered.push(...seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await poller.start();
    try {
      await until('records 3 and 4 delivered', () => delivered.length >= 2);
    } finally {
      await poller.stop();
    }
    // The empty reads kept the start's position; after its expiry, the last read's iterator.
    expect(iteratorsRead.slice(0, 5)).toEqual(['at:2:0', 'at:2:0', 'at:2:0', 'at:2:0', 'at:2:3']);
    expect(delivered).toEqual(['3', '4']);
  });
});

// --- What Lambda documents for Kinesis event source mappings ----------------------------------

/** An SQS client whose SendMessage bodies (the on-failure records) are kept, parsed. */
function onFailureQueue() {
  const sqsClient = new SQSClient({ region: 'us-east-1' });
  const letters: Record<string, Record<string, unknown>>[] = [];
  mockClient(sqsClient)
    .on(SendMessageCommand)
    .callsFake((input) => {
      letters.push(JSON.parse(input.MessageBody));
      return {};
    });
  return { sqs: sqsClient, letters, queueUrl: 'http://127.0.0.1:1/000000000000/dlq' };
}

describe('local event source mapping: the event and the on-failure record Lambda documents', () => {
  it("gives each record Lambda's shape: eventID shardId:sequenceNumber, base64 data, the arrival in epoch seconds", async () => {
    const arrival = new Date('2024-03-01T14:30:00.250Z');
    const { client } = shardOf(streamOf([A]).map((r) => ({ ...r, ApproximateArrivalTimestamp: arrival })));
    const events: KinesisStreamEvent[] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({}),
      handler: async (event) => {
        events.push(event);
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(events).toEqual([
      {
        Records: [
          {
            kinesis: {
              kinesisSchemaVersion: '1.0',
              partitionKey: A,
              sequenceNumber: '1',
              data: Buffer.from('record 1').toString('base64'),
              approximateArrivalTimestamp: 1_709_303_400.25,
            },
            eventSource: 'aws:kinesis',
            eventVersion: '1.0',
            eventID: 'shard-0:1',
            eventName: 'aws:kinesis:record',
            invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//),
            awsRegion: 'us-east-1',
            eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
          },
        ],
      },
    ]);
  });

  it('sends a given-up batch to the on-failure queue as KinesisBatchInfo: shard, first and last record, their arrivals, count', async () => {
    const base = Date.parse('2024-03-01T14:30:00.000Z');
    const stream = streamOf(['K', 'K', 'K']).map((r, i) => ({
      ...r,
      ApproximateArrivalTimestamp: new Date(base + i * 1500),
    }));
    const { client } = shardOf(stream);
    const { sqs, letters, queueUrl } = onFailureQueue();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs,
      settings: settings({ batchSize: 10, maxRetryAttempts: 1, onFailureQueueUrl: queueUrl }),
      handler: async () => {
        throw new Error('down');
      },
      checkpoints: memoryCheckpoints(),
      idlePollMs: 1,
      retryBackoffMs: 1,
    });
    await runToIdle(poller);
    expect(letters).toEqual([
      {
        requestContext: {
          requestId: expect.any(String),
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 2,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        timestamp: expect.any(String),
        KinesisBatchInfo: {
          shardId: 'shard-0',
          startSequenceNumber: '1',
          endSequenceNumber: '3',
          approximateArrivalOfFirstRecord: '2024-03-01T14:30:00.000Z',
          approximateArrivalOfLastRecord: '2024-03-01T14:30:03.000Z',
          batchSize: 3,
          streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
        },
      },
    ]);
  });
});

describe('local event source mapping: MaximumRecordAgeInSeconds', () => {
  it('discards a record older than the maximum age, in seconds, and delivers a younger one', async () => {
    const now = Date.now();
    // Record 1 arrived 90 s ago, record 2 30 s ago; the maximum age is 60 s.
    const stream = streamOf(['K', 'K']).map((r, i) => ({
      ...r,
      ApproximateArrivalTimestamp: new Date(now - (i === 0 ? 90_000 : 30_000)),
    }));
    const { client } = shardOf(stream);
    const { sqs, letters, queueUrl } = onFailureQueue();
    const delivered: string[][] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs,
      settings: settings({ maxRecordAgeSeconds: 60, onFailureQueueUrl: queueUrl }),
      handler: async (event) => {
        delivered.push(seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints,
      idlePollMs: 1,
    });
    await runToIdle(poller);
    expect(delivered).toEqual([['2']]);
    expect(
      letters.map((l) => [l.requestContext!.condition, l.KinesisBatchInfo!.startSequenceNumber]),
    ).toEqual([['RecordAgeExceeded', '1']]);
    expect(checkpoints.positions.get('shard-0')).toBe('2');
  });

  it('with unlimited retries, gives a failing record up once it grows older than the maximum age while retried', async () => {
    // The clock moves 40 s on at each invocation: the record is 40 s old at the first retry, 80 s at
    // the second, which it does not get. (Were it retried on, the sixth invocation would succeed.)
    let offset = 0;
    const { client } = shardOf(streamOf(['K']));
    const { sqs, letters, queueUrl } = onFailureQueue();
    let invocations = 0;
    const outcomes: BatchOutcome[] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      sqs,
      settings: settings({ maxRetryAttempts: -1, maxRecordAgeSeconds: 60, onFailureQueueUrl: queueUrl }),
      handler: async () => {
        offset += 40_000;
        if (++invocations <= 5) throw new Error('down');
        return { batchItemFailures: [] };
      },
      checkpoints,
      clock: () => Date.now() + offset,
      idlePollMs: 1,
      retryBackoffMs: 1,
      onBatch: (b) => outcomes.push(b),
    });
    await runToIdle(poller);
    expect(invocations).toBe(2);
    expect(outcomes.map((o) => o.status)).toEqual(['error', 'error', 'discarded']);
    expect(letters.map((l) => l.requestContext)).toEqual([
      expect.objectContaining({ condition: 'RecordAgeExceeded', approximateInvokeCount: 2 }),
    ]);
    expect(checkpoints.positions.get('shard-0')).toBe('1');
  });
});

describe('local event source mapping: the batching window (MaximumBatchingWindowInSeconds)', () => {
  it('invokes as soon as a read holds batchSize records, and holds the rest for a window of its own, in seconds', async () => {
    // 11 records, read 3 at a time; batch size 10, window 60 s. The clock only moves when told.
    let now = Date.now();
    const { client, limits } = shardOf(streamOf(Array.from({ length: 11 }, () => 'K')), { perRead: 3 });
    const delivered: string[][] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ batchSize: 10, batchingWindowSeconds: 60 }),
      handler: async (event) => {
        delivered.push(seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      clock: () => now,
      idlePollMs: 1,
    });
    const first10 = Array.from({ length: 10 }, (_, i) => String(i + 1));
    await poller.start();
    try {
      // Records 1…10 go without waiting for the window; 11 is not read with them.
      await until('the first batch', () => delivered.length === 1);
      expect(delivered).toEqual([first10]);
      let reads = limits.length;
      await until('ten reads more', () => limits.length >= reads + 10);
      expect(delivered).toEqual([first10]);
      // A second into the window: 11 is still held.
      now += 1000;
      reads = limits.length;
      await until('ten reads more', () => limits.length >= reads + 10);
      expect(delivered).toEqual([first10]);
      // The window's 60 s are over.
      now += 59_000;
      await until('the second batch', () => delivered.length === 2);
    } finally {
      await poller.stop();
    }
    expect(delivered).toEqual([first10, ['11']]);
    // No read asked for more than the batch still had room for.
    expect(limits.slice(0, 4)).toEqual([10, 7, 4, 1]);
  });

  it('three failed reads in a row inside a window (a new iterator) do not read the held records again', async () => {
    let now = Date.now();
    const { client, limits } = shardOf(streamOf([A, A, A, A]), { perRead: 2, failRead: [2, 3, 4] });
    const delivered: string[][] = [];
    const log: string[] = [];
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ batchSize: 10, batchingWindowSeconds: 60 }),
      handler: async (event) => {
        delivered.push(seqsOf(event));
        return { batchItemFailures: [] };
      },
      checkpoints: memoryCheckpoints(),
      clock: () => now,
      idlePollMs: 1,
      log: (line) => log.push(line),
    });
    await poller.start();
    try {
      await until('a read after the three failed ones', () => limits.length >= 8, 5000);
      now += 60_000;
      await until('the window delivered', () => delivered.length > 0);
    } finally {
      await poller.stop();
    }
    expect(log.filter((l) => l.includes('Rate exceeded'))).toHaveLength(3);
    expect(delivered.flat()).toEqual(['1', '2', '3', '4']);
  });
});

describe('local event source mapping: partial batch responses (ReportBatchItemFailures)', () => {
  /** Runs records 1…4 of one key; `respond` answers invocation n (from 1); the invocations made. */
  async function partialRun(
    respond: (n: number) => unknown,
    o: Partial<EventSourceMappingSettings> = {},
  ): Promise<{ invocations: string[][]; checkpoint: string | undefined }> {
    const { client } = shardOf(streamOf(['K', 'K', 'K', 'K']));
    const invocations: string[][] = [];
    const checkpoints = memoryCheckpoints();
    const poller = new KinesisEventSourcePoller({
      kinesis: client,
      settings: settings({ batchSize: 10, ...o }),
      handler: async (event) => {
        invocations.push(seqsOf(event));
        return respond(invocations.length) as KinesisStreamBatchResponse;
      },
      checkpoints,
      idlePollMs: 1,
      retryBackoffMs: 1,
    });
    await runToIdle(poller);
    return { invocations, checkpoint: checkpoints.positions.get('shard-0') };
  }
  const failing = (...ids: unknown[]) => ({
    batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })),
  });

  it('ignores a partial response when the mapping does not turn ReportBatchItemFailures on: the batch succeeded', async () => {
    const run = await partialRun(() => failing('2'), { reportBatchItemFailures: false });
    expect(run).toEqual({ invocations: [['1', '2', '3', '4']], checkpoint: '4' });
  });

  it('with several failures, retries from the lowest sequence number, whatever their order', async () => {
    const run = await partialRun((n) => (n === 1 ? failing('3', '2') : failing()));
    expect(run).toEqual({
      invocations: [
        ['1', '2', '3', '4'],
        ['2', '3', '4'],
      ],
      checkpoint: '4',
    });
  });

  it('treats an empty or null itemIdentifier, or a wrong key name, as a failure of the whole batch', async () => {
    const bad = [failing(''), failing(null), { batchItemFailures: [{ itemIdentifer: '2' }] }];
    for (const response of bad) {
      const run = await partialRun((n) => (n === 1 ? response : failing()));
      expect(run, JSON.stringify(response)).toEqual({
        invocations: [
          ['1', '2', '3', '4'],
          ['1', '2', '3', '4'],
        ],
        checkpoint: '4',
      });
    }
  });

  it('with BisectBatchOnFunctionError too, a partial response splits the batch at the failure: the rest is retried whole', async () => {
    const run = await partialRun((n) => (n === 1 ? failing('2') : failing()), { bisectOnError: true });
    expect(run).toEqual({
      invocations: [
        ['1', '2', '3', '4'],
        ['2', '3', '4'],
      ],
      checkpoint: '4',
    });
  });
});
