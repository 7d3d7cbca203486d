/**
 * The compaction step's S3 side: the raw zone read back (`raw/dt=YYYY-MM-DD/…ndjson.gz`, gunzipped)
 * and the compacted zone written (`compacted/dt=YYYY-MM-DD/events.parquet`, one object per day).
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ByteWriter, parquetWrite, type SchemaElement } from 'hyparquet-writer';
import type {
  CompactedEvent,
  CompactedLakeWriter,
  CompactedObject,
  RawLakeReader,
} from '../../ports/compaction.ts';
import { LAKE_EVENT_FIELDS, LAKE_LINE_FIELDS, type LakeFieldType } from '../../ports/lake-line.ts';
import { DEFAULT_RAW_PREFIX } from './s3-lake-writer.ts';

const gunzip = promisify(gunzipCallback);

export const DEFAULT_COMPACTED_PREFIX = 'compacted/';
export const COMPACTED_OBJECT_NAME = 'events.parquet';
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

const withSlash = (prefix: string) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`);

export interface S3LakeCompactionOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The raw zone's prefix (default 'raw/'). */
  readonly rawPrefix?: string;
  /** The compacted zone's prefix (default 'compacted/'). */
  readonly compactedPrefix?: string;
}

export class S3RawLakeReader implements RawLakeReader {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3LakeCompactionOptions) {
    if (!options.bucket) throw new RangeError('S3RawLakeReader bucket must be a non-empty string');
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#prefix = withSlash(options.rawPrefix ?? DEFAULT_RAW_PREFIX);
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
    return (await gunzip(body)).toString('utf8');
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
export function compactedParquetSchema(): SchemaElement[] {
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

/** The day's events as one Parquet file (snappy pages, column statistics). */
export function encodeCompactedDay(events: readonly CompactedEvent[]): Uint8Array {
  const column = (name: string, type: LakeFieldType, value: (e: CompactedEvent) => unknown) => ({
    name: name.toLowerCase(),
    data: events.map((e) => {
      const v = value(e);
      return type === 'bigint' && typeof v === 'number' ? BigInt(v) : v;
    }),
  });
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    schema: compactedParquetSchema(),
    columnData: [
      ...LAKE_LINE_FIELDS.map(([n, t]) => column(n, t, (e) => e[n as keyof CompactedEvent])),
      {
        name: 'event',
        data: events.map((e) => {
          const o: Record<string, unknown> = {};
          for (const [n, t] of LAKE_EVENT_FIELDS) {
            const v = e.event[n] ?? null;
            o[n.toLowerCase()] = t === 'bigint' && typeof v === 'number' ? BigInt(v) : v;
          }
          return o;
        }),
      },
    ],
  });
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
    this.#prefix = withSlash(options.compactedPrefix ?? DEFAULT_COMPACTED_PREFIX);
  }

  async writeDay(day: string, events: readonly CompactedEvent[]): Promise<CompactedObject> {
    const key = `${this.#prefix}dt=${day}/${COMPACTED_OBJECT_NAME}`;
    const body = encodeCompactedDay(events);
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: PARQUET_CONTENT_TYPE,
      }),
    );
    return { key, bytes: body.byteLength };
  }
}
