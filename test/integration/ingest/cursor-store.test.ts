/** The bar cursors in the market table, against the local DynamoDB of the real template. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  cursorKey,
  DynamoDbCursorStore,
  MemoryCursorStore,
} from '../../../src/adapters/aws/dynamodb-cursor-store.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();
const T = Date.parse('2024-10-02T19:59:00Z');

describe('DynamoDbCursorStore', () => {
  const store = () =>
    new DynamoDbCursorStore({
      documents: cloud().clients.documents,
      tableName: cloud().env.MARKET_TABLE_NAME!,
      now: () => T + 90_000,
    });

  it('only moves a cursor forward: a late or repeated write of an earlier bar leaves it', async () => {
    const s = store();
    expect(await s.get('AAPL', 'bars-1m')).toBeUndefined();
    await s.advance('AAPL', 'bars-1m', T - 60_000);
    await s.advance('AAPL', 'bars-1m', T);
    // A backfill of an older range, or a poll that lost a race: neither moves it back.
    await s.advance('AAPL', 'bars-1m', T - 10 * 60_000);
    expect(await s.get('AAPL', 'bars-1m')).toBe(T);
    await s.advance('AAPL', 'bars-1m', T);
    expect(await s.get('AAPL', 'bars-1m')).toBe(T);
    const item = await cloud().clients.documents.send(
      new GetCommand({ TableName: cloud().env.MARKET_TABLE_NAME!, Key: cursorKey('AAPL', 'bars-1m') }),
    );
    expect(item.Item).toMatchObject({
      pk: 'SYMBOL#AAPL',
      sk: 'CURSOR#bars-1m',
      lastBarStart: T,
      lastBarStartIso: '2024-10-02T19:59:00.000Z',
    });
  });

  it('refuses a bar start that is not whole epoch milliseconds, and writes nothing', async () => {
    const s = store();
    for (const bad of [0, -60_000, T + 0.5, Number.NaN]) {
      await expect(s.advance('MSFT', 'bars-1m', bad)).rejects.toThrow(RangeError);
    }
    expect(await s.get('MSFT', 'bars-1m')).toBeUndefined();
  });

  it('throws what the table refuses for another reason than the cursor being ahead', async () => {
    const s = new DynamoDbCursorStore({ documents: cloud().clients.documents, tableName: 'no-such-table' });
    await expect(s.advance('AAPL', 'bars-1m', T)).rejects.toThrow(/not found|non-existent table/i);
  });
});

describe('MemoryCursorStore (local runs without DynamoDB)', () => {
  it('only moves a cursor forward, as the table does', async () => {
    const s = new MemoryCursorStore();
    await s.advance('AAPL', 'bars-1m', T);
    await s.advance('AAPL', 'bars-1m', T - 10 * 60_000);
    expect(await s.get('AAPL', 'bars-1m')).toBe(T);
    expect(await s.get('MSFT', 'bars-1m')).toBeUndefined();
  });
});
