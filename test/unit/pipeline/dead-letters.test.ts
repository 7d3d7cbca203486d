/**
 * The dead-letter review's own logic over in-memory ports: what each message is, which records of
 * a given-up range lack their row, what recovery writes and deletes, and that every message it does
 * not delete is made visible again, even when a step fails. The SQS, Kinesis, DynamoDB and S3
 * adapters are exercised against the emulators in test/integration/processor/dead-letters.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLakeWriter } from '../../../src/adapters/memory/index.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import {
  type DeadLetterDeps,
  parseDeadLetter,
  reviewDeadLetters,
} from '../../../src/pipeline/recover/dead-letters.ts';
import {
  type DeadLetterMessage,
  type DeadLetterQueue,
  type MetricRowKey,
  metricRowId,
  type StreamRange,
} from '../../../src/ports/dead-letters.ts';
import type { StreamRecord } from '../../../src/ports/processor.ts';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/tickstream-dev-ticks';
const OPEN = Date.parse('2024-10-02T13:30:00Z');

/** Lambda's on-failure record for a Kinesis batch (the documented shape). */
function givenUp(start: string, end: string, batchSize?: number, shardId = 'shardId-000000000000') {
  return JSON.stringify({
    requestContext: {
      requestId: 'c9b8fa9f-5a7f-4e3c-9a3b-7c1b4c7d5d4e',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:tickstream-dev-processTicks',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 4,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2024-10-02T13:40:00.000Z',
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: start,
      endSequenceNumber: end,
      approximateArrivalOfFirstRecord: '2024-10-02T13:31:00.000Z',
      approximateArrivalOfLastRecord: '2024-10-02T13:33:00.000Z',
      ...(batchSize !== undefined ? { batchSize } : {}),
      streamArn: STREAM_ARN,
    },
  });
}

function rejectedBody(sequenceNumber: string) {
  return JSON.stringify({
    shardId: 'shardId-000000000000',
    sequenceNumber,
    partitionKey: 'AAPL',
    data: Buffer.from('nope').toString('base64'),
    reason: 'payload is not JSON',
    rejectedAt: OPEN,
  });
}

function barRecord(symbol: string, minute: number, seq: string): StreamRecord {
  const payload = encodeMarketEvent({
    kind: 'bar',
    bar: {
      symbol,
      start: OPEN + minute * 60_000,
      interval: '1m',
      open: 10,
      high: 11,
      low: 9,
      close: 10.5,
      volume: 100,
      session: 'regular',
      source: 'replay',
    },
  });
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber: seq,
    partitionKey: symbol,
    data: Buffer.from(payload).toString('base64'),
    arrivalTime: OPEN + minute * 60_000 + 1000,
  };
}

class Queue implements DeadLetterQueue {
  readonly visible: DeadLetterMessage[];
  readonly deleted: string[] = [];
  readonly released: string[] = [];
  failDelete = false;
  constructor(bodies: string[]) {
    this.visible = bodies.map((body, i) => ({ id: `m${i}`, receipt: `r${i}`, body }));
  }
  async receive(max: number) {
    return this.visible.splice(0, max);
  }
  async delete(messages: readonly DeadLetterMessage[]) {
    if (this.failDelete) throw new Error('AccessDenied: sqs:DeleteMessage');
    this.deleted.push(...messages.map((m) => m.id));
  }
  async release(messages: readonly DeadLetterMessage[]) {
    this.released.push(...messages.map((m) => m.id));
  }
}

function deps(queue: Queue, records: StreamRecord[], rows: MetricRowKey[], lake = new MemoryLakeWriter()) {
  const reads: string[] = [];
  const d: DeadLetterDeps = {
    queue,
    stream: {
      async read(streamName, shardId, start, end): Promise<StreamRange> {
        reads.push(`${streamName} ${shardId} ${start}-${end}`);
        const inRange = records.filter(
          (r) => BigInt(r.sequenceNumber) >= BigInt(start) && BigInt(r.sequenceNumber) <= BigInt(end),
        );
        return { records: inRange, trimmed: inRange[0]?.sequenceNumber !== start, complete: true };
      },
    },
    rows: {
      async existing(keys) {
        const have = new Set(rows.map(metricRowId));
        return new Set(keys.map(metricRowId).filter((id) => have.has(id)));
      },
    },
    lake,
  };
  return { d, reads, lake };
}

