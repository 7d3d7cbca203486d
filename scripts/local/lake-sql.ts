import { globSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  COMPACTED_EVENTS_TABLE,
  EVENTS_VIEW,
  eventsViewSql,
  LAKE_EVENT_FIELDS,
  LAKE_LINE_FIELDS,
  type LakeFieldType,
  RAW_EVENTS_TABLE,
} from '../../src/adapters/aws/lake-schema.ts';
import {
  COMPACTED_OBJECT_NAME,
  DEFAULT_COMPACTED_PREFIX,
} from '../../src/adapters/aws/s3-lake-compaction.ts';
import { DEFAULT_RAW_PREFIX } from '../../src/adapters/aws/s3-lake-writer.ts';

/**
 * SQL over the local lake, as Athena sees the real one: DuckDB (in process) reads the raw zone's
 * gzip NDJSON objects straight from s3rver's directory, through a view `tickstream_<stage>.raw_events`
 * with the Glue table's columns, names and types (both come from lake-schema.ts) and its `dt`
 * partition as a string, and the view `events` over it with the Glue view's SQL (each (symbol, kind,
 * time) once); `compacted_events` reads the compacted zone's Parquet objects (no row before there are any).
 * `from_unixtime` is defined as in Athena, so the README's Athena queries run unchanged.
 */

const DUCKDB_TYPES: Record<LakeFieldType, string> = { string: 'VARCHAR', bigint: 'BIGINT', double: 'DOUBLE' };

/** s3rver keeps each object's body in `<bucket>/<key>._S3rver_object`. */
const S3RVER_OBJECT_SUFFIX = '._S3rver_object';

export class LocalLakeError extends Error {
  override name = 'LocalLakeError';
}

export interface LocalLakeOptions {
  /** s3rver's directory (`<state dir>/s3`). */
  readonly s3Dir: string;
  /** The lake bucket; by default the one directory under s3Dir named `…-<stage>-lake`. */
  readonly bucket?: string;
  readonly stage: string;
  /**
   * The region whose lake bucket is read when s3Dir holds the stage's lake buckets of several
   * regions: the region is part of the bucket's name, so a start with another AWS_REGION on the
   * same state directory made a bucket of its own beside the first.
   */
  readonly region?: string;
}

/**
 * The lake bucket of a stage under s3rver's directory (its name ends in `-<stage>-lake`); of
 * several, one per region (`tickstream-<account>-<region>-<stage>-lake`), the region's.
 */
