import type { RejectedRecord, RejectedRecordSink } from '../../ports/processor.ts';
import { Faults } from './faults.ts';

/** In-memory RejectedRecordSink: a dead-letter queue as an array, in arrival order. */
export class MemoryRejectedRecordSink implements RejectedRecordSink {
  readonly faults = new Faults('rejected-record sink');
  readonly records: RejectedRecord[] = [];
  sends = 0;

  async send(records: readonly RejectedRecord[]): Promise<void> {
    this.faults.check('before');
    if (records.length === 0) return;
    this.sends += 1;
    this.records.push(...records.map((r) => ({ ...r })));
    this.faults.check('after');
  }
}
