import { describe, expect, it } from 'vitest';
import { backoffDelay, retry } from '../../../src/pipeline/ingest/backoff.ts';

describe('backoffDelay: full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")', () => {
  it('is uniform in [0, min(cap, base·2^n)] for the n-th retry counted from 0', () => {
    // base 100 ms, cap 1 s, the uniform draw at its middle: half of 100, 200, 400, 800, then of the cap.
    const o = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, o))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect(backoffDelay(3, { ...o, random: () => 0 })).toBe(0);
  });
});

describe('retry', () => {
  const failing = (tries: number[]) => async (attempt: number) => {
    tries.push(attempt);
    throw new Error('HTTP 503');
  };

  it('makes no try whose backoff would end at or after the deadline', async () => {
    const tries: number[] = [];
    const slept: number[] = [];
    // The first retry waits half of 500 ms: from 1000 it would start at 1250, past the deadline at 1200.
    const out = await retry(
      failing(tries),
      () => true,
      {
        maxAttempts: 5,
        baseDelayMs: 500,
        maxDelayMs: 5_000,
        random: () => 0.5,
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
      undefined,
      { deadline: 1_200, clock: () => 1_000 },
    );
    expect(out).toMatchObject({ ok: false, attempts: 1, outOfTime: true });
    expect(tries).toEqual([1]);
    expect(slept).toEqual([]);
  });

  it('retries while the backoff ends before the deadline, up to maxAttempts', async () => {
    const tries: number[] = [];
    const slept: number[] = [];
    let now = 1_000;
    const out = await retry(
      failing(tries),
      () => true,
      {
        maxAttempts: 3,
        baseDelayMs: 100,
        maxDelayMs: 5_000,
        random: () => 0.5,
        sleep: async (ms) => {
          slept.push(ms);
          now += ms;
        },
      },
      undefined,
      { deadline: 10_000, clock: () => now },
    );
    expect(out).toMatchObject({ ok: false, attempts: 3 });
    expect(out.outOfTime).toBeUndefined();
    expect(tries).toEqual([1, 2, 3]);
    expect(slept).toEqual([50, 100]);
  });
});
