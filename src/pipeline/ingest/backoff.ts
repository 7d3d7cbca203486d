/** Retry with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** Total tries including the first. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Uniform [0, 1); injectable for tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Delay before retry number `attempt` (1 = first retry): uniform in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor((o.random ?? Math.random)() * cap);
}

export interface RetryOutcome<T> {
  readonly ok: boolean;
  readonly value?: T;
  readonly error?: unknown;
  /** Tries made. */
  readonly attempts: number;
  /** Every error seen, in order (the last one is `error` when not ok). */
  readonly errors: readonly unknown[];
  /** Not ok because the next try would have started at or after the deadline. */
  readonly outOfTime?: boolean;
}

/** When retries must stop: no try starts at or after `deadline` (epoch ms, read on `clock`). */
export interface RetryDeadline {
  readonly deadline?: number;
  readonly clock?: () => number;
}

/**
 * Runs `fn` until it succeeds, the error is not retryable, `maxAttempts` is reached, or the next
 * try would start at or after `until.deadline` (the first try always runs). Never throws: the
 * outcome says what happened.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  o: BackoffOptions,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  until: RetryDeadline = {},
): Promise<RetryOutcome<T>> {
  const errors: unknown[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn(attempt);
      return { ok: true, value, attempts: attempt, errors };
    } catch (err) {
      errors.push(err);
      if (attempt >= o.maxAttempts || !isRetryable(err)) {
        return { ok: false, error: err, attempts: attempt, errors };
      }
      const delay = backoffDelay(attempt, o);
      if (until.deadline !== undefined && (until.clock ?? Date.now)() + delay >= until.deadline) {
        return { ok: false, error: err, attempts: attempt, errors, outOfTime: true };
      }
      onRetry?.(err, attempt, delay);
      await (o.sleep ?? sleep)(delay);
    }
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
