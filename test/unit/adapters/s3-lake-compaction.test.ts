import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

/** Runs the encode worker over `events` ticks with `heapMb` of old generation; its result or error. */
function encodeInWorker(events: number, heapMb: number) {
  return new Promise<{ bytes?: number; error?: string }>((resolve) => {
    const worker = new Worker(new URL('../../fixtures/compaction/encode-day-worker.ts', import.meta.url), {
      workerData: { events },
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    worker.once('message', (m: { bytes: number }) => resolve({ bytes: m.bytes }));
    worker.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe('the compacted Parquet file of a day', () => {
  it('is built in little more memory than the day’s events hold (the columns a row group at a time)', async () => {
    // 500,000 parsed ticks take about 360 MB of heap. Built for the whole day at once, the file's
    // columns needed over 520 MB in all (so the default 2 GiB function held about a million events
    // a day); a row group at a time, under 420 MB.
    const result = await encodeInWorker(500_000, 480);
    expect(result.error).toBeUndefined();
    expect(result.bytes).toBeGreaterThan(0);
  }, 60_000);
});
