/** Describes a value for an error message without dumping large or odd inputs. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}

/** An indicator was constructed with an invalid option (e.g. `period: 0`). */
export class IndicatorConfigError extends Error {
  readonly indicator: string;
  readonly field: string;
  readonly reason: string;
  constructor(indicator: string, field: string, reason: string) {
    super(`${indicator}: ${field} ${reason}`);
    this.name = 'IndicatorConfigError';
    this.indicator = indicator;
    this.field = field;
    this.reason = reason;
  }
}

/**
 * `update()` was given an input it cannot use (NaN, Infinity, a non-positive price, high < low…).
 * It is thrown before any state changes: the indicator is exactly as it was before the call.
 */
export class IndicatorInputError extends Error {
  readonly indicator: string;
  readonly field: string;
  readonly reason: string;
  constructor(indicator: string, field: string, reason: string) {
    super(`${indicator} rejected input: ${field} ${reason}`);
    this.name = 'IndicatorInputError';
    this.indicator = indicator;
    this.field = field;
    this.reason = reason;
  }
}

/** A snapshot handed to `restore()` is not a valid snapshot of that indicator. */
export class IndicatorSnapshotError extends Error {
  readonly indicator: string;
  readonly field: string;
  readonly reason: string;
  constructor(indicator: string, field: string, reason: string) {
    super(`invalid ${indicator} snapshot: ${field} ${reason}`);
    this.name = 'IndicatorSnapshotError';
    this.indicator = indicator;
    this.field = field;
    this.reason = reason;
  }
}
