/**
 * Kinesis sequence numbers are decimal strings of up to 128 bits; within a shard (and across a
 * shard's children after a reshard) a later record has a larger number. Compare them as integers.
 */
export function compareSequenceNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isAfter(candidate: string, reference: string | undefined): boolean {
  return reference === undefined || compareSequenceNumbers(candidate, reference) > 0;
}
