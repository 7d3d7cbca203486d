import type { RawLakeReader } from '../../ports/compaction.ts';
import type { LakeBatch, LakeRecord, LakeWriter } from '../../ports/processor.ts';
import {
  DEFAULT_RAW_PREFIX,
  encodeLakeObject,
  groupByEventDay,
  lakeObjectKey,
  toNdjson,
} from '../aws/s3-lake-writer.ts';
import { Faults } from './faults.ts';

export interface MemoryLakeObject {
  readonly key: string;
  readonly records: readonly LakeRecord[];
  /** The gzip NDJSON body, when the writer was built with `encode: true`. */
  readonly body?: Buffer;
}

/**
 * In-memory LakeWriter, and RawLakeReader of what it holds, with the S3 writer's object layout:
 * one object per (batch, shard, event day) under the same key, named by the records it holds, so
 * writing a batch twice overwrites rather than adds.
 * `encode: true` also builds the gzip NDJSON body (the real CPU cost, for the bench).
 */
export class MemoryLakeWriter implements LakeWriter, RawLakeReader {
  readonly faults = new Faults('lake writer');
  readonly #objects = new Map<string, MemoryLakeObject>();
  readonly #encode: boolean;
  readonly #prefix: string;
  /** PUTs made (an overwrite counts again, as S3 would bill it). */
  puts = 0;

  constructor(options: { encode?: boolean; prefix?: string } = {}) {
    this.#encode = options.encode ?? false;
    this.#prefix = options.prefix ?? DEFAULT_RAW_PREFIX;
  }

  async writeBatch(batch: LakeBatch): Promise<readonly string[]> {
    this.faults.check('before');
    if (batch.records.length === 0) return [];
    const keys: string[] = [];
    for (const [day, records] of groupByEventDay(batch.records)) {
      const key = lakeObjectKey(this.#prefix, day, batch.shardId, records);
      const body = this.#encode ? encodeLakeObject(records) : undefined;
      this.#objects.set(key, { key, records: [...records], ...(body ? { body } : {}) });
      this.puts += 1;
      keys.push(key);
    }
    this.faults.check('after');
    return keys;
  }

  objects(): MemoryLakeObject[] {
    return [...this.#objects.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  get objectCount(): number {
    return this.#objects.size;
  }

  /** RawLakeReader: the day's keys, in key order. */
  async listDay(day: string): Promise<string[]> {
    return this.objects()
      .map((o) => o.key)
      .filter((k) => k.startsWith(`${this.#prefix}dt=${day}/`));
  }

  /** RawLakeReader: an object's NDJSON text. */
  async read(key: string): Promise<string> {
    const o = this.#objects.get(key);
    if (!o) throw new Error(`no lake object ${key}`);
    return toNdjson(o.records);
  }

  /** Every stored record, in key order then batch order. */
  records(): LakeRecord[] {
    return this.objects().flatMap((o) => o.records);
  }
}
