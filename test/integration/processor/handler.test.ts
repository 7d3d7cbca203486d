/**
 * The processTicks handler as Lambda invokes it: Kinesis events built by a factory, the handler's
 * real adapters pointed at the emulators through its template environment.
 */

import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { countMetricRows } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
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
});
