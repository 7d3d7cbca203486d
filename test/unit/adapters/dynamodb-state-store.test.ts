import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { itemSize } from '../../../scripts/bench/processor.ts';
import { DynamoDbStateStore, UnprocessedKeysError } from '../../../src/adapters/aws/dynamodb-state-store.ts';
import { STATE_ITEM_OVERHEAD_BYTES } from '../../../src/pipeline/process/stored-state.ts';
import { InvalidStoredStateError } from '../../../src/ports/processor.ts';

const TABLE = 'market';
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddb = mockClient(documents);
const noSleep = { sleep: async () => {}, random: () => 0.5 };

afterEach(() => ddb.reset());

function stateItem(symbol: string, seq: string) {
  return {
    pk: `SYMBOL#${symbol}`,
    sk: 'STATE',
    symbol,
    lastSequenceNumber: seq,
    lastEventTime: 1,
    snapshot: { n: 1 },
  };
}

describe('DynamoDbStateStore.loadMany', () => {
  it('reads in chunks of at most 100 keys, strongly consistent, each symbol once', async () => {
    const requested: number[] = [];
    ddb.on(BatchGetCommand).callsFake((input) => {
      const req = input.RequestItems[TABLE];
      requested.push(req.Keys.length);
      expect(req.ConsistentRead).toBe(true);
      return { Responses: { [TABLE]: req.Keys.map((k: { pk: string }) => stateItem(k.pk.slice(7), '5')) } };
    });
    const store = new DynamoDbStateStore({ documents, tableName: TABLE, backoff: noSleep });
    const symbols = Array.from({ length: 250 }, (_, i) => `S${i}`);
    const out = await store.loadMany([...symbols, 'S0', 'S1']);
    expect(requested).toEqual([100, 100, 50]);
    expect(out.size).toBe(250);
    expect(out.get('S7')).toEqual({
      symbol: 'S7',
      lastSequenceNumber: '5',
      lastEventTime: 1,
      snapshot: { n: 1 },
    });
  });

  it('retries UnprocessedKeys with backoff and returns every state', async () => {
    const delays: number[] = [];
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [stateItem('AAPL', '1')] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'SYMBOL#MSFT', sk: 'STATE' }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [stateItem('MSFT', '2')] } });
    const store = new DynamoDbStateStore({
      documents,
      tableName: TABLE,
      backoff: { sleep: async (ms) => void delays.push(ms), random: () => 0.999, baseDelayMs: 40 },
    });
    const out = await store.loadMany(['AAPL', 'MSFT', 'NVDA']);
    expect([...out.keys()].sort()).toEqual(['AAPL', 'MSFT']);
    const calls = ddb.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args[0].input.RequestItems?.[TABLE]?.Keys).toEqual([{ pk: 'SYMBOL#MSFT', sk: 'STATE' }]);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeLessThan(40);
  });

  it('gives up after the bounded retries with an error naming the unprocessed symbols', async () => {
    ddb
      .on(BatchGetCommand)
      .resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'SYMBOL#TSLA', sk: 'STATE' }] } } });
    const store = new DynamoDbStateStore({
      documents,
      tableName: TABLE,
      backoff: { ...noSleep, maxRetries: 3 },
    });
    const err = await store.loadMany(['TSLA']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessedKeysError);
    expect((err as UnprocessedKeysError).unprocessedSymbols).toEqual(['TSLA']);
    expect((err as Error).message).toMatch(/1 state key\(s\) unprocessed after 4 attempts.*TSLA/);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(4);
  });

  it('returns each unreadable stored state as its error, naming the symbol and field, beside the readable ones', async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [
          { pk: 'SYMBOL#X', sk: 'STATE', symbol: 'X', lastEventTime: 3 },
          stateItem('AAPL', '7'),
          { pk: 'SYMBOL#Y', sk: 'STATE', lastSequenceNumber: '12a', lastEventTime: 3 },
          { pk: 'SYMBOL#Z', sk: 'STATE', lastSequenceNumber: '5', lastEventTime: '3' },
        ],
      },
    });
    const store = new DynamoDbStateStore({ documents, tableName: TABLE });
    const out = await store.loadMany(['X', 'AAPL', 'Y', 'Z']);
    expect(out.get('AAPL')).toMatchObject({ symbol: 'AAPL', lastSequenceNumber: '7' });
    const messages = ['X', 'Y', 'Z'].map((s) => {
      const got = out.get(s);
      expect(got, s).toBeInstanceOf(InvalidStoredStateError);
      return (got as InvalidStoredStateError).message;
    });
    expect(messages).toEqual([
      'stored state of X is invalid: lastSequenceNumber is missing or not a decimal string',
      'stored state of Y is invalid: lastSequenceNumber is missing or not a decimal string',
      'stored state of Z is invalid: lastEventTime is missing or not a number',
    ]);
  });
});

describe('DynamoDbStateStore.save', () => {
  it('creates only when absent, and updates only from the expected sequence number', async () => {
    ddb.on(PutCommand).resolves({});
    const store = new DynamoDbStateStore({ documents, tableName: TABLE, now: () => 42 });
    const state = { symbol: 'AAPL', lastSequenceNumber: '200', lastEventTime: 1000, snapshot: { ema: 1.5 } };
    expect(await store.save(state, undefined)).toBe('saved');
    expect(await store.save(state, '100')).toBe('saved');
    const [first, second] = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(first!.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(first!.Item).toEqual({
      pk: 'SYMBOL#AAPL',
      sk: 'STATE',
      symbol: 'AAPL',
      lastSequenceNumber: '200',
      lastEventTime: 1000,
      snapshot: { ema: 1.5 },
      updatedAt: 42,
    });
    expect(first!.Item).not.toHaveProperty('expiresAt');
    expect(second!.ConditionExpression).toBe('lastSequenceNumber = :expected');
    expect(second!.ExpressionAttributeValues).toEqual({ ':expected': '100' });
  });

  it('writes at most STATE_ITEM_OVERHEAD_BYTES besides the snapshot (the pipeline sizes its log by it)', async () => {
    ddb.on(PutCommand).resolves({});
    const store = new DynamoDbStateStore({
      documents,
      tableName: TABLE,
      now: () => Date.parse('2099-12-31T23:59:59.999Z'),
    });
    // The longest symbol the schema allows and a 56-digit sequence number, the most Kinesis issues.
    const snapshot = new Uint8Array(4000);
    await store.save(
      {
        symbol: '^ABCDEFGHIJKLMNOP=X',
        lastSequenceNumber: '9'.repeat(56),
        lastEventTime: 2 ** 53 - 1,
        snapshot,
      },
      '9'.repeat(56),
    );
    const item = ddb.commandCalls(PutCommand)[0]!.args[0].input.Item!;
    const overhead = itemSize(item) - snapshot.length;
    expect(overhead).toBeGreaterThan(100);
    expect(overhead).toBeLessThanOrEqual(STATE_ITEM_OVERHEAD_BYTES);
  });

  it("maps ConditionalCheckFailed to 'conflict' and rethrows anything else", async () => {
    ddb
      .on(PutCommand)
      .rejectsOnce(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      )
      .rejectsOnce(new Error('network down'));
    const store = new DynamoDbStateStore({ documents, tableName: TABLE });
    const state = { symbol: 'AAPL', lastSequenceNumber: '2', lastEventTime: 1, snapshot: null };
    expect(await store.save(state, '1')).toBe('conflict');
    await expect(store.save(state, '1')).rejects.toThrow('network down');
  });
});