describe('parseDeadLetter', () => {
  it('reads Lambda’s on-failure record: the stream by name, the shard, the range and why', () => {
    expect(parseDeadLetter(givenUp('100', '300', 3))).toEqual({
      kind: 'given-up',
      streamName: 'tickstream-dev-ticks',
      shardId: 'shardId-000000000000',
      startSequenceNumber: '100',
      endSequenceNumber: '300',
      batchSize: 3,
      condition: 'RetryAttemptsExhausted',
      timestamp: '2024-10-02T13:40:00.000Z',
    });
  });

  it('reads the processor’s rejected-record message', () => {
    expect(parseDeadLetter(rejectedBody('7'))).toEqual({
      kind: 'rejected',
      shardId: 'shardId-000000000000',
      sequenceNumber: '7',
      partitionKey: 'AAPL',
      reason: 'payload is not JSON',
      rejectedAt: OPEN,
    });
  });

  it('names what is wrong with anything else, never throwing', () => {
    expect(parseDeadLetter('not json')).toEqual({ kind: 'unreadable', reason: 'body is not JSON' });
    expect(parseDeadLetter('[1]')).toEqual({ kind: 'unreadable', reason: 'body is not a JSON object' });
    expect(parseDeadLetter('{"hello":1}').kind).toBe('unreadable');
    const bad = JSON.parse(givenUp('100', '300'));
    bad.KinesisBatchInfo.startSequenceNumber = '1e3';
    expect(parseDeadLetter(JSON.stringify(bad))).toMatchObject({
      kind: 'unreadable',
      reason: expect.stringContaining('decimal start/end'),
    });
    bad.KinesisBatchInfo.startSequenceNumber = '100';
    bad.KinesisBatchInfo.streamArn = 'arn:aws:sqs:us-east-1:1:queue';
    expect(parseDeadLetter(JSON.stringify(bad))).toMatchObject({
      kind: 'unreadable',
      reason: expect.stringContaining('not a stream ARN'),
    });
  });
});

