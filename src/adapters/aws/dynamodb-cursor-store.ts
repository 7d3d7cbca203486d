import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CursorFeed, CursorStore } from '../../ports/cursor-store.ts';
import { CURSOR_PREFIX, symbolPk, type TableKey } from './market-table.ts';

/**
 * Bar cursors in the market table (single-table layout, see market-table.ts):
 *
 * | item       | pk             | sk                 | attributes                                               |
 * |------------|----------------|--------------------|----------------------------------------------------------|
 * | bar cursor | `SYMBOL#<sym>` | `CURSOR#<feed>`    | symbol, feed, lastBarStart (epoch ms), lastBarStartIso, updatedAt (epoch ms) |
 *
 * e.g. pk `SYMBOL#AAPL`, sk `CURSOR#bars-1m`. No TTL: a cursor lives as long as its symbol is polled.
 * The cursor only moves forward (`attribute_not_exists(lastBarStart) OR lastBarStart < :t`), so a
 * late or duplicate writer never moves it back.
 */
export function cursorKey(symbol: string, feed: CursorFeed): TableKey {
  return { pk: symbolPk(symbol), sk: `${CURSOR_PREFIX}${feed}` };
}

export class DynamoDbCursorStore implements CursorStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => number;

  constructor(o: { documents: DynamoDBDocumentClient; tableName: string; now?: () => number }) {
    this.documents = o.documents;
    this.tableName = o.tableName;
    this.now = o.now ?? Date.now;
  }

  async get(symbol: string, feed: CursorFeed): Promise<number | undefined> {
    const out = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: cursorKey(symbol, feed), ConsistentRead: true }),
    );
    const v = out.Item?.lastBarStart;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  }

  async advance(symbol: string, feed: CursorFeed, lastBarStart: number): Promise<void> {
    if (!Number.isInteger(lastBarStart) || lastBarStart <= 0) {
      throw new RangeError(`lastBarStart must be whole epoch milliseconds, got ${lastBarStart}`);
    }
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: cursorKey(symbol, feed),
          UpdateExpression:
            'SET symbol = :s, feed = :f, lastBarStart = :t, lastBarStartIso = :iso, updatedAt = :now',
          ConditionExpression: 'attribute_not_exists(lastBarStart) OR lastBarStart < :t',
          ExpressionAttributeValues: {
            ':s': symbol,
            ':f': feed,
            ':t': lastBarStart,
            ':iso': new Date(lastBarStart).toISOString(),
            ':now': this.now(),
          },
        }),
      );
    } catch (err) {
      // Already at or past this bar: nothing to do.
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw err;
    }
  }
}

/** In-memory cursors (tests, local runs without DynamoDB). */
export class MemoryCursorStore implements CursorStore {
  readonly cursors = new Map<string, number>();
  async get(symbol: string, feed: CursorFeed): Promise<number | undefined> {
    return this.cursors.get(`${symbol}|${feed}`);
  }
  async advance(symbol: string, feed: CursorFeed, lastBarStart: number): Promise<void> {
    const k = `${symbol}|${feed}`;
    const prev = this.cursors.get(k);
    if (prev === undefined || prev < lastBarStart) this.cursors.set(k, lastBarStart);
  }
}
