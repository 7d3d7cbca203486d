import type { z } from 'zod';

/** One reason a market event was rejected: the field it concerns and why. */
export interface ValidationIssue {
  readonly field: string;
  readonly reason: string;
}

export type Validated<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

export class MarketDataValidationError extends Error {
  readonly issues: readonly ValidationIssue[];
  constructor(kind: string, issues: readonly ValidationIssue[]) {
    super(`invalid ${kind}: ${formatIssues(issues)}`);
    this.name = 'MarketDataValidationError';
    this.issues = issues;
  }
}

export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.reason}`).join('; ');
}

export function issuesFromZod(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((i) => ({
    field: i.path.length > 0 ? i.path.join('.') : '(root)',
    reason: i.message,
  }));
}

/** A JSON object (not null, not an array): the only shape a decoder's fast path takes on. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
