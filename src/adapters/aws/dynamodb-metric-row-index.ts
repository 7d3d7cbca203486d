import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type MetricRowIndex, type MetricRowKey, metricRowId } from '../../ports/dead-letters.ts';
import { BATCH_GET_LIMIT, batchGetChunk } from './dynamodb-batch-get.ts';
import { type BackoffOptions, metricKey, metricSkPrefix, resolveBackoff, symbolPk } from './market-table.ts';

export interface DynamoDbMetricRowIndexOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly backoff?: BackoffOptions;
}

/**
 * Which metric rows exist: BatchGetItem (strongly consistent, 100 keys a call, only the key's
 * attributes projected), UnprocessedKeys retried with jittered backoff. A row its TTL has already
 * removed counts as missing.
 */
export class DynamoDbMetricRowIndex implements MetricRowIndex {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #backoff: ReturnType<typeof resolveBackoff>;

  constructor(options: DynamoDbMetricRowIndexOptions) {
    this.#documents = options.documents;
    this.#table = options.tableName;
    this.#backoff = resolveBackoff(options.backoff);
  }

  async existing(keys: readonly MetricRowKey[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Map(keys.map((k) => [metricRowId(k), k])).values()];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      const { left, attempts } = await batchGetChunk(
        this.#documents,
        this.#table,
        unique.slice(i, i + BATCH_GET_LIMIT).map((k) => ({ ...metricKey(k.symbol, k.kind, k.time) })),
        {
          ConsistentRead: true,
          ProjectionExpression: '#symbol, #kind, #time',
          ExpressionAttributeNames: { '#symbol': 'symbol', '#kind': 'kind', '#time': 'time' },
        },
        this.#backoff,
        (item) =>
          found.add(metricRowId({ symbol: item.symbol, kind: item.kind, time: item.time } as MetricRowKey)),
      );
      if (left.length > 0) {
        throw new Error(
          `DynamoDB BatchGetItem on ${this.#table} left ${left.length} metric row key(s) unprocessed after ${attempts} attempts (throttled)`,
        );
      }
    }
    return found;
  }
}

/**
 * Counts the items of a symbol's partition whose sort key begins with `skPrefix` (Query with
 * `begins_with(sk, …)`, Select COUNT, followed through every page).
 */
export async function countSymbolItems(
  documents: DynamoDBDocumentClient,
  tableName: string,
  symbol: string,
  skPrefix: string,
): Promise<number> {
  let total = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': symbolPk(symbol), ':prefix': skPrefix },
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      }),
    );
    total += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return total;
}

/** Counts a symbol's metric rows; `kind` restricts to bars or ticks, default both. */
export async function countMetricRows(
  documents: DynamoDBDocumentClient,
  tableName: string,
  symbol: string,
  kind?: 'bar' | 'tick',
): Promise<number> {
  let total = 0;
  for (const k of kind ? [kind] : (['bar', 'tick'] as const))
    total += await countSymbolItems(documents, tableName, symbol, metricSkPrefix(k));
  return total;
}
