import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { KINESIS_LIMITS, KinesisPublisher } from '../../../src/adapters/aws/kinesis-publisher.ts';
import { LOCAL_CREDENTIALS } from '../../../src/config/aws.ts';
import { decodeMarketEvent, encodeMarketEvent, type MarketEvent } from '../../../src/domain/market/index.ts';
import { type SilentServer, startSilentServer } from '../../support/silent-server.ts';

const T0 = Date.parse('2024-10-02T13:30:00Z');
const tick = (symbol: string, i: number): MarketEvent => ({
  kind: 'tick',
  tick: { symbol, time: T0 + i * 1000, price: 100 + i / 100, source: 'synthetic' },
});

/** A stand-in stream: keeps what it accepted per partition key, fails the entries `fail` picks. */
class FakeStream {
  readonly accepted = new Map<string, number[]>();
  readonly calls: { keys: string[]; bytes: number }[] = [];
  private readonly fail: (key: string, seq: number, call: number) => string | undefined;
  constructor(fail: (key: string, seq: number, call: number) => string | undefined = () => undefined) {
    this.fail = fail;
  }
  async send(cmd: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const records = cmd.input.Records ?? [];
    const call = this.calls.length;
    this.calls.push({
      keys: records.map((r) => r.PartitionKey!),
      bytes: records.reduce((n, r) => n + (r.Data?.byteLength ?? 0) + r.PartitionKey!.length, 0),
    });
    const out = records.map((r) => {
      const decoded = decodeMarketEvent(new TextDecoder().decode(r.Data), Number.POSITIVE_INFINITY);
      const seq = decoded.ok && decoded.value.kind === 'tick' ? (decoded.value.tick.time - T0) / 1000 : -1;
      const code = this.fail(r.PartitionKey!, seq, call);
      if (code) return { ErrorCode: code, ErrorMessage: 'injected' };
      const list = this.accepted.get(r.PartitionKey!) ?? [];
      list.push(seq);
      this.accepted.set(r.PartitionKey!, list);
      return { SequenceNumber: String(call), ShardId: 'shardId-000000000000' };
    });
    return { Records: out, FailedRecordCount: out.filter((r) => 'ErrorCode' in r).length, $metadata: {} };
  }
}

const noSleep = { sleep: async () => {}, random: () => 0.5 };

