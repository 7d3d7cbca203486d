/**
 * The compaction step's S3 side: the raw zone read back (`raw/dt=YYYY-MM-DD/…ndjson.gz`, gunzipped)
 * and the compacted zone written (`compacted/dt=YYYY-MM-DD/events.parquet`, one object per day).
 */
import { promisify } from 'node:util';
import { constants, gunzip as gunzipCallback } from 'node:zlib';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import {
  type CompactedEvent,
  type CompactedLakeWriter,
  type CompactedObject,
  type PendingDays,
  type RawLakeReader,
  UnreadableRawObjectError,
} from '../../ports/compaction.ts';
import { LAKE_EVENT_FIELDS, LAKE_LINE_FIELDS, type LakeFieldType } from '../../ports/lake-line.ts';
import { DEFAULT_PENDING_PREFIX, DEFAULT_RAW_PREFIX, keyPrefix } from './s3-lake-writer.ts';

const gunzip = promisify(gunzipCallback);

export const DEFAULT_COMPACTED_PREFIX = 'compacted/';
export const COMPACTED_OBJECT_NAME = 'events.parquet';
const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** User metadata on a compacted object: how many events it holds (S3 returns it as x-amz-meta-…). */
const EVENT_COUNT_METADATA = 'event-count';

export interface S3LakeCompactionOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The raw zone's prefix (default 'raw/'). */
  readonly rawPrefix?: string;
  /** The compacted zone's prefix (default 'compacted/'). */
  readonly compactedPrefix?: string;
  /** The prefix of the marks of late days (default 'compaction-pending/'). */
  readonly pendingPrefix?: string;
}

/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;

/** The marks of late days (written by S3LakeWriter): `compaction-pending/dt=YYYY-MM-DD/…`. */
export class S3PendingDays implements PendingDays {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3LakeCompactionOptions) {
    if (!options.bucket) throw new RangeError('S3PendingDays bucket must be a non-empty string');
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = keyPrefix(options.pendingPrefix ?? DEFAULT_PENDING_PREFIX);
  }

  async list(day?: string): Promise<Map<string, string[]>> {
    const byDay = new Map<string, string[]>();
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: day === undefined ? `${this.#prefix}dt=` : `${this.#prefix}dt=${day}/`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        const key = o.Key ?? '';
        const marked = /^dt=(\d{4}-\d{2}-\d{2})\//.exec(key.slice(this.#prefix.length))?.[1];
        if (!marked) continue; // not a mark: nothing the writer puts there
        const list = byDay.get(marked);
        if (list) list.push(key);
        else byDay.set(marked, [key]);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return new Map([...byDay].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  async clear(keys: readonly string[]): Promise<void> {
    // Every chunk is sent, whatever an earlier one met: a mark left behind costs its day another
    // compaction, so one failure leaves no more marks than its own.
    let notRemoved = 0;
    let first: string | undefined;
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const chunk = keys.slice(i, i + DELETE_BATCH);
      try {
        const r = await this.#s3.send(
          new DeleteObjectsCommand({
            Bucket: this.#bucket,
            Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = r.Errors ?? [];
        notRemoved += failed.length;
        if (failed[0]) first ??= `${failed[0].Key}: ${failed[0].Code} ${failed[0].Message ?? ''}`.trim();
      } catch (err) {
        notRemoved += chunk.length;
        first ??= `${chunk[0]}: ${err instanceof Error ? `${err.name} ${err.message}` : String(err)}`;
      }
    }
    if (notRemoved > 0)
      throw new Error(`${notRemoved} of ${keys.length} marks not removed (first: ${first})`);
  }
}

export class S3RawLakeReader implements RawLakeReader {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3LakeCompactionOptions) {
    if (!options.bucket) throw new RangeError('S3RawLakeReader bucket must be a non-empty string');
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = keyPrefix(options.rawPrefix ?? DEFAULT_RAW_PREFIX);
  }

  async listDay(day: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: `${this.#prefix}dt=${day}/`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key?.endsWith('.ndjson.gz')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async read(key: string): Promise<string> {
    const object = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
    if (!object.Body) throw new Error(`s3://${this.#bucket}/${key} has no body`);
    const body = await object.Body.transformToByteArray();
    let text: Buffer;
    try {
      text = await gunzip(body);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'Z_BUF_ERROR')
        throw new UnreadableRawObjectError(`not gzip: ${(err as Error).message}`);
      // Cut off (a partial copy or upload): the input ended before the stream did. Decoded again,
      // flushed rather than finished, it gives what `zcat` shows before its error: the object's
      // first lines, whole but for the last (the compaction keeps those and reports the cut). This
      // second pass is paid only by a damaged object; should it fail, nothing of it is kept.
      const message = `gzip cut off: ${(err as Error).message}`;
      let partial: string | undefined;
      try {
        partial = (await gunzip(body, { finishFlush: constants.Z_SYNC_FLUSH })).toString('utf8');
      } catch {
        partial = undefined;
      }
      throw new UnreadableRawObjectError(message, partial || undefined);
    }
    return text.toString('utf8');
  }
}

const HIVE_TO_PARQUET: Record<LakeFieldType, Omit<SchemaElement, 'name'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  bigint: { type: 'INT64' },
  double: { type: 'DOUBLE' },
};

