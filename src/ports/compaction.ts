/**
 * The ports of the lake's compaction step (src/pipeline/compact): it reads one UTC day of the raw
 * zone and writes that day once more, each event once, in the compacted Parquet zone.
 */
import type { LakeRecord } from './processor.ts';

/** The raw zone, read back: one day's objects and each object's NDJSON text. */
export interface RawLakeReader {
  /** The keys of the day's raw objects (YYYY-MM-DD), in key order. */
  listDay(day: string): Promise<string[]>;
  /**
   * One object's NDJSON text (decompressed); an UnreadableRawObjectError when its body cannot be
   * (with the text decoded before the damage, when some could be).
   */
  read(key: string): Promise<string>;
}

/** A raw object whose body is not what the raw zone holds (not gzip, say): bad data, not a fault. */
export class UnreadableRawObjectError extends Error {
  override name = 'UnreadableRawObjectError';
  /**
   * The text decoded before the damage (a gzip cut off: a partial copy or upload), when there is
   * any: its whole lines are the object's first lines, as `zcat` shows them; what follows its last
   * newline was cut off. Undefined when nothing of the object can be trusted (not gzip at all).
   */
  readonly partial: string | undefined;

  constructor(message: string, partial?: string) {
    super(message);
    this.partial = partial;
  }
}

/** One event of the compacted zone: a raw line's fields, `event` holding the tick's or bar's own. */
export interface CompactedEvent extends Omit<LakeRecord, 'event'> {
  readonly event: Readonly<Record<string, string | number | null>>;
}

export interface CompactedObject {
  readonly key: string;
  readonly bytes: number;
}

/** The compacted zone: one object per day, replaced as a whole by each compaction of that day. */
export interface CompactedLakeWriter {
  /**
   * The day's object as it stands: undefined when there is none; `events` undefined when it does
   * not say how many events it holds (not written by the compaction).
   */
  existing(day: string): Promise<{ readonly events: number | undefined } | undefined>;
  writeDay(day: string, events: readonly CompactedEvent[]): Promise<CompactedObject>;
}

/**
 * The marks a raw object written into a day the nightly runs no longer cover leaves (late data: a
 * backfill, a dead letter recovered, a replay): the days a scheduled run compacts besides its own.
 */
export interface PendingDays {
  /** The marks' keys by day (YYYY-MM-DD), days in order; only `day`'s when given. */
  list(day?: string): Promise<Map<string, string[]>>;
  /** Removes marks listed before their day was compacted (a mark written since stays). */
  clear(keys: readonly string[]): Promise<void>;
}
