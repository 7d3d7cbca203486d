import { BatchWriteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type MetricRow, type MetricsStore, RowsNotWrittenError } from '../../ports/processor.ts';
import { isConditionalCheckFailed } from './dynamodb-state-store.ts';
import {
  type BackoffOptions,
  expiresAtSeconds,
  latestKey,
  metricKey,
  resolveBackoff,
  storableValues,
} from './market-table.ts';

/** BatchWriteItem takes at most 25 put/delete requests per call. */
export const BATCH_WRITE_LIMIT = 25;

/** DynamoDB refused a call for throughput (after the SDK's own retries): nothing of it was written. */
function isThrottled(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'ProvisionedThroughputExceededException' || error.name === 'ThrottlingException')
  );
}

/** Items BatchWriteItem still left unprocessed after the retries, of these symbols. */
export class UnprocessedItemsError extends RowsNotWrittenError {
  readonly unprocessedCount: number;
  constructor(tableName: string, count: number, attempts: number, symbols: readonly string[]) {
    super(
      `DynamoDB BatchWriteItem on ${tableName} left ${count} item(s) of ${symbols.join(', ')} unprocessed after ${attempts} attempts (throttled)`,
      symbols,
    );
    this.name = 'UnprocessedItemsError';
    this.unprocessedCount = count;
  }
}

export interface DynamoDbMetricsStoreOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * METRICS_TTL_DAYS: a row expires this many days after its event time, or at once when that is
   * already past (a replay of old days).
   */
  readonly ttlDays: number;
  readonly backoff?: BackoffOptions;
  /** Conditional LATEST puts in flight at once (default 16). */
  readonly latestConcurrency?: number;
  /** BatchWriteItem calls in flight at once (default 4). */
  readonly writeConcurrency?: number;
  readonly now?: () => number;
}

/**
 * Metric rows keyed by (symbol, kind, event time) — a put of the same key is an idempotent upsert —
 * written with BatchWriteItem (25 per call, UnprocessedItems retried with jittered backoff). LATEST
 * items the caller vouches for (the pipeline) go into the same batch writes; otherwise one
 * conditional LATEST put per symbol follows, which only ever moves forward in event time.
 */
export class DynamoDbMetricsStore implements MetricsStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #ttlDays: number;
  readonly #backoff: ReturnType<typeof resolveBackoff>;
  readonly #concurrency: number;
  readonly #writeConcurrency: number;
  readonly #now: () => number;

  constructor(options: DynamoDbMetricsStoreOptions) {
    if (!(options.ttlDays > 0))
      throw new RangeError(`ttlDays must be a positive number, got ${options.ttlDays}`);
    this.#documents = options.documents;
    this.#table = options.tableName;
    this.#ttlDays = options.ttlDays;
    this.#backoff = resolveBackoff(options.backoff);
    this.#concurrency = Math.max(1, options.latestConcurrency ?? 16);
    this.#writeConcurrency = Math.max(1, options.writeConcurrency ?? 4);
    this.#now = options.now ?? Date.now;
  }

  async write(rows: readonly MetricRow[], latest?: readonly MetricRow[]): Promise<void> {
    if (rows.length === 0 && !latest?.length) return;
    // A row whose expiry is already past expires now: DynamoDB's TTL ignores an expiry more than
    // five years in the past, so a row of a replayed day that old would otherwise stay for good.
    const nowSeconds = Math.floor(this.#now() / 1000);
    // One item per key: DynamoDB rejects a batch naming the same key twice; the last row wins.
    const items = new Map<string, Record<string, unknown>>();
    for (const row of rows) {
      const key = metricKey(row.symbol, row.kind, row.time);
      items.set(`${key.pk}|${key.sk}`, {
        ...key,
        symbol: row.symbol,
        time: row.time,
        kind: row.kind,
        values: storableValues(row.values),
        expiresAt: Math.max(expiresAtSeconds(row.time, this.#ttlDays), nowSeconds),
      });
    }
    // LATEST items the caller vouches for go out with the rows, as plain puts.
    for (const row of latest ?? []) {
      const key = latestKey(row.symbol);
      items.set(`${key.pk}|${key.sk}`, this.#latestItem(row));
    }
    const all = [...items.values()];
    const chunks: Record<string, unknown>[][] = [];
    for (let i = 0; i < all.length; i += BATCH_WRITE_LIMIT) chunks.push(all.slice(i, i + BATCH_WRITE_LIMIT));
    // Every chunk is written even when one is throttled past its retries, so that only the symbols
    // whose items are left fail (the error names them); any other error fails the write.
    const left: Record<string, unknown>[] = [];
    let attempts = 0;
    for (let i = 0; i < chunks.length; i += this.#writeConcurrency) {
      for (const r of await Promise.all(
        chunks.slice(i, i + this.#writeConcurrency).map((c) => this.#writeChunk(c)),
      )) {
        left.push(...r.left);
        attempts = Math.max(attempts, r.attempts);
      }
    }
    const failed = new Set(left.map((item) => String(item.symbol)));
    if (!latest) {
      // Without LATEST items from the caller, each symbol's newest row moves its LATEST item by a
      // conditional put: for every symbol whose rows were all written.
      const newest = new Map<string, MetricRow>();
      for (const row of rows) {
        if (failed.has(row.symbol)) continue;
        const best = newest.get(row.symbol);
        if (!best || row.time >= best.time) newest.set(row.symbol, row);
      }
      const conditional = [...newest.values()];
      for (let i = 0; i < conditional.length; i += this.#concurrency) {
        await Promise.all(conditional.slice(i, i + this.#concurrency).map((row) => this.#putLatest(row)));
      }
    }
    if (left.length > 0) {
      throw new UnprocessedItemsError(this.#table, left.length, attempts, [...failed].sort());
    }
  }

  #latestItem(row: MetricRow): Record<string, unknown> {
    return {
      ...latestKey(row.symbol),
      symbol: row.symbol,
      time: row.time,
      kind: row.kind,
      values: storableValues(row.values),
      updatedAt: this.#now(),
    };
  }

  /** Writes a chunk, retrying UnprocessedItems; returns the items still left after the retries. */
  async #writeChunk(
    items: readonly Record<string, unknown>[],
  ): Promise<{ left: Record<string, unknown>[]; attempts: number }> {
    let requests = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; ; attempt++) {
      let left: typeof requests;
      try {
        const res = await this.#documents.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }),
        );
        left = (res.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
      } catch (error) {
        // When none of the request's items could be written (a chunk of one hot symbol's items, say),
        // BatchWriteItem throttles the whole call instead of answering with UnprocessedItems.
        if (!isThrottled(error)) throw error;
        left = requests;
      }
      if (left.length === 0 || attempt >= this.#backoff.maxRetries) {
        return { left: left.map((r) => r.PutRequest.Item), attempts: attempt + 1 };
      }
      requests = left;
      await this.#backoff.delay(attempt);
    }
  }

  async #putLatest(row: MetricRow): Promise<void> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#table,
          Item: this.#latestItem(row),
          ConditionExpression: 'attribute_not_exists(pk) OR #time < :time',
          ExpressionAttributeNames: { '#time': 'time' },
          ExpressionAttributeValues: { ':time': row.time },
        }),
      );
    } catch (error) {
      // A newer (or the same) event is already LATEST: nothing to do.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
