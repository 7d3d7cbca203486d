import type { StateSaveOutcome, SymbolStateRecord, SymbolStateStore } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

/** A fresh record whose snapshot is parsed from the stored JSON on first access. */
function materialize(
  item: Omit<SymbolStateRecord, 'snapshot'> & { readonly json: string },
): SymbolStateRecord {
  let parsed: unknown;
  let done = false;
  return {
    symbol: item.symbol,
    lastSequenceNumber: item.lastSequenceNumber,
    lastEventTime: item.lastEventTime,
    get snapshot() {
      if (!done) {
        parsed = JSON.parse(item.json);
        done = true;
      }
      return parsed;
    },
  };
}

/** In-memory SymbolStateStore with the DynamoDB adapter's conditional-save semantics. */
export class MemoryStateStore implements SymbolStateStore {
  readonly faults = new Faults('state store');
  /** As a store holds it: the snapshot serialized (parsed again only when a reader looks at it). */
  readonly #items = new Map<string, Omit<SymbolStateRecord, 'snapshot'> & { readonly json: string }>();
  /** Round trips made (loadMany calls, save calls), for tests and the bench. */
  loads = 0;
  saves = 0;
  conflicts = 0;

  async loadMany(symbols: readonly string[]): Promise<Map<string, SymbolStateRecord>> {
    this.faults.check('before');
    this.loads += 1;
    const out = new Map<string, SymbolStateRecord>();
    for (const s of new Set(symbols)) {
      const item = this.#items.get(s);
      if (item) out.set(s, materialize(item));
    }
    this.faults.check('after');
    return out;
  }

  async save(state: SymbolStateRecord, expected: string | undefined): Promise<StateSaveOutcome> {
    this.faults.check('before');
    this.saves += 1;
    const current = this.#items.get(state.symbol);
    const ok = expected === undefined ? current === undefined : current?.lastSequenceNumber === expected;
    if (!ok) {
      this.conflicts += 1;
      return 'conflict';
    }
    this.#items.set(state.symbol, {
      symbol: state.symbol,
      lastSequenceNumber: state.lastSequenceNumber,
      lastEventTime: state.lastEventTime,
      json: JSON.stringify(state.snapshot ?? null),
    });
    this.faults.check('after');
    return 'saved';
  }

  /** The stored state (a copy), or undefined. */
  get(symbol: string): SymbolStateRecord | undefined {
    const item = this.#items.get(symbol);
    return item ? materialize(item) : undefined;
  }

  get size(): number {
    return this.#items.size;
  }
}
