import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Alert, AlertClaim, AlertLedger } from '../../ports/processor.ts';
import { isConditionalCheckFailed } from './dynamodb-state-store.ts';
import { ALERT_TTL_DAYS, alertKey, expiresAtSeconds } from './market-table.ts';

export interface DynamoDbAlertLedgerOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * A claim still 'claimed' (never confirmed nor released, e.g. the process died between claim and
   * publish) may be taken over after this long. Default 15 minutes, the longest a Lambda can run, so
   * a live claimant has always finished or died by then. 0 disables take-over.
   */
  readonly claimLeaseMs?: number;
  readonly now?: () => number;
}

/**
 * The alerts already sent, one item per (symbol, kind, bar): `SYMBOL#<sym>` / `ALERT#<kind>#<ISO>`.
 * claim = conditional put (`attribute_not_exists(pk)`), confirm = status 'published' + messageId,
 * release = delete only while still 'claimed'. Items expire after 35 days.
 */
export class DynamoDbAlertLedger implements AlertLedger {
  readonly #documents: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(options: DynamoDbAlertLedgerOptions) {
    this.#documents = options.documents;
    this.#table = options.tableName;
    this.#leaseMs = options.claimLeaseMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  async claim(alert: Alert): Promise<AlertClaim> {
    const now = this.#now();
    const takeOver = this.#leaseMs > 0;
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
            claimedAt: now,
            expiresAt: expiresAtSeconds(now, ALERT_TTL_DAYS),
          },
          ConditionExpression: takeOver
            ? 'attribute_not_exists(pk) OR (#status = :claimed AND claimedAt < :staleBefore)'
            : 'attribute_not_exists(pk)',
          ...(takeOver
            ? {
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':claimed': 'claimed', ':staleBefore': now - this.#leaseMs },
              }
            : {}),
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

  async release(alert: Alert): Promise<void> {
    try {
      await this.#documents.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: alertKey(alert.symbol, alert.kind, alert.at),
          ConditionExpression: '#status = :claimed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':claimed': 'claimed' },
        }),
      );
    } catch (error) {
      // Already published (or gone): a release must never un-send an alert.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
