import type { Alert, AlertClaim, AlertLedger, AlertNotifier } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

interface LedgerEntry {
  readonly alertId: string;
  status: 'claimed' | 'published';
  readonly token: string;
  claimedAt: number;
  messageId?: string;
}

/** The ledger's key: (symbol, kind, alert time), as in the table (`ALERT#<kind>#<ISO time>`). */
function ledgerKey(alert: Alert): string {
  return `${alert.symbol}|${alert.kind}|${alert.at}`;
}

/**
 * In-memory AlertLedger with the DynamoDB ledger's semantics: claim succeeds once per key, confirm
 * marks it published, release gives back only the token's claim, and only if never published.
 *
 * At most once: a claim is final unless released. There is no lease and no take-over, however old
 * a 'claimed' entry is, so an alert whose publish outcome is unknown is never sent again.
 */
export class MemoryAlertLedger implements AlertLedger {
  readonly faults = new Faults('alert ledger');
  readonly #entries = new Map<string, LedgerEntry>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async claim(alert: Alert, token: string): Promise<AlertClaim> {
    this.faults.check('before');
    const now = this.#now();
    const key = ledgerKey(alert);
    const entry = this.#entries.get(key);
    // The same token's unpublished claim is this claim (a retried request whose reply was lost).
    if (entry && !(entry.token === token && entry.status === 'claimed')) return 'already-claimed';
    this.#entries.set(key, { alertId: alert.id, status: 'claimed', token, claimedAt: now });
    this.faults.check('after');
    return 'claimed';
  }

  async confirm(alert: Alert, messageId: string): Promise<void> {
    this.faults.check('before');
    const key = ledgerKey(alert);
    const entry = this.#entries.get(key) ?? {
      alertId: alert.id,
      status: 'claimed',
      token: '',
      claimedAt: this.#now(),
    };
    entry.status = 'published';
    entry.messageId = messageId;
    this.#entries.set(key, entry);
    this.faults.check('after');
  }

  async release(alert: Alert, token: string): Promise<void> {
    this.faults.check('before');
    const key = ledgerKey(alert);
    const entry = this.#entries.get(key);
    if (entry?.status === 'claimed' && entry.token === token) this.#entries.delete(key);
    this.faults.check('after');
  }

  status(
    alert: Pick<Alert, 'symbol' | 'kind' | 'at'>,
  ): { status: 'claimed' | 'published'; messageId?: string } | undefined {
    const e = this.#entries.get(`${alert.symbol}|${alert.kind}|${alert.at}`);
    return e ? { status: e.status, ...(e.messageId ? { messageId: e.messageId } : {}) } : undefined;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** In-memory AlertNotifier: records every publish, in order, with a message id like SNS's. */
export class MemoryAlertNotifier implements AlertNotifier {
  readonly faults = new Faults('alert notifier');
  readonly published: { readonly alert: Alert; readonly messageId: string }[] = [];
  #next = 1;

  async publish(alert: Alert): Promise<string> {
    this.faults.check('before');
    for (const field of ['symbol', 'kind', 'severity'] as const) {
      if (typeof alert[field] !== 'string' || alert[field].trim() === '') {
        throw new Error(
          `cannot publish alert ${alert.id}: ${field} must be a non-empty string (it is a filter-policy attribute)`,
        );
      }
    }
    const messageId = `memory-${String(this.#next++).padStart(8, '0')}`;
    this.published.push({ alert, messageId });
    this.faults.check('after');
    return messageId;
  }
}
