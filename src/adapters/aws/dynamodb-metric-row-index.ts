import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type MetricRowIndex, type MetricRowKey, metricRowId } from '../../ports/dead-letters.ts';
import { BATCH_GET_LIMIT } from './dynamodb-state-store.ts';
import { type BackoffOptions, metricKey, resolveBackoff } from './market-table.ts';

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
      let pending: Record<string, unknown>[] = unique
        .slice(i, i + BATCH_GET_LIMIT)
        .map((k) => ({ ...metricKey(k.symbol, k.kind, k.time) }));
      for (let attempt = 0; ; attempt++) {
        const res = await this.#documents.send(
          new BatchGetCommand({
            RequestItems: {
              [this.#table]: {
                Keys: pending,
                ConsistentRead: true,
                ProjectionExpression: '#symbol, #kind, #time',
                ExpressionAttributeNames: { '#symbol': 'symbol', '#kind': 'kind', '#time': 'time' },
              },
            },
          }),
        );
        for (const item of res.Responses?.[this.#table] ?? []) {
          found.add(metricRowId({ symbol: item.symbol, kind: item.kind, time: item.time }));
        }
        pending = res.UnprocessedKeys?.[this.#table]?.Keys ?? [];
        if (pending.length === 0) break;
        if (attempt >= this.#backoff.maxRetries) {
          throw new Error(
            `DynamoDB BatchGetItem on ${this.#table} left ${pending.length} metric row key(s) unprocessed after ${attempt + 1} attempts (throttled)`,
          );
        }
        await this.#backoff.delay(attempt);
      }
    }
    return found;
  }
}
