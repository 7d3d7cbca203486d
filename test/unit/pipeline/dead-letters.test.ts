/**
 * The dead-letter review's own logic over in-memory ports: what each message is, which records of
 * a given-up range lack their row, what recovery writes and deletes, and that every message it does
 * not delete is made visible again, even when a step fails. The SQS, Kinesis, DynamoDB and S3
 * adapters are exercised against the emulators in test/integration/processor/dead-letters.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLakeWriter } from '../../../src/adapters/memory/index.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import { decodeStreamRecord, lakeRecordOf } from '../../../src/pipeline/process/stream-records.ts';
import {
  type DeadLetterDeps,
  parseDeadLetter,
  reviewDeadLetters,
} from '../../../src/pipeline/recover/dead-letters.ts';
import { type RawLakeReader, UnreadableRawObjectError } from '../../../src/ports/compaction.ts';
import {
  type DeadLetterMessage,
  type DeadLetterQueue,
  type MetricRowKey,
  metricRowId,
  type StreamRange,
} from '../../../src/ports/dead-letters.ts';
import type { StreamRecord } from '../../../src/ports/processor.ts';
import { lakeBatchOf } from '../../support/lake.ts';

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
  readonly releasedReceipts: string[] = [];
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
    this.releasedReceipts.push(...messages.map((m) => m.receipt));
  }
}

function deps(queue: Queue, records: StreamRecord[], rows: MetricRowKey[], lake = new MemoryLakeWriter()) {
  const reads: string[] = [];
  const d: DeadLetterDeps = {
    queue,
    stream: {
      async read(streamName, shardId, start, end, expected): Promise<StreamRange> {
        reads.push(`${streamName} ${shardId} ${start}-${end} ${expected}`);
        const inRange = records.filter(
          (r) => BigInt(r.sequenceNumber) >= BigInt(start) && BigInt(r.sequenceNumber) <= BigInt(end),
        );
        return {
          records: inRange,
          trimmed: inRange[0]?.sequenceNumber !== start,
          complete: inRange.at(-1)?.sequenceNumber === end,
        };
      },
    },
    rows: {
      async existing(keys) {
        const have = new Set(rows.map(metricRowId));
        return new Set(keys.map(metricRowId).filter((id) => have.has(id)));
      },
    },
    lake,
    raw: lake,
    engines: analyticsEngines(),
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
  /** A record's raw-zone line, as the processor writes it. */
  const processorLineOf = (record: StreamRecord) => {
    const event = decodeStreamRecord(record, OPEN + 3_600_000);
    if (typeof event === 'string') throw new Error(event);
    return lakeRecordOf(record, event);
  };
  /** AAPL's third bar as the processor wrote it to the raw zone, from an earlier record (90). */
  const processorLine = processorLineOf(barRecord('AAPL', 2, '90'));

  it('without --recover: finds the records without rows, writes and deletes nothing, releases every message', async () => {
    const queue = new Queue([givenUp('101', '104', 4), rejectedBody('7'), rejectedBody('7'), 'junk']);
    const { d, reads, lake } = deps(queue, records, stored);
    await lake.writeBatch(lakeBatchOf([processorLine]));
    const review = await reviewDeadLetters(d, { recover: false });
    expect(reads).toEqual(['tickstream-dev-ticks shardId-000000000000 101-104 4']);
    expect(review.messages).toBe(4);
    const [g] = review.givenUp;
    expect(g).toMatchObject({
      read: 4,
      stored: 1,
      notInLake: 2,
      trimmed: false,
      deleted: false,
      lakeObjects: [],
    });
    expect(g!.withoutRow.map((m) => [m.symbol, m.sequenceNumber])).toEqual([
      ['MSFT', '101'],
      ['MSFT', '103'],
    ]);
    expect(g!.rejected).toEqual([{ sequenceNumber: '102', reason: expect.any(String) }]);
    expect(review.rejected).toEqual([expect.objectContaining({ sequenceNumber: '7', copies: 2 })]);
    expect(review.unreadable).toEqual([{ kind: 'unreadable', reason: 'body is not JSON', id: 'm3' }]);
    expect(lake.objectCount).toBe(1);
    expect(queue.deleted).toEqual([]);
    expect(queue.released.sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('with --recover: writes each record whose key the raw zone lacks, once across overlapping ranges; deletes only given-up messages', async () => {
    const queue = new Queue([givenUp('101', '103', 3), givenUp('101', '104', 4), rejectedBody('7')]);
    const { d, lake } = deps(queue, records, stored);
    await lake.writeBatch(lakeBatchOf([processorLine])); // AAPL's third bar, as the processor wrote it
    const review = await reviewDeadLetters(d, { recover: true, max: 10 });
    expect(review.givenUp.map((g) => [g.deleted, g.error])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    // MSFT's bars (102 is not JSON); not 104, a replay of a key the raw zone holds under 90.
    expect(lake.records().map((r) => [r.symbol, r.sequenceNumber, r.time])).toEqual([
      ['MSFT', '101', OPEN], // in key order: 101-103-… before 90-90-…
      ['MSFT', '103', OPEN + 60_000],
      ['AAPL', '90', OPEN + 120_000],
    ]);
    expect(review.givenUp[1]!.lakeObjects).toEqual([]);
    expect(queue.deleted).toEqual(['m0', 'm1']);
    expect(queue.released).toEqual(['m2']);
  });

  it('with --recover: writes a record whose row landed but whose lake line did not', async () => {
    const queue = new Queue([givenUp('104', '104', 1)]);
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]).toMatchObject({ stored: 1, notInLake: 1, deleted: true });
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['104']);
  });

  it('leaves out a record the processor rejected (its rejected-record message is in the queue, before or after the range)', async () => {
    const queue = new Queue([givenUp('101', '103', 3), rejectedBody('103')]);
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]!.rejected.map((r) => r.sequenceNumber)).toEqual(['102', '103']);
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['101']);
  });

  it('keeps the message of a range it could not read whole: started past retention, or its last record not read', async () => {
    const queue = new Queue([givenUp('99', '101', 1), givenUp('103', '105', 3)]);
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
      error: "the range's last record (105) was not read: 2 record(s) read back",
    });
    // What is left of the range past retention (read to its last record) is written: it is the
    // next to expire. Nothing of the range whose end was not read.
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['100', '101']);
    expect(review.givenUp[1]!.lakeObjects).toEqual([]);
    expect(queue.deleted).toEqual([]);
    expect(queue.released).toEqual(['m0', 'm1']);
  });

  it('writes what is left of a range past retention once, says so, and keeps its message', async () => {
    const queue = new Queue([givenUp('99', '101', 3)]);
    const { d, lake } = deps(queue, records, stored);
    const first = await reviewDeadLetters(d, { recover: true });
    expect(first.givenUp[0]).toMatchObject({
      notInLake: 2,
      deleted: false,
      error:
        'the range starts past the stream retention: its first records are gone; the 2 left that the raw zone ' +
        'lacked were written (delete the message once noted)',
    });
    expect(first.givenUp[0]!.lakeObjects).toHaveLength(1);
    // The next run: the kept message, received again.
    queue.visible.push({ id: 'm0', receipt: 'r0b', body: givenUp('99', '101', 3) });
    const again = await reviewDeadLetters(d, { recover: true });
    expect(again.givenUp[0]).toMatchObject({
      notInLake: 0,
      lakeObjects: [],
      deleted: false,
      error:
        'the range starts past the stream retention: its first records are gone (delete the message once noted)',
    });
    expect(lake.objectCount).toBe(1);
    expect(queue.deleted).toEqual([]);
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
    expect(review.notReviewed).toBe(1);
    expect(queue.deleted).toEqual(['m0']);
    expect(queue.released.sort()).toEqual(['m1', 'm2']);
  });

  it('refuses to recover without a lake to write to', async () => {
    const { d } = deps(new Queue([]), records, stored);
    const { lake: _lake, ...noLake } = d;
    await expect(reviewDeadLetters(noLake, { recover: true })).rejects.toThrow('needs the lake writer');
  });

  it('keeps a range whose message could not be deleted, saying so', async () => {
    const queue = new Queue([givenUp('101', '101', 1)]);
    queue.failDelete = true;
    const { d, lake } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]).toMatchObject({
      deleted: false,
      error: 'recovered, but the message was not deleted: Error: AccessDenied: sqs:DeleteMessage',
    });
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['101']);
    expect(queue.released).toEqual(['m0']);
  });

  it('counts a message received twice once and releases it with its newest receipt', async () => {
    const queue = new Queue([rejectedBody('7'), givenUp('101', '101', 1)]);
    queue.visible.push({ ...queue.visible[0]!, receipt: 'r0-again' });
    const { d } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: false });
    expect(review.messages).toBe(2);
    expect(review.rejected).toEqual([expect.objectContaining({ sequenceNumber: '7', copies: 1 })]);
    expect(queue.releasedReceipts.sort()).toEqual(['r0-again', 'r1']);
  });

  it('takes at most --max messages, deleted ones included', async () => {
    const queue = new Queue(Array.from({ length: 30 }, () => givenUp('101', '101', 1)));
    const { d } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: true, max: 12 });
    expect(review.messages).toBe(12);
    expect(queue.deleted).toHaveLength(12);
    expect(queue.visible).toHaveLength(18);
  });

  it('holds no message body once read: what it deletes or releases is the id and the receipt', async () => {
    const given: DeadLetterMessage[] = [];
    const queue = new (class extends Queue {
      override async delete(messages: readonly DeadLetterMessage[]) {
        given.push(...messages);
        await super.delete(messages);
      }
      override async release(messages: readonly DeadLetterMessage[]) {
        given.push(...messages);
        await super.release(messages);
      }
    })([rejectedBody('7'), givenUp('101', '101', 1), givenUp('102', '102', 1)]);
    const { d } = deps(queue, records, stored);
    await reviewDeadLetters(d, { recover: true });
    expect(given.map((m) => m.id).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(given.every((m) => m.body === '' && m.receipt === `r${m.id.slice(1)}`)).toBe(true);
  });

  it('takes at most 120,000 messages, SQS’s limit of messages in flight, whatever --max', async () => {
    const queue = new Queue(Array.from({ length: 120_005 }, (_, i) => rejectedBody(String(i))));
    const { d } = deps(queue, records, stored);
    const review = await reviewDeadLetters(d, { recover: false, max: 200_000 });
    expect(review.messages).toBe(120_000);
    expect(queue.visible).toHaveLength(5);
  });

  it('leaves out what the processor’s engine refuses: a bar outside its exchange’s sessions', async () => {
    const night = barRecord('MSFT', -630, '300'); // 03:00 UTC: NYSE is closed
    const queue = new Queue([givenUp('300', '300', 1)]);
    const { d, lake } = deps(queue, [night], stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]!.rejected).toEqual([
      { sequenceNumber: '300', reason: expect.stringContaining('outside trading hours') },
    ]);
    expect(review.givenUp[0]!.deleted).toBe(true);
    expect(lake.objectCount).toBe(0);
  });

  it('reviews ranges in stream order: of two copies of a key, the earlier is written', async () => {
    const first = barRecord('MSFT', 5, '200');
    const original = barRecord('MSFT', 5, '300');
    const revised = {
      ...original,
      data: Buffer.from(
        Buffer.from(original.data, 'base64').toString().replace('"close":10.5', '"close":10.8'),
      ).toString('base64'),
    };
    const queue = new Queue([givenUp('300', '300', 1), givenUp('200', '200', 1)]);
    const { d, lake } = deps(queue, [first, revised], stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp.map((g) => g.letter.startSequenceNumber)).toEqual(['200', '300']);
    expect(lake.records().map((r) => [r.sequenceNumber, (r.event as { close: number }).close])).toEqual([
      ['200', 10.5],
    ]);
  });

  it('counts a raw line only if the compaction would take it, and an unreadable object as holding nothing', async () => {
    const queue = new Queue([givenUp('101', '101', 1), givenUp('103', '103', 1)]);
    const { d, lake } = deps(queue, records, stored);
    const held = processorLineOf(records[1]!);
    const raw: RawLakeReader = {
      listDay: async (day) => [
        `raw/dt=${day}/shard=shardId-000000000000/a.ndjson.gz`,
        `raw/dt=${day}/shard=shardId-000000000000/b.ndjson.gz`,
      ],
      read: async (key) => {
        if (key.endsWith('b.ndjson.gz')) throw new UnreadableRawObjectError('not gzip');
        // MSFT 101's key, but a line without shardId: the compaction rejects it.
        const { shardId: _s, ...line } = held;
        return `${JSON.stringify(line)}\n`;
      },
    };
    const review = await reviewDeadLetters({ ...d, raw }, { recover: true });
    expect(review.givenUp.map((g) => [g.notInLake, g.deleted])).toEqual([
      [1, true],
      [1, true],
    ]);
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['101', '103']);
  });

  it('counts the whole lines of an object cut off before the damage, as the compaction keeps them', async () => {
    const queue = new Queue([givenUp('101', '101', 1), givenUp('103', '103', 1)]);
    const { d, lake } = deps(queue, records, stored);
    // MSFT 101's line whole, MSFT 103's cut off inside it.
    const partial = `${JSON.stringify(processorLineOf(records[1]!))}\n${JSON.stringify(processorLineOf(records[3]!)).slice(0, 60)}`;
    const raw: RawLakeReader = {
      listDay: async (day) => [`raw/dt=${day}/shard=shardId-000000000000/a.ndjson.gz`],
      read: async () => {
        throw new UnreadableRawObjectError('gzip cut off: unexpected end of file', partial);
      },
    };
    const review = await reviewDeadLetters({ ...d, raw }, { recover: true });
    expect(review.givenUp.map((g) => [g.notInLake, g.deleted])).toEqual([
      [0, true],
      [1, true],
    ]);
    expect(lake.records().map((r) => r.sequenceNumber)).toEqual(['103']);
  });

  it('tries a raw-zone day again after its load failed', async () => {
    const queue = new Queue([givenUp('101', '101', 1), givenUp('103', '103', 1)]);
    const { d, lake } = deps(queue, records, stored);
    let lists = 0;
    const raw: RawLakeReader = {
      listDay: async (day) => {
        if (lists++ === 0) throw new Error('SlowDown');
        return lake.listDay(day);
      },
      read: (key) => lake.read(key),
    };
    const review = await reviewDeadLetters({ ...d, raw }, { recover: true });
    expect(review.givenUp.map((g) => [g.deleted, g.error])).toEqual([
      [false, 'Error: SlowDown'],
      [true, undefined],
    ]);
    expect(lists).toBe(2);
  });

  it('decodes with the clock of when the batch was given up: a time then in the future is rejected', async () => {
    // 80 minutes after the give-up (13:40), though only a second before the record's arrival.
    const future = barRecord('MSFT', 90, '200');
    const queue = new Queue([givenUp('200', '200', 1)]);
    const { d, lake } = deps(queue, [future], stored);
    const review = await reviewDeadLetters(d, { recover: true });
    expect(review.givenUp[0]!.rejected).toEqual([
      { sequenceNumber: '200', reason: expect.stringContaining('future') },
    ]);
    expect(lake.objectCount).toBe(0);
  });
});
