import { createHash } from 'node:crypto';
import { constants, gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { eventDay } from '../../ports/lake-line.ts';
import type { LakeBatch, LakeRecord, LakeWriter } from '../../ports/processor.ts';

export const LAKE_CONTENT_TYPE = 'application/x-ndjson';
export const LAKE_CONTENT_ENCODING = 'gzip';
export const DEFAULT_RAW_PREFIX = 'raw/';
/**
 * Where a raw object written into a day the nightly compaction no longer covers leaves a mark (an
 * empty object: the raw key's path under this prefix), so a later night compacts that day too.
 */
export const DEFAULT_PENDING_PREFIX = 'compaction-pending/';

const DAY_MS = 86_400_000;

/**
 * Whether a day (YYYY-MM-DD) is late at `now` (epoch ms): two or more UTC days before now's. The
 * nightly run (00:30 UTC) compacts the two days before its own, so a raw object written on day D + 2
 * or later into day D is not compacted by any scheduled run without a mark.
 */
export function isLateDay(day: string, now: number): boolean {
  return Date.parse(`${day}T00:00:00.000Z`) <= Math.floor(now / DAY_MS) * DAY_MS - 2 * DAY_MS;
}

/**
 * Gzip level of the raw zone. On the processor bench's lake objects (500 real bars each) level 1
 * compresses this NDJSON 8.5× (level 6, zlib's default, 9.7×) at under two fifths of the CPU (0.8
 * against 2.2 µs a record): the Lambda's time is billed, the few extra bytes of S3 storage and
 * Athena scanning are not worth it.
 */
export const LAKE_GZIP_LEVEL = constants.Z_BEST_SPEED;

/** A key prefix as a folder: '' stays '', anything else ends in '/'. */
export function keyPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * `raw/dt=YYYY-MM-DD/shard=<shardId>/<firstSeq>-<lastSeq>-<digest>.ndjson.gz`: the first and last
 * sequence numbers of the object's records and a digest of all of them (16 hex digits of SHA-256).
 * The key names exactly the records the object holds, so a write under an existing key is a rewrite
 * of the same records (a retried batch overwrites its own object) and never replaces an object with
 * fewer: a retry that writes only part of a range (the symbols that already advanced are skipped)
 * gets a key of its own, and the raw zone may then hold a record twice, never lose one.
 */
export function lakeObjectKey(
  prefix: string,
  day: string,
  shardId: string,
  records: readonly Pick<LakeRecord, 'sequenceNumber'>[],
): string {
  const first = records[0]?.sequenceNumber;
  const last = records[records.length - 1]?.sequenceNumber;
  if (first === undefined || last === undefined)
    throw new RangeError('a lake object holds at least one record');
  // They go into the key's path: Kinesis sequence numbers are decimal digits, nothing else is.
  for (const seq of [first, last]) {
    if (!/^\d+$/.test(seq))
      throw new RangeError(`lake record sequenceNumber must be a decimal string, got '${seq}'`);
  }
  const digest = createHash('sha256')
    .update(records.map((r) => r.sequenceNumber).join(','))
    .digest('hex')
    .slice(0, 16);
  return `${prefix}dt=${day}/shard=${shardId}/${first}-${last}-${digest}.ndjson.gz`;
}

/** Splits a batch by the UTC day of each record's event time, keeping the batch's order within a day. */
export function groupByEventDay(records: readonly LakeRecord[]): Map<string, LakeRecord[]> {
  const days = new Map<string, LakeRecord[]>();
  for (const r of records) {
    const day = eventDay(r.time);
    let list = days.get(day);
    if (!list) {
      list = [];
      days.set(day, list);
    }
    list.push(r);
  }
  return days;
}

/**
 * One JSON object per line, each line ending in '\n' (the lake's raw format), with the fields in
 * this order: symbol, time, kind, shardId, sequenceNumber, arrivalTime, event.
 */
export function toNdjson(records: readonly LakeRecord[]): string {
  const lines = new Array<string>(records.length + 1);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    // A fresh literal in the lake's field order (V8 serialises such an object fastest).
    lines[i] = JSON.stringify({
      symbol: r.symbol,
      time: r.time,
      kind: r.kind,
      shardId: r.shardId,
      sequenceNumber: r.sequenceNumber,
      arrivalTime: r.arrivalTime,
      event: r.event,
    });
  }
  lines[records.length] = '';
  return lines.join('\n');
}