function findLakeBucket(s3Dir: string, stage: string, region: string | undefined): string {
  let names: string[];
  try {
    names = readdirSync(s3Dir);
  } catch {
    throw new LocalLakeError(`no local S3 data under ${s3Dir}: run npm start first`);
  }
  const suffix = `-${stage}-lake`;
  const buckets = names.filter((n) => n.endsWith(suffix));
  if (buckets.length === 0)
    throw new LocalLakeError(
      `no lake bucket of stage ${stage} under ${s3Dir} (found: ${names.join(', ') || 'nothing'})`,
    );
  if (buckets.length === 1) return buckets[0]!;
  const regionOf = (n: string) => /-\d{12}-(.+)$/.exec(n.slice(0, -suffix.length))?.[1] ?? n;
  const ofRegion = buckets.filter((n) => regionOf(n) === region);
  if (ofRegion.length === 1) return ofRegion[0]!;
  throw new LocalLakeError(
    `lake buckets of stage ${stage} in ${buckets.length} regions (${buckets.map(regionOf).sort().join(', ')}) ` +
      `under ${s3Dir}${region ? `, none of ${region}` : ''}: set AWS_REGION to the region to read`,
  );
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * `dt` of an object, from its own partition folder: the `dt=` folder that many levels above the
 * object (the raw zone's `dt=…/shard=…/object`: 2; the compacted zone's `dt=…/object`: 1). Not
 * DuckDB's hive_partitioning, which takes the first `dt=` of the whole path: a state directory kept
 * under a folder named `dt=…` gave every row that folder's value. DuckDB prunes the files by a filter
 * on this expression as it does by a partition (only that day's objects are read).
 */
function objectDt(levelsAbove: 1 | 2): string {
  const part = String.raw`[^/\\]+`;
  const sep = String.raw`[/\\]`;
  const below = levelsAbove === 2 ? `${sep}${part}` : '';
  return `regexp_extract(filename, ${sqlString(`${sep}dt=(${part})${below}${sep}${part}$`)}, 1) AS dt`;
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
const struct = (fields: typeof LAKE_EVENT_FIELDS, name: (n: string) => string) =>
  `STRUCT(${fields.map(([n, t]) => `${quoted(name(n))} ${DUCKDB_TYPES[t]}`).join(', ')})`;

/**
 * The statements that define the stage's schema, its `raw_events`, `events` and `compacted_events`
 * views (the last empty when `compactedGlob` is not given: no day compacted yet), and `from_unixtime`.
 */
function lakeViewStatements(glob: string, stage: string, compactedGlob: string | undefined): string[] {
  const schema = quoted(`tickstream_${stage}`);
  // read_json matches the JSON's own keys; the view names them as Glue does (lower case).
  const columns = [
    ...LAKE_LINE_FIELDS.map(([n, t]) => `${quoted(n)}: ${sqlString(DUCKDB_TYPES[t])}`),
    `"event": ${sqlString(struct(LAKE_EVENT_FIELDS, (n) => n))}`,
  ].join(', ');
  const select = [
    ...LAKE_LINE_FIELDS.map(([n]) => `${quoted(n)} AS ${quoted(n.toLowerCase())}`),
    `CAST("event" AS ${struct(LAKE_EVENT_FIELDS, (n) => n.toLowerCase())}) AS "event"`,
    objectDt(2),
  ].join(', ');
  // The Glue table's columns by name: the Parquet objects' own, and dt from their path.
  const compactedColumns = [
    ...[...LAKE_LINE_FIELDS.map(([n]) => n.toLowerCase()), 'event'].map(quoted),
    objectDt(1),
  ].join(', ');
  // Before any day is compacted there is no Parquet object to read, but the Glue table exists all
  // the same (empty): so does this view, with its columns and types, so that a query naming it (the
  // README's, or one that reads closed days from it and the rest from `events`) runs and finds no row.
  const compactedSource = compactedGlob
    ? `SELECT ${compactedColumns} FROM read_parquet(${sqlString(compactedGlob)}, ` +
      'hive_partitioning = false, filename = true)'
    : `SELECT ${[
        ...LAKE_LINE_FIELDS.map(([n, t]) => `CAST(NULL AS ${DUCKDB_TYPES[t]}) AS ${quoted(n.toLowerCase())}`),
        `CAST(NULL AS ${struct(LAKE_EVENT_FIELDS, (n) => n.toLowerCase())}) AS "event"`,
        'CAST(NULL AS VARCHAR) AS dt',
      ].join(', ')} WHERE false`;
  // ignore_errors: a line that is not JSON is skipped, as the Glue table's `ignore.malformed.json`
  // keeps Athena reading past it (Athena returns it as a row of nulls; the events view drops both).
  return [
    `CREATE SCHEMA ${schema}`,
    `CREATE VIEW ${schema}.${RAW_EVENTS_TABLE} AS SELECT ${select} FROM read_json(${sqlString(glob)}, ` +
      `format = 'newline_delimited', compression = 'gzip', ignore_errors = true, hive_partitioning = false, ` +
      `filename = true, columns = {${columns}})`,
    `CREATE VIEW ${schema}.${EVENTS_VIEW} AS ${eventsViewSql()}`,
    `CREATE VIEW ${schema}.${COMPACTED_EVENTS_TABLE} AS ${compactedSource}`,
    `SET search_path = ${sqlString(`tickstream_${stage},main`)}`,
    // Athena's from_unixtime(seconds), the instant in UTC (Athena types it with the zone UTC).
    'CREATE MACRO main.from_unixtime(seconds) AS make_timestamp(CAST(round(seconds * 1000000) AS BIGINT))',
  ];
}

/** An in-process DuckDB over one local lake. Close it when done. */
export class LocalLake {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  static async open(options: LocalLakeOptions): Promise<LocalLake> {
    const bucket = options.bucket ?? findLakeBucket(options.s3Dir, options.stage, options.region);
    const root = join(options.s3Dir, bucket, DEFAULT_RAW_PREFIX);
    // The path becomes part of a file glob (here and in DuckDB): say so rather than find nothing.
    if (/[*?[\]{}]/.test(root))
      throw new LocalLakeError(
        `the lake's path has a glob character (* ? [ ] { }), which cannot be read: ${root}`,
      );
    const files = join(root, 'dt=*', 'shard=*', `*.ndjson.gz${S3RVER_OBJECT_SUFFIX}`);
    // DuckDB's own message for an empty glob does not say what to do.
    if (globSync(files).length === 0)
      throw new LocalLakeError(`the local lake has no objects yet (${root}): run npm start first`);
    const compacted = join(
      options.s3Dir,
      bucket,
      DEFAULT_COMPACTED_PREFIX,
      'dt=*',
      `${COMPACTED_OBJECT_NAME}${S3RVER_OBJECT_SUFFIX}`,
    );
    const compactedGlob = globSync(compacted).length > 0 ? compacted : undefined;
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      for (const statement of lakeViewStatements(files, options.stage, compactedGlob))
        await connection.run(statement);
    } catch (err) {
      connection.closeSync();
      instance.closeSync();
      throw err;
    }
    return new LocalLake(instance, connection);
  }

  /**
   * Runs one statement; rows as JSON-safe objects (BIGINT as a decimal string, as JSON cannot hold it).
   * Several statements are refused, as Athena refuses them: DuckDB would run them all and give back
   * only the last one's rows, so `SELECT …; SELECT …` printed the second result alone.
   */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    let count: number;
    try {
      count = (await this.#connection.extractStatements(sql)).count;
    } catch {
      // DuckDB splits neither a syntax error nor a text with no statement (its message then says
      // nothing more than "Error in native callback"): running it gives the parser's own message,
      // and when it runs, it held no statement.
      await this.#connection.run(sql);
      count = 0;
    }
    if (count === 0) throw new LocalLakeError('no SQL statement given');
    if (count > 1) {
      throw new LocalLakeError(
        `one statement per query, as Athena runs them: this holds ${count}; run them one at a time`,
      );
    }
    const reader = await this.#connection.runAndReadAll(sql);
    return reader.getRowObjectsJson();
  }

  close(): void {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}