/**
 * The Parquet schema of the compacted zone: the raw line's columns, lower-cased as Glue names them,
 * `event` a group of the tick's and bar's fields (each optional: a tick has no `open`, a bar no
 * `price`).
 */
function compactedParquetSchema(): SchemaElement[] {
  return [
    { name: 'root', num_children: LAKE_LINE_FIELDS.length + 1 },
    ...LAKE_LINE_FIELDS.map(([n, t]) => ({
      name: n.toLowerCase(),
      ...HIVE_TO_PARQUET[t],
      repetition_type: 'REQUIRED' as const,
    })),
    { name: 'event', repetition_type: 'REQUIRED', num_children: LAKE_EVENT_FIELDS.length },
    ...LAKE_EVENT_FIELDS.map(([n, t]) => ({
      name: n.toLowerCase(),
      ...HIVE_TO_PARQUET[t],
      repetition_type: 'OPTIONAL' as const,
    })),
  ];
}

/** A value as its Parquet column takes it: INT64 columns take a bigint. */
const parquetValue = (type: LakeFieldType, v: unknown) =>
  type === 'bigint' && typeof v === 'number' ? BigInt(v) : v;

/**
 * Rows per row group: 1,000, then 100,000 each (hyparquet-writer's default, so a day's file is byte
 * for byte the one parquetWriteBuffer wrote from the whole day's columns).
 */
const ROW_GROUP_SIZES = [1000, 100_000] as const;

/** The columns of some of the day's events, as the Parquet writer takes them. */
function columnsOf(events: readonly CompactedEvent[]) {
  return [
    ...LAKE_LINE_FIELDS.map(([n, t]) => ({
      name: n.toLowerCase(),
      data: events.map((e) => parquetValue(t, e[n as keyof CompactedEvent])),
    })),
    {
      name: 'event',
      data: events.map((e) => {
        const o: Record<string, unknown> = {};
        for (const [n, t] of LAKE_EVENT_FIELDS) o[n.toLowerCase()] = parquetValue(t, e.event[n] ?? null);
        return o;
      }),
    },
  ];
}

/**
 * The day's events as one Parquet file (snappy pages, column statistics). The columns are built one
 * row group at a time: built for the whole day at once they took about as much memory again as the
 * day's events themselves, which set the largest day the function's memory can compact.
 */
export function encodeCompactedDay(events: readonly CompactedEvent[]): Uint8Array {
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({ writer, schema: compactedParquetSchema() });
  for (let start = 0, group = 0; start < events.length; group++) {
    const size = ROW_GROUP_SIZES[Math.min(group, ROW_GROUP_SIZES.length - 1)]!;
    const rows = events.slice(start, start + size);
    parquet.write({ columnData: columnsOf(rows), rowGroupSize: rows.length });
    start += rows.length;
  }
  parquet.finish();
  return new Uint8Array(writer.getBuffer());
}

export class S3CompactedLakeWriter implements CompactedLakeWriter {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3LakeCompactionOptions) {
    if (!options.bucket) throw new RangeError('S3CompactedLakeWriter bucket must be a non-empty string');
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = keyPrefix(options.compactedPrefix ?? DEFAULT_COMPACTED_PREFIX);
  }

  #key(day: string): string {
    return `${this.#prefix}dt=${day}/${COMPACTED_OBJECT_NAME}`;
  }

  async existing(day: string): Promise<{ events: number | undefined } | undefined> {
    const key = this.#key(day);
    // Listed first: a HEAD of a missing key answers 403, not 404, to a role that may list the
    // bucket only under a prefix condition (a HEAD carries no prefix); a real 403 stays an error.
    const listed = await this.#s3.send(
      new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: key, MaxKeys: 1 }),
    );
    if (listed.Contents?.[0]?.Key !== key) return undefined;
    const head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
    const count = Number(head.Metadata?.[EVENT_COUNT_METADATA] ?? Number.NaN);
    return { events: Number.isSafeInteger(count) && count >= 0 ? count : undefined };
  }

  async writeDay(day: string, events: readonly CompactedEvent[]): Promise<CompactedObject> {
    const key = this.#key(day);
    const body = encodeCompactedDay(events);
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: PARQUET_CONTENT_TYPE,
        Metadata: { [EVENT_COUNT_METADATA]: String(events.length) },
      }),
    );
    return { key, bytes: body.byteLength };
  }
}
