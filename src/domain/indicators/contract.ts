import { describe, IndicatorConfigError, IndicatorInputError, IndicatorSnapshotError } from './errors.ts';

/** Every snapshot is plain JSON tagged with the indicator type and a format version. */
export interface IndicatorSnapshotBase {
  readonly type: string;
  readonly version: number;
}

/**
 * The one contract every indicator follows.
 *
 * - `update(input)` folds one input in (O(1), no allocation) and returns the current value, or
 *   `undefined` while the indicator is still warming up. Invalid input throws an
 *   {@link IndicatorInputError} and leaves the state untouched.
 * - `value` is the latest value (`undefined` during warm-up). Object-valued indicators
 *   (Bollinger, MACD) return the SAME object on every update, overwritten in place: copy it
 *   (`{ ...bb.value }`) if you keep it past the next update.
 * - `isStable` is true once `requiredInputs` inputs have been seen and a value exists.
 * - `snapshot()` returns compact plain JSON; the static `restore(snapshot)` of the class (or
 *   `restoreIndicator`) rebuilds an indicator that continues bit-for-bit like the original.
 */
export interface Indicator<In, Out, S extends IndicatorSnapshotBase = IndicatorSnapshotBase> {
  readonly type: S['type'];
  readonly requiredInputs: number;
  readonly value: Out | undefined;
  readonly isStable: boolean;
  update(input: In): Out | undefined;
  snapshot(): S;
}

/** A candle as ATR needs it. */
export interface HighLowClose {
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

export type Deviation = 'population' | 'sample';

/** The largest window any indicator accepts; keeps snapshots well inside a DynamoDB item. */
export const MAX_PERIOD = 10_000;

export function checkPeriod(indicator: string, field: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_PERIOD) {
    throw new IndicatorConfigError(
      indicator,
      field,
      `must be an integer between ${min} and ${MAX_PERIOD}, got ${describe(value)}`,
    );
  }
  return value;
}

export function checkDeviation(indicator: string, value: unknown, fallback: Deviation): Deviation {
  if (value === undefined) return fallback;
  if (value !== 'population' && value !== 'sample') {
    throw new IndicatorConfigError(
      indicator,
      'deviation',
      `must be 'population' or 'sample', got ${describe(value)}`,
    );
  }
  return value;
}

export function checkFiniteOption(indicator: string, field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new IndicatorConfigError(
      indicator,
      field,
      `must be a finite number >= ${min}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Throws the input error for a value that failed a finiteness check. Kept out of the hot path. */
export function rejectNumber(indicator: string, field: string, value: unknown): never {
  throw new IndicatorInputError(indicator, field, `must be a finite number, got ${describe(value)}`);
}

export function rejectPrice(indicator: string, field: string, value: unknown): never {
  if (typeof value === 'number' && Number.isFinite(value)) {
    throw new IndicatorInputError(indicator, field, `must be a positive price, got ${describe(value)}`);
  }
  return rejectNumber(indicator, field, value);
}

/** Checks a `{ high, low, close }` input; throws a specific error naming the field. */
export function checkHighLowClose(indicator: string, input: HighLowClose): void {
  if (input === null || typeof input !== 'object') {
    throw new IndicatorInputError(
      indicator,
      'input',
      `must be an object with high, low and close, got ${describe(input)}`,
    );
  }
  const { high, low, close } = input;
  if (!Number.isFinite(high)) rejectNumber(indicator, 'high', high);
  if (!Number.isFinite(low)) rejectNumber(indicator, 'low', low);
  if (!Number.isFinite(close)) rejectNumber(indicator, 'close', close);
  if (high < low) throw new IndicatorInputError(indicator, 'high', `(${high}) is below low (${low})`);
}

/** Reads and validates one snapshot, failing with an error that names the field and the reason. */
export class SnapshotReader {
  readonly indicator: string;
  private readonly data: Record<string, unknown>;

  /** The snapshot's format version (one of those the caller supports). */
  readonly version: number;

  constructor(indicator: string, snapshot: unknown, versions: number | readonly number[]) {
    this.indicator = indicator;
    if (snapshot === null || typeof snapshot !== 'object' || Array.isArray(snapshot)) {
      throw new IndicatorSnapshotError(indicator, 'snapshot', `must be an object, got ${describe(snapshot)}`);
    }
    this.data = snapshot as Record<string, unknown>;
    const type = this.data.type;
    if (type !== indicator) {
      throw new IndicatorSnapshotError(
        indicator,
        'type',
        `must be ${JSON.stringify(indicator)}, got ${describe(type)}`,
      );
    }
    const v = this.data.version;
    const supported = typeof versions === 'number' ? [versions] : versions;
    if (typeof v !== 'number' || !supported.includes(v)) {
      throw new IndicatorSnapshotError(
        indicator,
        'version',
        `must be ${supported.join(' or ')} (supported), got ${describe(v)}`,
      );
    }
    this.version = v;
  }

  fail(field: string, reason: string): never {
    throw new IndicatorSnapshotError(this.indicator, field, reason);
  }

  raw(field: string): unknown {
    return this.data[field];
  }

  int(field: string, min: number, max: number): number {
    const v = this.data[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer between ${min} and ${max}, got ${describe(v)}`);
    }
    return v;
  }

  number(field: string): number {
    const v = this.data[field];
    if (typeof v !== 'number' || !Number.isFinite(v))
      this.fail(field, `must be a finite number, got ${describe(v)}`);
    return v;
  }

  /** A finite number, or `undefined` when the field is absent. */
  optionalNumber(field: string): number | undefined {
    return this.data[field] === undefined ? undefined : this.number(field);
  }

  numbers(field: string, maxLength: number): number[] {
    const v = this.data[field];
    if (!Array.isArray(v)) this.fail(field, `must be an array of numbers, got ${describe(v)}`);
    if (v.length > maxLength) this.fail(field, `must hold at most ${maxLength} numbers, got ${v.length}`);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        this.fail(`${field}[${i}]`, `must be a finite number, got ${describe(x)}`);
      }
    }
    return v as number[];
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const v = this.data[field];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  /** A nested snapshot object (validated by whoever restores it). */
  object(field: string): unknown {
    const v = this.data[field];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(field, `must be a nested snapshot object, got ${describe(v)}`);
    }
    return v;
  }
}

/** Wraps a nested restore so its error names the outer field (e.g. `MACD.fast.period`). */
export function restoreNested<T>(outer: string, field: string, restore: () => T): T {
  try {
    return restore();
  } catch (error) {
    if (error instanceof IndicatorSnapshotError) {
      throw new IndicatorSnapshotError(
        outer,
        `${field}.${error.field}`,
        `${error.reason} (in the ${error.indicator} state)`,
      );
    }
    throw error;
  }
}
