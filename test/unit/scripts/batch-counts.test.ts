/**
 * How `npm start`'s summary adds up `processed` and `discarded` from the batches the local event
 * source mapping reports: each batch reports its size and the records the handler completed
 * (`succeeded`); what fails is retried from its first failure on, and given up on as a whole.
 */
import { describe, expect, it } from 'vitest';
import type { BatchOutcome } from '../../../scripts/pipeline/event-source-mapping.ts';
import { type BatchCounts, countBatch } from '../../../scripts/pipeline/run.ts';

type Reported = Pick<BatchOutcome, 'status' | 'size' | 'succeeded'>;
const tally = (batches: readonly Reported[]): BatchCounts =>
  batches.reduce(countBatch, { processed: 0, discarded: 0 });

describe('countBatch: the summary counts from the batches reported', () => {
  it('counts all of an ok batch as processed, nothing discarded', () => {
    expect(tally([{ status: 'ok', size: 7, succeeded: 7 }])).toEqual({ processed: 7, discarded: 0 });
  });

  it('counts the records before the first failure of a partial batch as processed, the rest not yet', () => {
    expect(tally([{ status: 'partial', size: 8, succeeded: 3 }])).toEqual({ processed: 3, discarded: 0 });
  });

  it('counts nothing of a batch that threw (it is retried)', () => {
    expect(tally([{ status: 'error', size: 5, succeeded: 0 }])).toEqual({ processed: 0, discarded: 0 });
  });

  it('counts every record of a given-up batch as discarded, none as processed', () => {
    expect(tally([{ status: 'discarded', size: 6, succeeded: 0 }])).toEqual({ processed: 0, discarded: 6 });
  });

  it('counts a record once through its retries: processed when it succeeds, or discarded when given up', () => {
    // A batch of 10 fails from its 5th record; the retry of the other 6 completes 2, the next
    // retry of 4 all of them.
    expect(
      tally([
        { status: 'partial', size: 10, succeeded: 4 },
        { status: 'partial', size: 6, succeeded: 2 },
        { status: 'ok', size: 4, succeeded: 4 },
      ]),
    ).toEqual({ processed: 10, discarded: 0 });
  });

  it('AAPL and MSFT on one shard, SPY on another, MSFT and SPY unreadable: 1 processed, 24 discarded of 25', () => {
    // As the local event source mapping reports them (maximumRetryAttempts 3: 4 attempts). On AAPL
    // and MSFT's shard, 18 records interleaved, AAPL first: the first MSFT record fails, and every
    // retry fails at it again, so the 17 from it on are given up, the AAPL records among them too.
    // SPY's 7, in two batches, fail from their first record.
    const givenUp = (size: number, succeededFirst = 0): Reported[] => [
      { status: 'partial', size: size + succeededFirst, succeeded: succeededFirst },
      ...Array.from({ length: 3 }, (): Reported => ({ status: 'partial', size, succeeded: 0 })),
      { status: 'discarded', size, succeeded: 0 },
    ];
    expect(tally([...givenUp(17, 1), ...givenUp(1), ...givenUp(6)])).toEqual({ processed: 1, discarded: 24 });
  });
});
