import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Alert, AlertClaim, AlertLedger } from '../../ports/processor.ts';
import { isConditionalCheckFailed } from './dynamodb-state-store.ts';
import { ALERT_TTL_DAYS, alertKey, expiresAtSeconds } from './market-table.ts';

export interface DynamoDbAlertLedgerOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly now?: () => number;
}

/**
 * The alerts already sent, one item per (symbol, kind, bar): `SYMBOL#<sym>` / `ALERT#<kind>#<ISO>`.
 * claim = conditional put (`attribute_not_exists(pk)`, or the same token's unpublished claim: a
 * retried request) with the claim's token, confirm = status
 * 'published' + messageId, release = delete only while still 'claimed' with that token. Items expire
 * after 35 days.
 *
 * At most once: a claim is final unless released. There is no lease and no take-over, however old
 * a 'claimed' item is; only `release` (called only when the notifier knows nothing was sent) gives
 * a claim back. So an alert whose publish outcome is unknown (e.g. SNS accepted it but the reply was
 * lost, or the process died mid-publish) stays claimed and is never sent again.
 */
export class DynamoDbAlertLedger implements AlertLedger {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(options: DynamoDbAlertLedgerOptions) {
    this.#documents = options.documents;
    this.#table = options.tableName;
    this.#now = options.now ?? Date.now;
  }

  async claim(alert: Alert, token: string): Promise<AlertClaim> {
    const now = this.#now();
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...alertKey(alert.symbol, alert.kind, alert.at),
            alertId: alert.id,
            symbol: alert.symbol,
            kind: alert.kind,
            severity: alert.severity,
            at: alert.at,
            status: 'claimed',
            claimToken: token,
            claimedAt: now,
            expiresAt: expiresAtSeconds(now, ALERT_TTL_DAYS),
          },
          // Only a key never claimed (or released) can be claimed: never a take-over. Or this very
          // claim, still unpublished: the SDK's retry of a put whose reply was lost finds the item the
          // first attempt stored, and the claim is still this one's (else the alert would never go).
          ConditionExpression: 'attribute_not_exists(pk) OR (claimToken = :token AND #status = :claimed)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':token': token, ':claimed': 'claimed' },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'already-claimed';
      throw error;
    }
  }

  async confirm(alert: Alert, messageId: string): Promise<void> {
    const now = this.#now();
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: alertKey(alert.symbol, alert.kind, alert.at),
        UpdateExpression:
          'SET #status = :published, messageId = :messageId, publishedAt = :now, alertId = :id, expiresAt = if_not_exists(expiresAt, :expiresAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':published': 'published',
          ':messageId': messageId,
          ':now': now,
          ':id': alert.id,
          ':expiresAt': expiresAtSeconds(now, ALERT_TTL_DAYS),
        },
      }),
    );
  }

  async release(alert: Alert, token: string): Promise<void> {
    try {
      await this.#documents.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: alertKey(alert.symbol, alert.kind, alert.at),
          ConditionExpression: '#status = :claimed AND claimToken = :token',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':claimed': 'claimed', ':token': token },
        }),
      );
    } catch (error) {
      // Already published, another claim, or never stored: a release must never un-send an alert.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
