import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DynamoDbMetricsStore,
  UnprocessedItemsError,
} from '../../../src/adapters/aws/dynamodb-metrics-store.ts';
import { type MetricRow, RowsNotWrittenError } from '../../../src/ports/processor.ts';

const TABLE = 'market';
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddb = mockClient(documents);
const noSleep = { sleep: async () => {}, random: () => 0 };
// 2024-03-08T14:30:00Z
const T0 = Date.UTC(2024, 2, 8, 14, 30);

afterEach(() => ddb.reset());

function bar(symbol: string, minute: number, close: number): MetricRow {
  return { symbol, time: T0 + minute * 60_000, kind: 'bar', values: { close, session: 'regular' } };
}

type Put = { PutRequest: { Item: Record<string, unknown> } };

/** A store writing one chunk at a time (the order of calls is the rows' order), retrying twice. */
const oneChunkAtATime = () =>
  new DynamoDbMetricsStore({
    documents,
    tableName: TABLE,
    ttlDays: 7,
    backoff: { ...noSleep, maxRetries: 2 },
    writeConcurrency: 1,
  });

describe('DynamoDbMetricsStore.write', () => {
  it('writes rows in batches of ≤ 25 with no duplicate key in a batch, the last duplicate winning', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const rows = Array.from({ length: 60 }, (_, i) => bar('AAPL', i, 100 + i));
    // Duplicates of minutes 3 and 40 (a retry resends them), with revised values.
    rows.push(bar('AAPL', 3, 999), bar('AAPL', 40, 777));
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 7, now: () => T0 });
    await store.write(rows);
    const batches = ddb
      .commandCalls(BatchWriteCommand)
      .map((c) => c.args[0].input.RequestItems![TABLE] as Put[]);
    expect(batches.map((b) => b.length)).toEqual([25, 25, 10]);
    const keys = batches.flat().map((p) => `${p.PutRequest.Item.pk}|${p.PutRequest.Item.sk}`);
    expect(new Set(keys).size).toBe(60);
    const m3 = batches.flat().find((p) => p.PutRequest.Item.sk === 'BAR#2024-03-08T14:33:00.000Z');
    expect(m3!.PutRequest.Item).toEqual({
      pk: 'SYMBOL#AAPL',
      sk: 'BAR#2024-03-08T14:33:00.000Z',
      symbol: 'AAPL',
      time: T0 + 3 * 60_000,
      kind: 'bar',
      values: { close: 999, session: 'regular' },
      // event time (seconds) + 7 days
      expiresAt: T0 / 1000 + 180 + 7 * 86_400,
    });
  });

  it('stores non-finite numbers as null and tick rows under TICK#', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 1 });
    await store.write([
      { symbol: 'MSFT', time: T0 + 1234, kind: 'tick', values: { price: 1, rsi: Number.NaN } },
    ]);
    const item = (ddb.commandCalls(BatchWriteCommand)[0]!.args[0].input.RequestItems![TABLE] as Put[])[0]!
      .PutRequest.Item;
    expect(item.sk).toBe('TICK#2024-03-08T14:30:01.234Z');
    expect(item.values).toEqual({ price: 1, rsi: null });
  });

  it('puts one forward-only LATEST per symbol, with the newest row', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 7, now: () => 5 });
    await store.write([bar('AAPL', 2, 12), bar('MSFT', 1, 21), bar('AAPL', 5, 15), bar('AAPL', 4, 14)]);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(2);
    const aapl = puts.find((p) => p.Item!.pk === 'SYMBOL#AAPL')!;
    expect(aapl.Item).toEqual({
      pk: 'SYMBOL#AAPL',
      sk: 'LATEST',
      symbol: 'AAPL',
      time: T0 + 5 * 60_000,
      kind: 'bar',
      values: { close: 15, session: 'regular' },
      updatedAt: 5,
    });
    expect(aapl.ConditionExpression).toBe('attribute_not_exists(pk) OR #time < :time');
    expect(aapl.ExpressionAttributeValues).toEqual({ ':time': T0 + 5 * 60_000 });
  });

  it('writes LATEST items the caller vouches for inside the batch writes, with no conditional put', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 7, now: () => 5 });
    const rows = Array.from({ length: 30 }, (_, i) => bar(i % 2 ? 'AAPL' : 'MSFT', i, i));
    await store.write(rows, [rows[29]!, rows[28]!]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    const items = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((c) => (c.args[0].input.RequestItems![TABLE] as Put[]).map((p) => p.PutRequest.Item));
    expect(items).toHaveLength(32);
    const latest = items.filter((i) => i.sk === 'LATEST');
    expect(latest.map((i) => [i.pk, i.time, i.updatedAt])).toEqual([
      ['SYMBOL#AAPL', T0 + 29 * 60_000, 5],
      ['SYMBOL#MSFT', T0 + 28 * 60_000, 5],
    ]);
    expect(latest[0]!.values).toEqual(
      items.find((i) => i.sk !== 'LATEST' && i.time === T0 + 29 * 60_000)!.values,
    );
  });

  it('ignores a LATEST condition failure (an older row) but not other errors', async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 7 });
    await expect(store.write([bar('AAPL', 1, 1)])).resolves.toBeUndefined();
    ddb.on(PutCommand).rejects(new Error('throttled for good'));
    await expect(store.write([bar('AAPL', 1, 1)])).rejects.toThrow('throttled for good');
  });

  it('retries UnprocessedItems with backoff until every row is written', async () => {
    const store = new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 7, backoff: noSleep });
    ddb.on(PutCommand).resolves({});
    ddb
      .on(BatchWriteCommand)
      .callsFakeOnce((input) => ({
        UnprocessedItems: { [TABLE]: (input.RequestItems[TABLE] as Put[]).slice(0, 7) },
      }))
      .callsFakeOnce((input) => ({
        UnprocessedItems: { [TABLE]: (input.RequestItems[TABLE] as Put[]).slice(0, 2) },
      }))
      .resolves({});
    await store.write(Array.from({ length: 10 }, (_, i) => bar('NVDA', i, i)));
    const sizes = ddb
      .commandCalls(BatchWriteCommand)
      .map((c) => (c.args[0].input.RequestItems![TABLE] as Put[]).length);
    expect(sizes).toEqual([10, 7, 2]);
  });

  it('throws naming how many rows were left after the bounded retries', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(BatchWriteCommand).callsFake((input) => ({
      UnprocessedItems: { [TABLE]: (input.RequestItems[TABLE] as Put[]).slice(0, 3) },
    }));
    const store = new DynamoDbMetricsStore({
      documents,
      tableName: TABLE,
      ttlDays: 7,
      backoff: { ...noSleep, maxRetries: 2 },
    });
    const err = await store
      .write(Array.from({ length: 5 }, (_, i) => bar('NVDA', i, i)))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessedItemsError);
    expect((err as UnprocessedItemsError).unprocessedCount).toBe(3);
    expect((err as Error).message).toMatch(/left 3 item\(s\) of NVDA unprocessed after 3 attempts/);
    expect((err as UnprocessedItemsError).symbols).toEqual(['NVDA']);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("fails only the hot symbol when a whole chunk of its items is throttled (DynamoDB's exception, no UnprocessedItems)", async () => {
    ddb.on(PutCommand).resolves({});
    // BatchWriteItem answers ProvisionedThroughputExceededException when none of a request's items
    // could be written, UnprocessedItems when some could: NVDA's partition is hot.
    ddb.on(BatchWriteCommand).callsFake((input) => {
      const puts = input.RequestItems[TABLE] as Put[];
      const hot = puts.filter((p) => p.PutRequest.Item.symbol === 'NVDA');
      if (hot.length === puts.length) {
        throw new ProvisionedThroughputExceededException({ message: 'throughput exceeded', $metadata: {} });
      }
      return { UnprocessedItems: hot.length > 0 ? { [TABLE]: hot } : {} };
    });
    const store = oneChunkAtATime();
    // 25 items a chunk: AAPL's, then two of NVDA's alone, then MSFT's.
    const rows = [
      ...Array.from({ length: 25 }, (_, i) => bar('AAPL', i, i)),
      ...Array.from({ length: 50 }, (_, i) => bar('NVDA', i, i)),
      ...Array.from({ length: 25 }, (_, i) => bar('MSFT', i, i)),
    ];
    const err = await store.write(rows).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RowsNotWrittenError);
    expect((err as RowsNotWrittenError).symbols).toEqual(['NVDA']);
    expect((err as UnprocessedItemsError).unprocessedCount).toBe(50);
    const sent = ddb
      .commandCalls(BatchWriteCommand)
      .map((c) => c.args[0].input.RequestItems![TABLE] as Put[]);
    // Each NVDA chunk tried 1 + 2 times; MSFT's chunk still sent after them.
    expect(sent.map((b) => b[0]!.PutRequest.Item.symbol)).toEqual(['AAPL', ...Array(6).fill('NVDA'), 'MSFT']);
  });

  it('writes every chunk when one symbol is throttled past the retries, and names only that symbol', async () => {
    ddb.on(PutCommand).resolves({});
    // A hot partition: NVDA's items are left unprocessed on every attempt, the others written.
    ddb.on(BatchWriteCommand).callsFake((input) => ({
      UnprocessedItems: {
        [TABLE]: (input.RequestItems[TABLE] as Put[]).filter((p) => p.PutRequest.Item.symbol === 'NVDA'),
      },
    }));
    const store = oneChunkAtATime();
    const rows = ['AAPL', 'NVDA', 'MSFT'].flatMap((s) => Array.from({ length: 30 }, (_, i) => bar(s, i, i)));
    const err = await store.write(rows).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RowsNotWrittenError);
    expect((err as RowsNotWrittenError).symbols).toEqual(['NVDA']);
    const written = new Set(
      ddb
        .commandCalls(BatchWriteCommand)
        .flatMap((c) => c.args[0].input.RequestItems![TABLE] as Put[])
        .map((p) => p.PutRequest.Item.symbol),
    );
    // The chunks after NVDA's were still sent: MSFT's rows come last.
    expect([...written].sort()).toEqual(['AAPL', 'MSFT', 'NVDA']);
    // The written symbols' LATEST items still moved (to their newest row); NVDA's did not.
    const latest = ddb
      .commandCalls(PutCommand)
      .map((c) => [c.args[0].input.Item!.pk, c.args[0].input.Item!.time]);
    expect(latest.sort()).toEqual([
      ['SYMBOL#AAPL', T0 + 29 * 60_000],
      ['SYMBOL#MSFT', T0 + 29 * 60_000],
    ]);
  });

  it('refuses a non-positive TTL', () => {
    expect(() => new DynamoDbMetricsStore({ documents, tableName: TABLE, ttlDays: 0 })).toThrow(/ttlDays/);
  });
});
