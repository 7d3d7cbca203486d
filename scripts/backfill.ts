/**
 * Backfills 1-minute bars from Yahoo Finance into the ticks stream, with a progress bar.
 *
 *   npm run backfill -- --symbols AAPL,MSFT --from 2024-10-01 --to 2024-10-03
 *
 * Yahoo keeps 1-minute history for about 30 days and serves at most 8 days per request: the range
 * is fetched in 7-day windows, each symbol in time order (bars never overlap between windows),
 * --concurrency symbols at a time.
 * Writes to TICKS_STREAM_NAME through the project's AWS client factory (AWS, or the local cloud
 * when TICKSTREAM_ENDPOINT_KINESIS is set); --dry-run prints NDJSON instead.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { DynamoDbCursorStore } from '../src/adapters/aws/dynamodb-cursor-store.ts';
import { KinesisPublisher } from '../src/adapters/aws/kinesis-publisher.ts';
import { createYahooClient, YahooMarketData } from '../src/adapters/yahoo/yahoo-market-data.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { SymbolSchema } from '../src/domain/market/index.ts';
import {
  backfill,
  backfillSummary,
  backfillWindows,
  DEFAULT_BACKFILL_CONCURRENCY,
  YAHOO_1M_HISTORY_MS,
} from '../src/pipeline/ingest/backfill.ts';
import {
  parseInstant,
  parsePositiveWhole,
  requireStreamName,
  StdoutPublisher,
  UsageError,
} from '../src/pipeline/ingest/cli.ts';
import { MAX_BAR_WINDOW_MS } from '../src/pipeline/ingest/poll.ts';
import type { EventPublisher } from '../src/ports/event-publisher.ts';

/** Symbols in flight at most: each holds a window of bars (about 2,000) until it is published. */
const MAX_CONCURRENCY = 64;

const USAGE = `usage: npm run backfill -- --symbols AAPL,MSFT [--from DATE] [--to DATE] [--concurrency N] [--update-cursor] [--dry-run]
  --symbols        comma-separated Yahoo symbols (required)
  --from           start, ISO date (00:00 UTC) or date/time with its zone (2024-10-02T13:30Z)
                   (default: 7 days before --to; Yahoo keeps ~30 days of 1-minute bars)
  --to             end, not included, in the same form (default: now)
  --concurrency    symbols backfilled at a time, 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_BACKFILL_CONCURRENCY}); Yahoo is
                   still asked at most 4 requests at a time (yahoo-finance2's queue)
  --update-cursor  also move each symbol's bar cursor in MARKET_TABLE_NAME past the delivered bars,
                   so the scheduled poller continues from there
  --dry-run        print the bars as NDJSON instead of writing to the stream
env: TICKS_STREAM_NAME, AWS_REGION, TICKSTREAM_ENDPOINT_KINESIS / _DYNAMODB (local cloud), MARKET_TABLE_NAME`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      concurrency: { type: 'string' },
      'update-cursor': { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.symbols) throw new UsageError('--symbols is required, e.g. --symbols AAPL,MSFT');
  const symbols = [
    ...new Set(
      values.symbols
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter((s) => s !== ''),
    ),
  ];
  for (const s of symbols) {
    const r = SymbolSchema.safeParse(s);
    if (!r.success) throw new UsageError(`--symbols: "${s}": ${r.error.issues[0]?.message}`);
  }
  const now = Date.now();
  const to = Math.min(parseInstant('to', values.to) ?? now, now);
  let from = parseInstant('from', values.from) ?? to - MAX_BAR_WINDOW_MS;
  if (from >= to)
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) must be before --to (${new Date(to).toISOString()})`,
    );
  const oldest = now - YAHOO_1M_HISTORY_MS + 60_000;
  if (from < oldest) {
    console.error(
      `note: Yahoo keeps about 30 days of 1-minute bars; starting at ${new Date(oldest).toISOString()} instead of ${new Date(from).toISOString()}`,
    );
    from = oldest;
    if (from >= to)
      throw new UsageError(
        `--to (${new Date(to).toISOString()}) is older than the 1-minute bars Yahoo keeps (from ${new Date(oldest).toISOString()}): nothing to fetch`,
      );
  }
  const concurrency =
    values.concurrency === undefined
      ? DEFAULT_BACKFILL_CONCURRENCY
      : parsePositiveWhole('concurrency', values.concurrency);
  if (concurrency > MAX_CONCURRENCY)
    throw new UsageError(`--concurrency must be at most ${MAX_CONCURRENCY}, got ${concurrency}`);
  const dryRun = values['dry-run'];
  const clients = dryRun ? undefined : createAwsClients(awsClientConfigFromEnv());
  const streamName = dryRun ? '' : requireStreamName();
  let cursors: DynamoDbCursorStore | undefined;
  if (values['update-cursor']) {
    if (!clients) throw new UsageError('--update-cursor cannot be combined with --dry-run');
    const table = process.env.MARKET_TABLE_NAME;
    if (!table) throw new UsageError('--update-cursor needs MARKET_TABLE_NAME');
    cursors = new DynamoDbCursorStore({ documents: clients.documents, tableName: table });
  }
  // A bar the stream did not take holds its symbol's later bars (reported as not sent), so a re-run
  // or the poller (from the cursor, which stops before it) sends them in order: sent after later
  // bars, the processor would refuse it as late.
  const publisher: EventPublisher = clients
    ? new KinesisPublisher({ streamName, kinesis: clients.kinesis, holdSymbolAfterFailure: true })
    : new StdoutPublisher();
  const yahoo = new YahooMarketData({
    client: () => createYahooClient({ timeoutMs: 15_000 }),
    backoff: { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 15_000 },
  });

  const range = { symbols, from, to, historyMs: YAHOO_1M_HISTORY_MS, concurrency };
  const bar = new cliProgress.SingleBar(
    {
      format: 'backfill |{bar}| {value}/{total} windows | {symbol} | {bars} bars',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(symbols.length * backfillWindows(from, to).length, 0, { symbol: '', bars: 0 });
  const result = await backfill(range, {
    barFeed: yahoo,
    publisher,
    ...(cursors ? { cursors } : {}),
    onWindow: (p) => bar.increment(1, p),
  });
  bar.stop();
  clients?.destroy();
  // The re-run command repeats how this run wrote (a cursor update, a dry run) and its pace.
  const flags = [
    ...(values['update-cursor'] ? ['--update-cursor'] : []),
    ...(dryRun ? ['--dry-run'] : []),
    ...(values.concurrency !== undefined ? [`--concurrency ${concurrency}`] : []),
  ];
  const summary = backfillSummary(range, result, flags);
  for (const line of summary.lines) console.error(line);
  return summary.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`backfill: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`backfill: ${(err as Error).message}`);
    process.exit(1);
  },
);
