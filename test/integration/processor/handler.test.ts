/**
 * The processTicks handler as Lambda invokes it: Kinesis events built by a factory, the handler's
 * real adapters pointed at the emulators through its template environment.
 */

import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { countMetricRows } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { DynamoDbStateStore } from '../../../src/adapters/aws/dynamodb-state-store.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { captureJsonLines, emfMetrics } from '../../support/json-output.ts';
import { kinesisEvent } from '../../support/kinesis-events.ts';
import { storeUnreadableState, useLocalCloud } from '../../support/local-cloud.ts';

type Handler = (e: KinesisStreamEvent, c: Context) => Promise<KinesisStreamBatchResponse>;

const context = { functionName: 'tickstream-dev-processTicks', awsRequestId: 'test' } as unknown as Context;

function bar(symbol: string, minute: number) {
  const start = Date.parse('2024-10-02T13:30:00Z') + minute * 60_000;
  return encodeMarketEvent({
    kind: 'bar',
    bar: {
      symbol,
      start,
      interval: '1m',
      open: 100,
      high: 101,
      low: 99,
      close: 100.5,
      volume: 1000,
      session: 'regular',
      source: 'replay',
    },
  });
}

describe('processTicks handler', () => {
  const cloud = useLocalCloud();

  async function loadHandler(): Promise<Handler> {
    Object.assign(process.env, cloud().functionEnv('ProcessTicksLambdaFunction'));
    return ((await import('../../../functions/process-ticks.ts')) as { handler: Handler }).handler;
  }

  it('reports a failing symbol from its first record and stores the other symbols', async () => {
    const c = cloud();
    const handler = await loadHandler();
    // MSFT's stored state is unusable (an incompatible snapshot): MSFT must fail, AAPL succeed.
    await storeUnreadableState(c, 'MSFT');
    const records = [0, 1, 2].flatMap((m) => [
      { partitionKey: 'AAPL', payload: bar('AAPL', m), sequenceNumber: String(100 + 2 * m) },
      { partitionKey: 'MSFT', payload: bar('MSFT', m), sequenceNumber: String(101 + 2 * m) },
    ]);
    const response = await handler(kinesisEvent(records), context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
    expect(await countMetricRows(c.clients.documents, c.env.MARKET_TABLE_NAME!, 'AAPL', 'bar')).toBe(3);
    expect(await countMetricRows(c.clients.documents, c.env.MARKET_TABLE_NAME!, 'MSFT', 'bar')).toBe(0);

    // Lambda redelivers from the reported record: AAPL's are duplicates now, MSFT still fails alone.
    const again = await handler(kinesisEvent(records.slice(1)), context);
    expect(again).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
    expect(await countMetricRows(c.clients.documents, c.env.MARKET_TABLE_NAME!, 'AAPL', 'bar')).toBe(3);
  });

  it('reports every failing symbol from its own first record, the earliest among them', async () => {
    const c = cloud();
    const handler = await loadHandler();
    // Two symbols fail (unusable stored state), one between them succeeds. Lambda retries the shard
    // from the lowest sequence number reported: a response naming only the later symbol's record
    // would let the checkpoint pass the earlier symbol's records, which would then never be retried.
    await storeUnreadableState(c, 'GOOG');
    await storeUnreadableState(c, 'META');
    const records = [0, 1].flatMap((m) => [
      { partitionKey: 'META', payload: bar('META', m), sequenceNumber: String(300 + 3 * m) },
      { partitionKey: 'NVDA', payload: bar('NVDA', m), sequenceNumber: String(301 + 3 * m) },
      { partitionKey: 'GOOG', payload: bar('GOOG', m), sequenceNumber: String(302 + 3 * m) },
    ]);
    const { result: response, lines } = await captureJsonLines(() => handler(kinesisEvent(records), context));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '300' }, { itemIdentifier: '302' }] });
    expect(await countMetricRows(c.clients.documents, c.env.MARKET_TABLE_NAME!, 'NVDA', 'bar')).toBe(2);
    // The dashboard's counts of the batch: six records in, NVDA's two processed, two failures.
    expect(
      lines
        .filter((l) => 'BatchItemFailures' in l)
        .map((l) => [l.RecordsReceived, l.RecordsProcessed, l.BatchItemFailures]),
    ).toEqual([[6, 2, 2]]);
  });

  it('logs a batch that throws, with the records it got, and sends its metrics; no key of the batch before', async () => {
    const handler = await loadHandler();
    // A batch of another shard first: its shard and first sequence number are in its lines only.
    const before = await captureJsonLines(() =>
      handler(
        kinesisEvent(
          [{ partitionKey: 'IBM', payload: bar('IBM', 0), sequenceNumber: '700' }],
          'shardId-000000000007',
        ),
        context,
      ),
    );
    expect(before.lines.find((l) => l.message === 'batch processed')).toMatchObject({
      shardId: 'shardId-000000000007',
      firstSequenceNumber: '700',
    });

    // An event the handler cannot take (an eventID without its shard): the invocation throws, and
    // Lambda retries the whole batch. That is not silent: an error line, and the records received.
    const event = kinesisEvent([
      { partitionKey: 'IBM', payload: bar('IBM', 1), sequenceNumber: '701' },
      { partitionKey: 'IBM', payload: bar('IBM', 2), sequenceNumber: '702' },
    ]);
    event.Records[0]!.eventID = '701';
    const thrown = await captureJsonLines(() => handler(event, context).then(() => 'returned', String));
    expect(thrown.result).toMatch(/eventID "701" has no "shardId:sequenceNumber" form/);
    const errors = thrown.lines.filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: 'batch failed; the whole batch will be retried',
      function_name: 'tickstream-dev-processTicks',
      received: 2,
      error: { name: 'Error', message: expect.stringMatching(/eventID "701"/) },
    });
    expect(errors[0]).not.toHaveProperty('shardId');
    expect(errors[0]).not.toHaveProperty('firstSequenceNumber');
    expect(emfMetrics(thrown.lines).map((m) => [m.name, m.dimensions])).toEqual([
      ['RecordsReceived', ['service']],
    ]);
    expect(thrown.lines.find((l) => 'RecordsReceived' in l)?.RecordsReceived).toBe(2);
  });

  it('logs an event that is no Kinesis batch at all (a console test event) and still flushes its metrics', async () => {
    const handler = await loadHandler();
    const { result, lines } = await captureJsonLines(() =>
      handler({} as KinesisStreamEvent, context).then(
        () => 'returned',
        (err: Error) => err.name,
      ),
    );
    expect(result).toBe('TypeError');
    expect(lines.filter((l) => l.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'batch failed; the whole batch will be retried',
        received: 0,
        error: expect.objectContaining({ name: 'TypeError' }),
      }),
    ]);
    expect(lines.filter((l) => 'RecordsReceived' in l).map((l) => l.RecordsReceived)).toEqual([0]);
  });

  it('logs a batch cut off by the early timeout, and keeps what it does after out of the next invocation', async () => {
    const c = cloud();
    const handler = await loadHandler();
    const state = new DynamoDbStateStore({
      documents: c.clients.documents,
      tableName: c.env.MARKET_TABLE_NAME!,
    });
    const savedUpTo = async (symbol: string) => {
      const s = (await state.loadMany([symbol])).get(symbol);
      return s instanceof Error ? undefined : s?.lastSequenceNumber;
    };
    const { lines } = await captureJsonLines(async () => {
      // 5 ms left: middy gives up on the handler at once (its timeoutEarlyInMillis) and the
      // invocation fails; the handler itself runs on, as it would in a warm Lambda environment.
      const late = { ...context, getRemainingTimeInMillis: () => 5 } as Context;
      const cutOff = await handler(
        kinesisEvent(
          [
            { partitionKey: 'TSLA', payload: bar('TSLA', 0), sequenceNumber: '800' },
            { partitionKey: 'TSLA', payload: bar('TSLA', 1), sequenceNumber: '801' },
          ],
          'shardId-000000000008',
        ),
        late,
      ).then(
        () => 'returned',
        (err: Error) => err.name,
      );
      expect(cutOff).toBe('TimeoutError');
      // The abandoned batch finishes (its state saved), then the environment's next invocation.
      for (let i = 0; i < 200 && (await savedUpTo('TSLA')) !== '801'; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await savedUpTo('TSLA')).toBe('801');
      await new Promise((resolve) => setImmediate(resolve));
      return handler(
        kinesisEvent([{ partitionKey: 'AMZN', payload: bar('AMZN', 0), sequenceNumber: '900' }]),
        context,
      );
    });

    expect(lines.filter((l) => l.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'batch failed; the whole batch will be retried',
        shardId: 'shardId-000000000008',
        firstSequenceNumber: '800',
        received: 2,
        error: expect.objectContaining({ name: 'TimeoutError' }),
      }),
    ]);
    // The abandoned batch's outcome is a line of its own, under its own shard keys.
    expect(lines.filter((l) => l.level === 'WARN')).toEqual([
      expect.objectContaining({
        message: 'batch finished after its invocation timed out; the retry reports its records',
        shardId: 'shardId-000000000008',
        firstSequenceNumber: '800',
        received: 2,
        processed: 2,
      }),
    ]);
    // The next invocation's line and metrics are its own: one record, not the abandoned batch's too.
    expect(lines.filter((l) => l.message === 'batch processed')).toEqual([
      expect.objectContaining({ received: 1, firstSequenceNumber: '900' }),
    ]);
    expect(
      lines.filter((l) => 'RecordsProcessed' in l).map((l) => [l.RecordsReceived, l.RecordsProcessed]),
    ).toEqual([[1, 1]]);
    expect(lines.filter((l) => 'RecordsReceived' in l).map((l) => l.RecordsReceived)).toEqual([2, 1]);
  });
});
