/**
 * Replays a market-data file into the ticks stream (or, with --dry-run, prints NDJSON).
 *
 *   npm run replay -- --file data/samples/aapl-2024-10-02.csv
 *   npm run replay -- --file data/samples/spy-2011-01-ninjatrader.csv --symbol SPY --speed 60
 *
 * Writes to TICKS_STREAM_NAME through the project's AWS client factory: AWS by default, the local
 * cloud when TICKSTREAM_ENDPOINT_KINESIS is set.
 */
import { parseArgs } from 'node:util';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { KinesisPublisher } from '../src/adapters/aws/kinesis-publisher.ts';
import { REPLAY_FORMATS, type ReplayFormat } from '../src/adapters/replay/formats.ts';
import {
  parseSpeed,
  ReplaySource,
  symbolFlagProblem,
  timeZoneFlagProblem,
} from '../src/adapters/replay/replay-source.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { assertTimeZone } from '../src/domain/calendar/zone.ts';
import { SymbolSchema } from '../src/domain/market/index.ts';
import {
  parsePositiveWhole,
  requireStreamName,
  StdoutPublisher,
  UsageError,
} from '../src/pipeline/ingest/cli.ts';
import type { EventPublisher } from '../src/ports/event-publisher.ts';

const USAGE = `usage: npm run replay -- --file FILE [--format auto|${REPLAY_FORMATS.join('|')}] [--symbol SYMBOL]
                         [--speed max|N] [--tz ZONE] [--limit N] [--dry-run]
  --file     the file to replay (required; gzip-compressed is read decompressed)
  --format   auto (default) detects it from the first lines
  --symbol   the symbol, for files without one (NinjaTrader, M/D/YYYY, CSV without a symbol column);
             in a file that names its symbols: replay only that symbol's rows
  --speed    max (default): as fast as the stream takes it; N: N times real time (1 = as recorded;
             a gap of more than an hour between events, a night or a weekend, is skipped, not waited out;
             a file sorted by symbol replays its symbols side by side, in time order)
  --tz       time zone of the file's zone-less times (CSV, M/D/YYYY: default America/New_York;
             NinjaTrader: default UTC, as NinjaTrader exports); refused for NDJSON and Yahoo chart files
  --limit    stop after N events (N a positive whole number, like 100)
  --dry-run  print the events as NDJSON instead of writing to the stream
env: TICKS_STREAM_NAME (the stream), AWS_REGION, TICKSTREAM_ENDPOINT_KINESIS (local cloud)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      format: { type: 'string', default: 'auto' },
      symbol: { type: 'string' },
      speed: { type: 'string', default: 'max' },
      tz: { type: 'string' },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.file) throw new UsageError('--file is required');
  const format = values.format as ReplayFormat | 'auto';
  if (format !== 'auto' && !REPLAY_FORMATS.includes(format)) {
    throw new UsageError(
      `--format must be auto or one of ${REPLAY_FORMATS.join(', ')}, got "${values.format}"`,
    );
  }
  let symbol: string | undefined;
  if (values.symbol) {
    const s = SymbolSchema.safeParse(values.symbol.toUpperCase());
    if (!s.success) throw new UsageError(`--symbol: ${s.error.issues[0]?.message}`);
    symbol = s.data;
  }
  let speed: ReturnType<typeof parseSpeed>;
  try {
    speed = parseSpeed(values.speed);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const limit =
    values.limit === undefined ? Number.POSITIVE_INFINITY : parsePositiveWhole('limit', values.limit);
  if (values.tz !== undefined) {
    try {
      assertTimeZone(values.tz);
    } catch (err) {
      throw new UsageError(`--tz: ${(err as Error).message}`);
    }
  }
  const dryRun = values['dry-run'];
  const source = new ReplaySource({
    file: values.file,
    format,
    speed,
    ...(symbol ? { symbol } : {}),
    ...(values.tz ? { timeZone: values.tz } : {}),
    warn: (m) => console.error(`replay: warning: ${m}`),
  });
  // Before any request: the file can be read as a replay, and --symbol and --tz fit it.
  let problem: string | undefined;
  try {
    const file = await source.inspect();
    problem = symbolFlagProblem(file, '--file', values.file, symbol);
    problem ??= timeZoneFlagProblem(file, values.file, values.tz);
  } catch (err) {
    problem = `--file ${values.file}: ${(err as Error).message}`;
  }
  if (problem) throw new UsageError(problem);
  const clients = dryRun ? undefined : createAwsClients(awsClientConfigFromEnv());
  const streamName = dryRun ? '' : requireStreamName();
  const publisher: EventPublisher = clients
    ? new KinesisPublisher({ streamName, kinesis: clients.kinesis })
    : new StdoutPublisher();
  const log = (line: string) => (dryRun ? console.error(line) : console.log(line));
  const started = performance.now();
  log(
    `replaying ${values.file} (${await source.format()}) at speed ${speed} ${dryRun ? 'to stdout' : `to stream ${streamName}`}`,
  );
  let n = 0;
  const bySymbol = new Map<string, number>();
  let lastReport = performance.now();
  let report: Awaited<ReturnType<EventPublisher['flush']>>;
  try {
    for await (const e of source.events()) {
      await publisher.publish(e);
      n++;
      const s = e.kind === 'tick' ? e.tick.symbol : e.bar.symbol;
      bySymbol.set(s, (bySymbol.get(s) ?? 0) + 1);
      if (speed !== 'max' && performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        log(`  ${n} events, at ${new Date(e.kind === 'tick' ? e.tick.time : e.bar.start).toISOString()}`);
      }
      if (n >= limit) break;
    }
  } finally {
    report = await publisher.flush();
    clients?.destroy();
  }
  const secs = (performance.now() - started) / 1000;
  const rejected = source.rejectedCount();
  for (const i of source.issues().slice(0, 20))
    console.error(`rejected ${i.at ?? ''} ${i.symbol ?? ''} ${i.field ? `${i.field}: ` : ''}${i.reason}`);
  if (rejected > 20) console.error(`… and ${rejected - 20} more rejected rows`);
  for (const f of report.failed.slice(0, 20)) console.error(`not delivered: ${f.reason}`);
  log(
    `done: ${n} events read (${[...bySymbol].map(([s, c]) => `${s} ${c}`).join(', ')}), ${report.delivered} delivered in ${report.calls} PutRecords calls, ` +
      `${report.retries} resent, ${report.failed.length} not delivered, ${rejected} rows rejected, ${secs.toFixed(1)} s`,
  );
  return report.failed.length > 0 || rejected > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`replay: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`replay: ${(err as Error).message}`);
    process.exit(1);
  },
);
