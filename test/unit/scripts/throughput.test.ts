/**
 * The throughput `npm start`'s live mode shows: records processed per second over the last 5 s,
 * from the batches the local event source mapping reports. Kept only for its window, whether or not
 * the view reads it (with stdout not a terminal it never does).
 */
import { describe, expect, it } from 'vitest';
import { Throughput } from '../../../scripts/pipeline/run.ts';

describe('Throughput: records per second over the last 5 s', () => {
  it('keeps only the batches of its window on a long run nobody reads it in', () => {
    // An hour of a synthetic market at --speed max, read by no view: about 76 batches a second of
    // about 10 records (the dev mapping's batching window is 0). Every batch was kept before.
    const throughput = new Throughput();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 76 * 3600; i++) throughput.add(10, t0 + Math.floor((i * 1000) / 76));
    expect(throughput.entries).toBeLessThanOrEqual(76 * 5 + 1);
    const end = t0 + 3600 * 1000;
    expect(throughput.perSecond(end)).toBeCloseTo(760, -1);
    expect(throughput.perSecond(end + 10_000)).toBe(0);
    expect(throughput.entries).toBe(0);
  });

  it('averages the records of the last 5 s', () => {
    const throughput = new Throughput();
    throughput.add(100, 1_000);
    throughput.add(400, 5_000);
    expect(throughput.perSecond(5_000)).toBe(100);
    expect(throughput.perSecond(6_001)).toBe(80);
  });
});
