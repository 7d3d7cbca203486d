import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  InvalidStoredStateError,
  type StateSaveOutcome,
  type SymbolStateRecord,
  type SymbolStateStore,
} from '../../ports/processor.ts';
import { BATCH_GET_LIMIT, batchGetChunk } from './dynamodb-batch-get.ts';
import { type BackoffOptions, resolveBackoff, STATE_SK, SYMBOL_PREFIX, stateKey } from './market-table.ts';

/** Length of `SYMBOL#`, the partition key's prefix before the symbol. */
const PK_PREFIX_LENGTH = SYMBOL_PREFIX.length;

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

  async loadMany(
    symbols: readonly string[],
  ): Promise<Map<string, SymbolStateRecord | InvalidStoredStateError>> {
    const unique = [...new Set(symbols)];
    const out = new Map<string, SymbolStateRecord | InvalidStoredStateError>();
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      await this.#loadChunk(unique.slice(i, i + BATCH_GET_LIMIT), out);
    }
    return out;
  }

  async #loadChunk(
    symbols: readonly string[],
    out: Map<string, SymbolStateRecord | InvalidStoredStateError>,
  ): Promise<void> {
    const { left, attempts } = await batchGetChunk(
      this.#documents,
      this.#table,
      symbols.map((s) => ({ ...stateKey(s) })),
      { ConsistentRead: true },
      this.#backoff,
      (item) => {
        // Keyed by the item's key (what was asked for), whatever else the item holds.
        const symbol = String(item.pk).slice(PK_PREFIX_LENGTH);
        out.set(symbol, toState(symbol, item));
      },
    );
    if (left.length > 0) {
      throw new UnprocessedKeysError(
        this.#table,
        left.map((k) => String(k.pk).slice(PK_PREFIX_LENGTH)),
        attempts,
      );
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

function toState(symbol: string, item: Record<string, unknown>): SymbolStateRecord | InvalidStoredStateError {
  if (item.sk !== STATE_SK) return new InvalidStoredStateError(symbol, `sk is ${String(item.sk)}, not STATE`);
  if (typeof item.lastSequenceNumber !== 'string' || !/^\d+$/.test(item.lastSequenceNumber)) {
    return new InvalidStoredStateError(symbol, 'lastSequenceNumber is missing or not a decimal string');
  }
  if (typeof item.lastEventTime !== 'number' || !Number.isFinite(item.lastEventTime)) {
    return new InvalidStoredStateError(symbol, 'lastEventTime is missing or not a number');
  }
  return {
    symbol,
    lastSequenceNumber: item.lastSequenceNumber,
    lastEventTime: item.lastEventTime,
    snapshot: item.snapshot ?? null,
  };
}
