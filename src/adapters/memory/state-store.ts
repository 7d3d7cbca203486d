import type { StateSaveOutcome, SymbolStateRecord, SymbolStateStore } from '../../ports/processor.ts';
import { cloneJson, Faults } from './faults.ts';

/** In-memory SymbolStateStore with the DynamoDB adapter's conditional-save semantics. */
export class MemoryStateStore implements SymbolStateStore {
  readonly faults = new Faults('state store');
  readonly #items = new Map<string, SymbolStateRecord>();
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
      if (item) out.set(s, { ...item, snapshot: cloneJson(item.snapshot) });
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
      snapshot: cloneJson(state.snapshot ?? null),
    });
    this.faults.check('after');
    return 'saved';
  }

  /** The stored state (a copy), or undefined. */
  get(symbol: string): SymbolStateRecord | undefined {
    const item = this.#items.get(symbol);
    return item ? { ...item, snapshot: cloneJson(item.snapshot) } : undefined;
  }

  get size(): number {
    return this.#items.size;
  }
}
