/**
 * Fault injection for the in-memory adapters, so pipeline tests can make any sink fail before or
 * after its effect (a crash between a write and the next step).
 */
export type FaultTiming = 'before' | 'after';

interface Pending {
  readonly timing: FaultTiming;
  remaining: number;
  readonly error: () => Error;
}

export class Faults {
  readonly #pending: Pending[] = [];
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  /**
   * The next `times` calls fail: 'before' their effect (nothing stored) or 'after' it (stored, yet
   * the caller sees an error, like a crash or a lost response).
   */
  failNext(options: { timing?: FaultTiming; times?: number; error?: Error | (() => Error) } = {}): void {
    const timing = options.timing ?? 'before';
    const e = options.error;
    this.#pending.push({
      timing,
      remaining: options.times ?? 1,
      error:
        typeof e === 'function'
          ? e
          : () => e ?? new Error(`injected ${this.#name} failure (${timing} effect)`),
    });
  }

  /** Throws if a fault of this timing is armed (and uses it up). */
  check(timing: FaultTiming): void {
    const i = this.#pending.findIndex((p) => p.timing === timing);
    if (i < 0) return;
    const p = this.#pending[i]!;
    p.remaining -= 1;
    if (p.remaining <= 0) this.#pending.splice(i, 1);
    throw p.error();
  }

  clear(): void {
    this.#pending.length = 0;
  }
}

/** Deep copy through JSON semantics, as a store round trip would do (no shared mutable objects). */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
