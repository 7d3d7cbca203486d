import type { SnapshotReader } from './contract.ts';

/**
 * Ring-buffer layout shared by the windowed indicators: a Float64Array of `period` slots,
 * `head` = the slot the next input goes to, `filled` = how many slots hold data (< period only
 * during warm-up, when head === filled). When full, buf[head] is the oldest value.
 */
export interface RingState {
  buf: Float64Array;
  head: number;
  filled: number;
}

/** The filled part of the buffer, in slot order (restored as is, so continuation is exact). */
export function ringToJson(buf: Float64Array, filled: number): number[] {
  // A plain loop: several times faster than Array.from over a typed array, and snapshots copy many.
  const out = new Array<number>(filled);
  for (let i = 0; i < filled; i++) out[i] = buf[i]!;
  return out;
}

export function ringFromSnapshot(
  r: SnapshotReader,
  period: number,
  field = 'window',
  headField = 'head',
): RingState {
  const values = r.numbers(field, period);
  const head = r.int(headField, 0, period - 1);
  const filled = values.length;
  if (filled < period && head !== filled % period) {
    r.fail(
      headField,
      `must be ${filled % period} while the window holds ${filled} of ${period} values, got ${head}`,
    );
  }
  const buf = new Float64Array(period);
  buf.set(values);
  return { buf, head, filled };
}
