/**
 * `npm run query -- "SQL"`: SQL over the local lake, with the Glue tables and view Athena has in the
 * cloud (`tickstream_<stage>.raw_events`, `.events` and `.compacted_events`, also reachable
 * unqualified), in process with DuckDB.
 *
 *   node scripts/query.ts [--state-dir .local] [--stage dev] [--json] "SELECT …"
 *
 * One statement, as Athena takes it. Prints the rows as a table (a struct as its JSON), or with --json one JSON object per line. Exit 2 on a usage error or
 * a lake with nothing in it, 1 when the SQL fails (DuckDB's message on stderr).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../src/pipeline/ingest/cli.ts';
import { LocalLake, LocalLakeError } from './local/lake-sql.ts';
import { DEFAULT_STATE_DIR, readStateMeta } from './local/state-dir.ts';

export interface QueryArgs {
  readonly stateDir: string;
  readonly stage: string;
  readonly json: boolean;
  readonly sql: string;
}

const USAGE = `usage: npm run query -- [--state-dir DIR] [--stage S] [--json] "SQL"
  SQL over the local lake (npm start writes it), as in Athena: tickstream_<stage>.events (each
  event once), tickstream_<stage>.raw_events (the raw zone, at-least-once) and
  tickstream_<stage>.compacted_events (the Parquet zone: the days compacted so far); also unqualified
  --state-dir DIR   the local cloud's state directory (default .local/; env TICKSTREAM_STATE_DIR)
  --stage S         the stage whose lake is read (default dev; env TICKSTREAM_STAGE)
  --json            one JSON object per row instead of a table
  env AWS_REGION    of a state started in several regions, whose lake is read (default: the last start's)`;

/**
 * The region whose lake is read when the state directory holds the stage's lake buckets of several
 * regions (a start with another AWS_REGION on it): AWS_REGION when set, as the CLIs' clients take
 * it, else the region of the directory's last start (its local-cloud.json).
 */
function lakeRegion(stateDir: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_REGION) return env.AWS_REGION;
  // Never started, or not readable: the bucket alone decides.
  const region = readStateMeta(stateDir)?.region;
  return typeof region === 'string' ? region : undefined;
}

export function parseQueryArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): QueryArgs {
  let parsed: ReturnType<typeof parseQueryOptions>;
  try {
    parsed = parseQueryOptions(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('');
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? 'no SQL given' : 'give the SQL as one argument');
  const stateDir = values['state-dir'] ?? env.TICKSTREAM_STATE_DIR;
  return {
    stateDir: stateDir ? resolve(stateDir) : DEFAULT_STATE_DIR,
    stage: values.stage ?? (env.TICKSTREAM_STAGE || 'dev'),
    json: values.json,
    sql: positionals[0]!,
  };
}

function parseQueryOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      'state-dir': { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/**
 * A row as the table shows it: a struct, list or map as its JSON text, as --json prints it.
 * console.table shows a nested value only while it is short (`{ x: 1 }`), and `[Object]` for the
 * rest, which hid every field of `event` (19 of them) in `SELECT * FROM events`.
 */
function tableRow(row: Record<string, unknown>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row))
    shown[name] = value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  return shown;
}

async function main(): Promise<number> {
  let args: QueryArgs;
  try {
    args = parseQueryArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`npm run query: ${e.message}`);
    console.error(USAGE);
    return e.message ? 2 : 0;
  }
  let lake: LocalLake;
  try {
    lake = await LocalLake.open({
      s3Dir: join(args.stateDir, 's3'),
      stage: args.stage,
      region: lakeRegion(args.stateDir, process.env),
    });
  } catch (e) {
    if (!(e instanceof LocalLakeError)) throw e;
    console.error(`npm run query: ${e.message}`);
    return 2;
  }
  try {
    const rows = await lake.query(args.sql);
    if (args.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    else if (rows.length > 0) console.table(rows.map(tableRow));
    console.error(`${rows.length} row${rows.length === 1 ? '' : 's'}`);
    return 0;
  } catch (e) {
    console.error(`npm run query: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    lake.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `npm run -s query … | head`: the reader left, which is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`npm run query: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