describe('KinesisPublisher', () => {
  it('sends at most 500 records per call', async () => {
    const stream = new FakeStream();
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      maxBufferedRecords: 5_000,
      ...noSleep,
    });
    const symbols = Array.from({ length: 1_200 }, (_, i) => `S${i}`);
    for (const s of symbols) await p.publish(tick(s, 0));
    const r = await p.flush();
    expect(r.delivered).toBe(1_200);
    expect(Math.max(...stream.calls.map((c) => c.keys.length))).toBeLessThanOrEqual(
      KINESIS_LIMITS.recordsPerCall,
    );
    expect(stream.calls.map((c) => c.keys.length).reduce((a, b) => a + b)).toBe(1_200);
  });

  it('keeps each call within 5 MiB and rejects a record over 1 MiB with its size', async () => {
    const stream = new FakeStream();
    const failed: string[] = [];
    // 400 KiB payloads: 13 fit in 5 MiB, not 14
    const pad = (e: MarketEvent) => JSON.stringify({ e, pad: 'x'.repeat(400 * 1024) });
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      encode: (e) => (e.kind === 'tick' && e.tick.symbol === 'HUGE' ? 'y'.repeat(1024 * 1024) : pad(e)),
      onFailed: (f) => failed.push(f.reason),
      ...noSleep,
    });
    for (let i = 0; i < 30; i++) await p.publish(tick(`S${i}`, 0));
    await p.publish(tick('HUGE', 0));
    const r = await p.flush();
    expect(r.delivered).toBe(30);
    for (const c of stream.calls) expect(c.bytes).toBeLessThanOrEqual(KINESIS_LIMITS.bytesPerCall);
    expect(stream.calls[0]?.keys.length).toBe(Math.floor(KINESIS_LIMITS.bytesPerCall / (400 * 1024 + 200)));
    expect(r.failed.map((f) => (f.event.kind === 'tick' ? f.event.tick.symbol : ''))).toEqual(['HUGE']);
    expect(failed[0]).toMatch(/1048580 bytes; Kinesis accepts at most 1048576 bytes per record/);
  });

  it('takes partition keys of 1 to 256 characters and reports any other alone, before any call', async () => {
    const stream = new FakeStream();
    const p = new KinesisPublisher({ streamName: 's', kinesis: stream, ...noSleep });
    for (const symbol of ['K'.repeat(256), 'K'.repeat(257), '', 'OK']) await p.publish(tick(symbol, 0));
    const r = await p.flush();
    expect(r.delivered).toBe(2);
    expect(
      r.failed.map((f) => [f.event.kind === 'tick' ? f.event.tick.symbol.length : -1, f.reason]),
    ).toEqual([
      [257, 'partition key is 257 characters; Kinesis accepts 1 to 256'],
      [0, 'partition key is 0 characters; Kinesis accepts 1 to 256'],
    ]);
    expect(stream.calls.map((c) => c.keys.map((k) => k.length))).toEqual([[256, 2]]);
  });

  it('resends only failed entries and keeps every symbol in order, each record once', async () => {
    // Deterministic pseudo-random failures: about 30% of entries fail on their first tries.
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const stream = new FakeStream(() => (rnd() < 0.3 ? 'ProvisionedThroughputExceededException' : undefined));
    const p = new KinesisPublisher({ streamName: 's', kinesis: stream, maxAttempts: 50, ...noSleep });
    const symbols = ['AAPL', 'MSFT', 'SPY', 'BTC-USD', 'EURUSD=X'];
    const n = 200;
    for (let i = 0; i < n; i++) for (const s of symbols) await p.publish(tick(s, i));
    const r = await p.flush();
    expect(r.failed).toEqual([]);
    expect(r.delivered).toBe(n * symbols.length);
    expect(r.retries).toBeGreaterThan(0);
    for (const s of symbols) expect(stream.accepted.get(s)).toEqual(Array.from({ length: n }, (_, i) => i));
    // the ordering rule: never two records of one symbol in one call
    for (const c of stream.calls) expect(new Set(c.keys).size).toBe(c.keys.length);
  });

  it('holds back a symbol whose record failed: its later records wait, other symbols go on', async () => {
    // AAPL #0 fails twice; MSFT never fails
    let aaplFailures = 0;
    const stream = new FakeStream((key, seq) =>
      key === 'AAPL' && seq === 0 && aaplFailures++ < 2 ? 'InternalFailure' : undefined,
    );
    const p = new KinesisPublisher({ streamName: 's', kinesis: stream, ...noSleep });
    for (let i = 0; i < 3; i++) {
      await p.publish(tick('AAPL', i));
      await p.publish(tick('MSFT', i));
    }
    await p.flush();
    expect(stream.accepted.get('AAPL')).toEqual([0, 1, 2]);
    expect(stream.accepted.get('MSFT')).toEqual([0, 1, 2]);
    // calls 2 and 3 resend AAPL #0 (not #1) next to MSFT #1 and #2; AAPL #1 and #2 follow
    expect(stream.calls.map((c) => c.keys.sort())).toEqual([
      ['AAPL', 'MSFT'],
      ['AAPL', 'MSFT'],
      ['AAPL', 'MSFT'],
      ['AAPL'],
      ['AAPL'],
    ]);
  });

  it('with holdSymbolAfterFailure, a record published after its symbol failed is not sent until the next flush', async () => {
    const stream = new FakeStream((key, seq) =>
      key === 'AAPL' && seq === 0 ? 'InternalFailure' : undefined,
    );
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      maxAttempts: 1,
      holdSymbolAfterFailure: true,
      ...noSleep,
    });
    await p.publish(tick('AAPL', 0));
    // Let the writer try AAPL #0 and give it up before the symbol's next record is published.
    for (let i = 0; i < 100 && p.pending > 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.pending).toBe(0);
    await p.publish(tick('AAPL', 1));
    await p.publish(tick('MSFT', 1));
    const r = await p.flush();
    expect(r.failed.map((f) => f.reason)).toEqual([
      'not delivered after 1 attempts: InternalFailure: injected',
      'not sent: an earlier record of AAPL was not delivered',
    ]);
    expect(stream.accepted.get('AAPL')).toBeUndefined();
    expect(stream.accepted.get('MSFT')).toEqual([1]);
    // The next flush's records go again (the poller resends AAPL #0 from its cursor first).
    await p.publish(tick('AAPL', 2));
    expect(await p.flush()).toMatchObject({ delivered: 1, failed: [] });
  });

  it('reports a record after the bounded number of tries, with the reason, and delivers the rest', async () => {
    const stream = new FakeStream((key, seq) => (key === 'BAD' && seq === 1 ? 'InternalFailure' : undefined));
    const reported: string[] = [];
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      maxAttempts: 3,
      onFailed: (f) => reported.push(f.reason),
      ...noSleep,
    });
    for (let i = 0; i < 3; i++) {
      await p.publish(tick('BAD', i));
      await p.publish(tick('OK', i));
    }
    const r = await p.flush();
    expect(r.delivered).toBe(5);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]).toMatchObject({ attempts: 3, event: tick('BAD', 1) });
    expect(reported).toEqual(['not delivered after 3 attempts: InternalFailure: injected']);
    expect(stream.accepted.get('BAD')).toEqual([0, 2]);
    expect(stream.accepted.get('OK')).toEqual([0, 1, 2]);
  });

  it('keeps going when onFailed or onCall throws: every record is still delivered or reported', async () => {
    const stream = new FakeStream((key, seq) => (key === 'BAD' && seq < 2 ? 'InternalFailure' : undefined));
    const seen: string[] = [];
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      maxAttempts: 2,
      encode: (e) =>
        e.kind === 'tick' && e.tick.symbol === 'HUGE' ? 'y'.repeat(1024 * 1024) : encodeMarketEvent(e),
      onFailed: (f) => {
        seen.push(f.event.kind === 'tick' ? `${f.event.tick.symbol}#${f.event.tick.time - T0}` : '');
        throw new Error('logger broke');
      },
      onCall: () => {
        throw new Error('metrics broke');
      },
      ...noSleep,
    });
    for (let i = 0; i < 3; i++) {
      await p.publish(tick('BAD', i));
      await p.publish(tick('OK', i));
    }
    await p.publish(tick('HUGE', 0)); // refused in publish(): the caller is not thrown at either
    const r = await p.flush();
    expect(r.failed.map((f) => (f.event.kind === 'tick' ? f.event.tick.symbol : ''))).toEqual([
      'HUGE',
      'BAD',
      'BAD',
    ]);
    expect(seen).toEqual(['HUGE#0', 'BAD#0', 'BAD#1000']);
    expect(r.delivered).toBe(4);
    expect(stream.accepted.get('OK')?.length).toBe(3);
    expect(stream.accepted.get('BAD')?.length).toBe(1);
    expect(p.pending).toBe(0);
    // The next run starts clean.
    await p.publish(tick('OK', 3));
    expect(await p.flush()).toMatchObject({ delivered: 1, failed: [] });
  });

  it('retries a whole-call error and reports a permanent one at once', async () => {
    let throttled = 2;
    const flaky = {
      send: async (cmd: PutRecordsCommand) => {
        if (throttled-- > 0)
          throw Object.assign(new Error('Rate exceeded'), { name: 'LimitExceededException' });
        return new FakeStream().send(cmd);
      },
    };
    const p1 = new KinesisPublisher({ streamName: 's', kinesis: flaky, ...noSleep });
    await p1.publish(tick('AAPL', 0));
    expect(await p1.flush()).toMatchObject({ delivered: 1, calls: 3, retries: 2, failed: [] });

    const missing = {
      send: async () => {
        throw Object.assign(new Error('Stream s not found'), { name: 'ResourceNotFoundException' });
      },
    };
    const p2 = new KinesisPublisher({ streamName: 's', kinesis: missing, ...noSleep });
    await p2.publish(tick('AAPL', 0));
    await p2.publish(tick('MSFT', 0));
    const r2 = await p2.flush();
    expect(r2.calls).toBe(1);
    expect(r2.failed.map((f) => f.reason)).toEqual([
      'PutRecords failed permanently: ResourceNotFoundException: Stream s not found',
      'PutRecords failed permanently: ResourceNotFoundException: Stream s not found',
    ]);

    // A request Kinesis refuses as invalid is refused again on every try: reported, not retried.
    const invalid = {
      send: async () => {
        throw Object.assign(new Error('1 validation error detected'), { name: 'ValidationException' });
      },
    };
    const p3 = new KinesisPublisher({ streamName: 's', kinesis: invalid, ...noSleep });
    await p3.publish(tick('AAPL', 0));
    const r3 = await p3.flush();
    expect(r3).toMatchObject({ calls: 1, retries: 0, delivered: 0 });
    expect(r3.failed.map((f) => f.reason)).toEqual([
      'PutRecords failed permanently: ValidationException: 1 validation error detected',
    ]);
  });

  it('never sleeps a backoff past its deadline', async () => {
    const stream = new FakeStream((key) => (key === 'AAPL' ? 'InternalFailure' : undefined));
    const slept: number[] = [];
    const deadline = Date.now() + 60_000;
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stream,
      maxAttempts: 3,
      // Full jitter at 0.5 of a 10-minute cap: a 5-minute backoff, far past the deadline.
      baseDelayMs: 600_000,
      maxDelayMs: 600_000,
      deadline: () => deadline,
      random: () => 0.5,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    await p.publish(tick('AAPL', 0));
    const r = await p.flush();
    expect(r.failed).toHaveLength(1);
    expect(slept).toHaveLength(2);
    for (const ms of slept) expect(ms).toBeLessThanOrEqual(60_000);
  });

  it('applies back-pressure: a stalled stream stops the source at the buffer bound', async () => {
    let release: () => void = () => {};
    const stalled = {
      send: (cmd: PutRecordsCommand) =>
        new Promise<PutRecordsCommandOutput>((resolve) => {
          release = () => resolve(new FakeStream().send(cmd) as unknown as PutRecordsCommandOutput);
        }).then((x) => x),
    };
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: stalled,
      maxBufferedRecords: 100,
      ...noSleep,
    });
    let produced = 0;
    const producer = (async () => {
      for (let i = 0; i < 700; i++) {
        produced++;
        await p.publish(tick(`S${i % 7}`, i));
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(p.pending).toBe(100);
    // the source was pulled once more than the buffer holds (the event waiting for space)
    expect(produced).toBe(101);
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(produced).toBeGreaterThan(101);
    expect(p.pending).toBeLessThanOrEqual(100);
    // unblock the rest so the producer ends
    const pumpAll = setInterval(() => release(), 1);
    await producer;
    await p.flush();
    clearInterval(pumpAll);
  });
});

