import type { StateSaveOutcome, SymbolStateRecord, SymbolStateStore } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

/** As a store holds a snapshot: a copy of its bytes (a binary attribute), or else serialized JSON. */
type Held = { readonly bytes: Uint8Array } | { readonly json: string };
type Item = Omit<SymbolStateRecord, 'snapshot'> & { readonly held: Held };

function hold(snapshot: unknown): Held {
  return snapshot instanceof Uint8Array
    ? { bytes: Buffer.from(snapshot) } // a copy (from the buffer pool, as small as these are)
    : { json: JSON.stringify(snapshot ?? null) };
}

/** A fresh record whose snapshot is copied (bytes) or parsed (JSON) from the stored form on first access. */
function materialize(item: Item): SymbolStateRecord {
  let value: unknown;
  let done = false;
  return {
    symbol: item.symbol,
    lastSequenceNumber: item.lastSequenceNumber,
    lastEventTime: item.lastEventTime,
    get snapshot() {
      if (!done) {
        const held = item.held;
        value = 'bytes' in held ? Buffer.from(held.bytes) : JSON.parse(held.json);
        done = true;
      }
      return value;
    },
  };
}

/** In-memory SymbolStateStore with the DynamoDB adapter's conditional-save semantics. */
export class MemoryStateStore implements SymbolStateStore {
  readonly faults = new Faults('state store');
  /** As a store holds it: the snapshot's bytes copied, or serialized (read back only when a reader looks). */
  readonly #items = new Map<string, Item>();
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
      held: hold(state.snapshot),
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
