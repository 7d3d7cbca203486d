import type { KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResolvedBackoff } from './market-table.ts';

// Kept apart from market-table.ts (the table's keys and helpers, no SDK command) so that a function
// bundle importing only the layout, e.g. the poller's cursor store, imports no BatchGetCommand it
// never sends: test/template/iam-calls.test.ts derives each role's needed actions from the commands
// a bundle imports.

/** BatchGetItem reads at most 100 keys per call. */
export const BATCH_GET_LIMIT = 100;

/**
 * One BatchGetItem of at most BATCH_GET_LIMIT keys, its UnprocessedKeys retried with the backoff:
 * each item returned is handed to `onItem`; returns the keys still unprocessed when the retries ran
 * out (none when every key was read) and the calls made.
 */
export async function batchGetChunk(
  documents: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  request: Omit<KeysAndAttributes, 'Keys'>,
  backoff: ResolvedBackoff,
  onItem: (item: Record<string, unknown>) => void,
): Promise<{ readonly left: Record<string, unknown>[]; readonly attempts: number }> {
  let pending = [...keys];
  for (let attempt = 0; ; attempt++) {
    const res = await documents.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { ...request, Keys: pending } } }),
    );
    for (const item of res.Responses?.[tableName] ?? []) onItem(item);
    pending = res.UnprocessedKeys?.[tableName]?.Keys ?? [];
    if (pending.length === 0 || attempt >= backoff.maxRetries)
      return { left: pending, attempts: attempt + 1 };
    await backoff.delay(attempt);
  }
}