describe('reviewDeadLetters', () => {
  const records = [
    barRecord('AAPL', 0, '100'),
    barRecord('MSFT', 0, '101'),
    { ...barRecord('AAPL', 1, '102'), data: Buffer.from('{').toString('base64') },
    barRecord('MSFT', 1, '103'),
    barRecord('AAPL', 2, '104'),
  ];
  const stored: MetricRowKey[] = [
    { symbol: 'AAPL', kind: 'bar', time: OPEN },
    { symbol: 'AAPL', kind: 'bar', time: OPEN + 120_000 },
  ];

  it('without --recover: finds the records without rows, writes and deletes nothing, releases every message', async () => {
    const queue = new Queue([givenUp('101', '104', 4), rejectedBody('7'), rejectedBody('7'), 'junk']);
    const { d, reads, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: false });
    expect(reads).toEqual(['tickstream-dev-ticks shardId-000000000000 101-104']);
    expect(review.messages).toBe(4);
    const [g] = review.givenUp;
    expect(g).toMatchObject({ read: 4, stored: 1, trimmed: false, deleted: false, lakeObjects: [] });
    expect(g!.withoutRow.map((m) => [m.symbol, m.sequenceNumber])).toEqual([
      ['MSFT', '101'],
      ['MSFT', '103'],
    ]);
    expect(g!.rejected).toEqual([{ sequenceNumber: '102', reason: expect.any(String) }]);
    expect(review.rejected).toEqual([expect.objectContaining({ sequenceNumber: '7', copies: 2 })]);
    expect(review.unreadable).toEqual([{ kind: 'unreadable', reason: 'body is not JSON', id: 'm3' }]);
    expect(lake.objectCount).toBe(0);
    expect(queue.deleted).toEqual([]);
    expect(queue.released.sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('with --recover: writes every valid record of the ranges once (overlapping ranges), deletes only given-up messages', async () => {
    const queue = new Queue([givenUp('101', '103', 3), givenUp('101', '104', 4), rejectedBody('7')]);
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true, max: 10 });
    expect(review.givenUp.map((g) => [g.deleted, g.error])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    // The first range's valid records (102 is not JSON), then what the second adds: AAPL's 104,
    // whose row exists but whose lake line may not (a lake write that failed while rows landed).
    expect(lake.records().map((r) => [r.symbol, r.sequenceNumber, r.time])).toEqual([
      ['MSFT', '101', OPEN],
      ['MSFT', '103', OPEN + 60_000],
      ['AAPL', '104', OPEN + 120_000],
    ]);
    expect(lake.objects().map((o) => o.key.replace(/-[0-9a-f]{16}\.ndjson\.gz$/, ''))).toEqual([
      'raw/dt=2024-10-02/shard=shardId-000000000000/101-103',
      'raw/dt=2024-10-02/shard=shardId-000000000000/104-104',
    ]);
    expect(queue.deleted).toEqual(['m0', 'm1']);
    expect(queue.released).toEqual(['m2']);
  });

  it('leaves out a record the processor rejected (its rejected-record message is in the queue)', async () => {
    const queue = new Queue([rejectedBody('103'), givenUp('101', '103', 3)]);
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]!.rejected.map((r) => r.sequenceNumber)).toEqual(['102', '103']);
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['101']);
  });

  it('keeps the message of a range it could not read whole: started past retention, or fewer records than the batch', async () => {
    const queue = new Queue([givenUp('99', '101', 1), givenUp('103', '104', 3)]);
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]).toMatchObject({
      trimmed: true,
      read: 2,
      deleted: false,
      error: expect.stringContaining('past the stream retention'),
    });
    expect(review.givenUp[1]).toMatchObject({
      read: 2,
      deleted: false,
      error: "read 2 of the batch's 3 records: the range was not read to its end",
    });
    expect(lake.objectCount).toBe(0);
    expect(queue.deleted).toEqual([]);
    expect(queue.released).toEqual(['m0', 'm1']);
  });

  it('keeps a range whose recovery failed in the queue, with the reason, and goes on with the others', async () => {
    const queue = new Queue([givenUp('101', '101', 1), givenUp('103', '103', 1)]);
    const lake = new MemoryLakeWriter();
    lake.faults.failNext({ error: new Error('S3 PutObject: SlowDown') });
    const { d } = deps(queue, records, stored, lake);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]).toMatchObject({ deleted: false, error: 'Error: S3 PutObject: SlowDown' });
    expect(review.givenUp[1]).toMatchObject({ deleted: true });
    expect(queue.released).toEqual(['m0']);
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['103']);
  });

  it('reports a range whose read fails, goes on, and releases every message it did not delete', async () => {
    const queue = new Queue([rejectedBody('7'), givenUp('101', '104', 4), givenUp('103', '103', 1)]);
    const { d } = deps(queue, records, stored);
    let calls = 0;
    const failing: DeadLetterDeps = {
      ...d,
      rows: {
        async existing(keys) {
          if (calls++ === 0) throw new Error('ProvisionedThroughputExceededException');
          return d.rows.existing(keys);
        },
      },
    };
    const review = await reviewDeadLetters(failing, { recover: true });
    expect(review.givenUp.map((g) => [g.deleted, g.error])).toEqual([
      [false, 'Error: ProvisionedThroughputExceededException'],
      [true, undefined],
    ]);
    expect(queue.deleted).toEqual(['m2']);
    expect(queue.released.sort()).toEqual(['m0', 'm1']);
  });

  it('stops before the next message when aborted, releasing what it received', async () => {
    const queue = new Queue([givenUp('101', '101', 1), givenUp('103', '103', 1), rejectedBody('7')]);
    const { d } = deps(queue, records, stored);
    const stop = new AbortController();
    const review = await reviewDeadLetters(d, {
      recover: true,
      signal: stop.signal,
      onRange: () => stop.abort(),
    });
    expect(review.givenUp).toHaveLength(1);
    expect(queue.deleted).toEqual(['m0']);
    expect(queue.released.sort()).toEqual(['m1', 'm2']);
  });

  it('refuses to recover without a lake to write to', async () => {
    const { d } = deps(new Queue([]), records, stored);
    const { lake: _lake, ...noLake } = d;
    await expect(reviewDeadLetters(noLake, { recover: true })).rejects.toThrow('needs the lake writer');
  });
});