describe('KinesisPublisher with a stream endpoint that never answers', () => {
  // A real socket on 127.0.0.1 that accepts the connection and the request, and never responds.
  let server: SilentServer;
  let clients: AwsClients;
  beforeAll(async () => {
    server = await startSilentServer();
    clients = createAwsClients({
      region: 'us-east-1',
      endpoints: { kinesis: server.endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
  });
  afterAll(async () => {
    clients.destroy();
    await server.close();
  });

  it('gives up a call after callTimeoutMs and reports the records, instead of waiting forever', async () => {
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: clients.kinesis,
      maxAttempts: 2,
      callTimeoutMs: 300,
      ...noSleep,
    });
    await p.publish(tick('AAPL', 0));
    const started = Date.now();
    const r = await Promise.race([
      p.flush(),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000)),
    ]);
    expect(r).not.toBe('hung');
    if (r === 'hung') return;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(r.delivered).toBe(0);
    expect(r.calls).toBe(2);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]!.reason).toMatch(/not delivered after 2 attempts: .*no answer within 300 ms/);
  }, 10_000);

  it('stops at its deadline, whatever its tries and call timeout, and reports every record', async () => {
    let deadline = Date.now() + 600;
    const p = new KinesisPublisher({
      streamName: 's',
      kinesis: clients.kinesis,
      maxAttempts: 6,
      callTimeoutMs: 10_000, // six tries of these would take a minute
      deadline: () => deadline,
      ...noSleep,
    });
    await p.publish(tick('AAPL', 0));
    await p.publish(tick('AAPL', 1));
    await p.publish(tick('MSFT', 0));
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 800));
    await p.publish(tick('MSFT', 1)); // after the deadline, before the flush: not sent either
    const r = await p.flush();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r.delivered).toBe(0);
    expect(r.calls).toBe(1);
    const reasons = r.failed.map((f) => `${f.event.kind === 'tick' ? f.event.tick.symbol : ''}: ${f.reason}`);
    expect(reasons).toHaveLength(4);
    expect(reasons[0]).toMatch(
      /^AAPL: not delivered by the writer's deadline .* after 1 attempts: TimeoutError: PutRecords had no answer/,
    );
    expect(reasons[1]).toMatch(/^AAPL: not sent: the writer's deadline .* passed$/);
    expect(reasons.slice(2).map((x) => x.split(':')[0])).toEqual(['MSFT', 'MSFT']);

    // The next run, with a deadline of its own, is tried again.
    deadline = Date.now() + 300;
    await p.publish(tick('AAPL', 0));
    const again = await p.flush();
    expect(again.calls).toBe(1);
    expect(again.failed).toHaveLength(1);
  }, 10_000);
});
