import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StateSaveOutcome, SymbolStateRecord, SymbolStateStore } from '../../ports/processor.ts';
import { type BackoffOptions, resolveBackoff, STATE_SK, stateKey, symbolPk } from './market-table.ts';

/** BatchGetItem reads at most 100 keys per call. */
export const BATCH_GET_LIMIT = 100;

export class UnprocessedKeysError extends Error {
  readonly unprocessedSymbols: readonly string[];
  constructor(tableName: string, symbols: readonly string[], attempts: number) {
    super(
      `DynamoDB BatchGetItem on ${tableName} left ${symbols.length} state key(s) unprocessed after ${attempts} attempts (throttled): ${symbols.slice(0, 10).join(', ')}${symbols.length > 10 ? ', …' : ''}`,
    );
    this.name = 'UnprocessedKeysError';
    this.unprocessedSymbols = symbols;
  }
}

export class InvalidStoredStateError extends Error {
  constructor(symbol: string, reason: string) {
    super(`stored state of ${symbol} is invalid: ${reason}`);
    this.name = 'InvalidStoredStateError';
  }
}

export interface DynamoDbStateStoreOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly backoff?: BackoffOptions;
  /** Clock for updatedAt (epoch ms). */
  readonly now?: () => number;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * Per-symbol processing state: one item (`SYMBOL#<sym>`, `STATE`), read for a whole batch with
 * BatchGetItem (strongly consistent, chunks of 100 keys) and written with a condition on the last
 * sequence number so two writers (or a retry and a replay) can never both advance it.
 */
export class DynamoDbStateStore implements SymbolStateStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #backoff: ReturnType<typeof resolveBackoff>;
  readonly #now: () => number;

  constructor(options: DynamoDbStateStoreOptions) {
    this.#documents = options.documents;
    this.#table = options.tableName;
    this.#backoff = resolveBackoff(options.backoff);
    this.#now = options.now ?? Date.now;
  }

  async loadMany(symbols: readonly string[]): Promise<Map<string, SymbolStateRecord>> {
    const unique = [...new Set(symbols)];
    const out = new Map<string, SymbolStateRecord>();
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      await this.#loadChunk(unique.slice(i, i + BATCH_GET_LIMIT), out);
    }
    return out;
  }

  async #loadChunk(symbols: readonly string[], out: Map<string, SymbolStateRecord>): Promise<void> {
    let keys: Record<string, unknown>[] = symbols.map((s) => ({ ...stateKey(s) }));
    for (let attempt = 0; ; attempt++) {
      const res = await this.#documents.send(
        new BatchGetCommand({ RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of res.Responses?.[this.#table] ?? []) {
        const state = toState(item);
        out.set(state.symbol, state);
      }
      const left = res.UnprocessedKeys?.[this.#table]?.Keys ?? [];
      if (left.length === 0) return;
      if (attempt >= this.#backoff.maxRetries) {
        const prefixLength = symbolPk('x').length - 1;
        throw new UnprocessedKeysError(
          this.#table,
          left.map((k) => String(k.pk).slice(prefixLength)),
          attempt + 1,
        );
      }
      keys = left;
      await this.#backoff.delay(attempt);
    }
  }

  async save(state: SymbolStateRecord, expected: string | undefined): Promise<StateSaveOutcome> {
    const condition =
      expected === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'lastSequenceNumber = :expected',
            ExpressionAttributeValues: { ':expected': expected },
          };
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...stateKey(state.symbol),
            symbol: state.symbol,
            lastSequenceNumber: state.lastSequenceNumber,
            lastEventTime: state.lastEventTime,
            snapshot: state.snapshot ?? null,
            updatedAt: this.#now(),
          },
          ...condition,
        }),
      );
      return 'saved';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'conflict';
      throw error;
    }
  }
}

function toState(item: Record<string, unknown>): SymbolStateRecord {
  const pk = String(item.pk ?? '');
  const symbol = typeof item.symbol === 'string' ? item.symbol : pk.replace(/^SYMBOL#/, '');
  if (item.sk !== STATE_SK) throw new InvalidStoredStateError(symbol, `sk is ${String(item.sk)}, not STATE`);
  if (typeof item.lastSequenceNumber !== 'string' || item.lastSequenceNumber.length === 0) {
    throw new InvalidStoredStateError(symbol, 'lastSequenceNumber is missing or not a string');
  }
  if (typeof item.lastEventTime !== 'number' || !Number.isFinite(item.lastEventTime)) {
    throw new InvalidStoredStateError(symbol, 'lastEventTime is missing or not a number');
  }
  return {
    symbol,
    lastSequenceNumber: item.lastSequenceNumber,
    lastEventTime: item.lastEventTime,
    snapshot: item.snapshot ?? null,
  };
}