/**
 * The object's body: the NDJSON, gzip'd on the calling thread. zlib's asynchronous gzip hands the
 * work to libuv's pool in 16 KiB output chunks, each a round trip to the main thread; a Lambda of up
 * to 1,769 MB has one vCPU, so the pool's thread only shares it. The synchronous call is one pass:
 * `processBatch` ran about a fifth more records per CPU-second with it (A/B, five runs each: medians
 * 122,943 and 150,428), and it holds the event loop about 0.7 ms per thousand records, after the
 * batch's other requests have left (process-batch.ts starts the lake write last).
 */
export function encodeLakeObject(records: readonly LakeRecord[]): Buffer {
  return gzipSync(Buffer.from(toNdjson(records), 'utf8'), { level: LAKE_GZIP_LEVEL });
}

function validateBatch(batch: LakeBatch): void {
  if (!batch.shardId) throw new RangeError('lake batch shardId must be a non-empty string');
  if (!/^\d+$/.test(batch.firstSequenceNumber)) {
    throw new RangeError(
      `lake batch firstSequenceNumber must be a decimal string, got '${batch.firstSequenceNumber}'`,
    );
  }
  if (!/^\d+$/.test(batch.lastSequenceNumber)) {
    throw new RangeError(
      `lake batch lastSequenceNumber must be a decimal string, got '${batch.lastSequenceNumber}'`,
    );
  }
}

export interface S3LakeWriterOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix of the raw zone (default 'raw/'). */
  readonly prefix?: string;
  /** Key prefix of the compaction's marks of late days (default 'compaction-pending/'). */
  readonly pendingPrefix?: string;
  /** The wall clock that decides whether a day is late (default Date.now). */
  readonly now?: () => number;
}

/**
 * The raw zone: one gzip NDJSON object per (batch, shard, event day), never one per record. An object
 * of a late day (see isLateDay) is followed by its mark, written only once the object is, so the
 * compaction that lists a mark finds its object.
 */
export class S3LakeWriter implements LakeWriter {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #pendingPrefix: string;
  readonly #now: () => number;

  constructor(options: S3LakeWriterOptions) {
    if (!options.bucket) throw new RangeError('S3LakeWriter bucket must be a non-empty string');
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = keyPrefix(options.prefix ?? DEFAULT_RAW_PREFIX);
    this.#pendingPrefix = keyPrefix(options.pendingPrefix ?? DEFAULT_PENDING_PREFIX);
    if (this.#pendingPrefix === this.#prefix || this.#pendingPrefix === '')
      throw new RangeError('S3LakeWriter pendingPrefix must be a prefix of its own, apart from the raw zone');
    this.#now = options.now ?? Date.now;
  }

  async writeBatch(batch: LakeBatch): Promise<readonly string[]> {
    if (batch.records.length === 0) return [];
    validateBatch(batch);
    const days = groupByEventDay(batch.records);
    const now = this.#now();
    return Promise.all(
      [...days].map(async ([day, records]) => {
        const key = lakeObjectKey(this.#prefix, day, batch.shardId, records);
        await this.#s3.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: key,
            Body: encodeLakeObject(records),
            ContentType: LAKE_CONTENT_TYPE,
            ContentEncoding: LAKE_CONTENT_ENCODING,
          }),
        );
        if (isLateDay(day, now))
          await this.#s3.send(
            new PutObjectCommand({
              Bucket: this.#bucket,
              Key: this.#pendingPrefix + key.slice(this.#prefix.length),
              // An empty string has no length the SDK can tell: without this header it warns
              // ("a Stream of unknown length") on the console once per mark.
              Body: '',
              ContentLength: 0,
            }),
          );
        return key;
      }),
    );
  }
}
