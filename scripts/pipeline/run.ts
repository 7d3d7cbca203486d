/**
 * The whole pipeline on one machine: the local cloud, the template's stream processor driven by a
 * local event source mapping, and a producer writing a feed (replayed files or a synthetic market)
 * into the stream — with a live terminal view, or, with `once`, a run to completion that ends in a
 * JSON summary.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { countMetricRows } from '../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { KinesisPublisher } from '../../src/adapters/aws/kinesis-publisher.ts';
import { eventSymbol } from '../../src/domain/market/index.ts';
import { issueCount, type MarketSource } from '../../src/ports/market-source.ts';
import type { LocalCloud } from '../local/local-cloud.ts';
import { compactDaysWritten, rawWrittenSince } from './compaction.ts';
import { type AlertLine, type DashboardView, readSymbolLine, TerminalDashboard } from './dashboard.ts';
import type { BatchOutcome } from './event-source-mapping.ts';
import { startLocalPipeline } from './local-pipeline.ts';

/** How long Ctrl-C waits for the stream to drain before stopping anyway. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Progress lines the terminal view keeps (its redraws wipe what is written below it). */
const VIEW_LOG_LINES = 6;

/** Symbols the terminal view lists (in the order the run first saw them); the rest are counted. */
const VIEW_SYMBOLS = 16;

export interface RunSummary {
  /** Events read from the feed. */
  ticksIn: number;
  /** Records the stream acknowledged. */
  recordsPut: number;
  /**
   * Records the processor reported as succeeded (applied, skipped as duplicates, or rejected with a
   * reason): of each invocation, those before the first failure it reports.
   */
  processed: number;
  /**
   * Records the event source mapping gave up on after its retries or for their age (each batch also
   * a `dlq` message), from a batch's first failure on: records of other symbols after it included.
   */
  discarded: number;
  /** Rows the feed rejected before the stream, plus records the processor rejected to the DLQ. */
  rejected: number;
  /** Messages that reached the dead-letter queue during the run (rejected records, discarded batches). */
  dlq: number;
  /** Metric rows in the table for the run's symbols after the run. */
  dynamodbMetricRows: number;
  /** Lake objects written during the run (the raw zone's: compaction runs after the count). */
  lakeObjects: number;
  /** UTC days the run wrote, compacted at its end into the Parquet zone. */
  compactedDays: string[];
  /** Events in those days' compacted objects (each (symbol, kind, time) once). */
  compactedEvents: number;
  /** Alerts the local SNS delivered during the run. */
  alertsPublished: number;
  notDelivered: number;
  symbols: string[];
  durationMs: number;
  /**
   * The signal stopped the run before its end: the feed was cut short, or the stream was not
   * drained in the time allowed (what is left is processed by the next start, from the checkpoint).
   */
  interrupted: boolean;
}

export interface RunOptions {
  readonly cloud: LocalCloud;
  readonly feeds: readonly MarketSource[];
  /** Process the feeds to the end, then stop (no terminal view). */
  readonly once: boolean;
  readonly signal: AbortSignal;
  /** Progress and diagnostics (stderr). */
  readonly log: (line: string) => void;
  readonly stdout?: NodeJS.WriteStream;
  /**
   * Where stdout is not a terminal: at most one progress line this often (default 5 s), and only
   * when its figures changed, so an idle run does not fill a log with the same line.
   */
  readonly progressEveryMs?: number;
}

/**
 * The functions' own logs (Powertools, JSON) go to a file, as CloudWatch Logs would hold them; the
 * terminal is the view's. Returns the file's path.
 */
function routeFunctionLogs(dir: string): string {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const file = join(dir, 'logs', 'functions.log');
  const out = createWriteStream(file, { flags: 'a' });
  const write = (...args: unknown[]) => {
    out.write(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
  };
  console.log = write;
  console.info = write;
  console.warn = write;
  console.error = write;
  console.debug = write;
  // Powertools writes through the global console in dev mode; metrics stay on (EMF lines in the log).
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  return file;
}

/** This run's dead letters: the messages the queue holds that were not there before the run. */
function newDeadLetters(cloud: LocalCloud, queueUrl: string, before: ReadonlySet<string>) {
  return cloud
    .queueMessages(queueUrl)
    .filter((m) => !before.has(m.messageId))
    .map((m) => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(m.body) as Record<string, unknown>;
      } catch {
        // not ours
      }
      return { rejectedRecord: typeof body.reason === 'string' };
    });
}

/** The summary's `processed` and `discarded` so far. */
export interface BatchCounts {
  readonly processed: number;
  readonly discarded: number;
}

/**
 * Adds one batch the event source mapping reports to the counts: `processed` takes the records the
 * handler reported as succeeded (all of an 'ok' batch, those before the first failure of a
 * 'partial' one, none of an 'error' or 'discarded' one: what failed is retried and counted when it
 * succeeds, or discarded); `discarded` the records of a batch given up on.
 */
export function countBatch(
  counts: BatchCounts,
  batch: Pick<BatchOutcome, 'status' | 'size' | 'succeeded'>,
): BatchCounts {
  return {
    processed: counts.processed + batch.succeeded,
    discarded: counts.discarded + (batch.status === 'discarded' ? batch.size : 0),
  };
}

/**
 * Records processed per second over the last `windowMs` (the view's throughput). Batches leave as
 * they age, whether or not anything reads it: a run without the view (stdout not a terminal) added
 * dozens a second to it for good.
 */
export class Throughput {
  readonly #windowMs: number;
  readonly #recent: { at: number; n: number }[] = [];

  constructor(windowMs = 5_000) {
    this.#windowMs = windowMs;
  }

  /** Batches held (those of the window). */
  get entries(): number {
    return this.#recent.length;
  }

  add(records: number, at: number): void {
    this.#recent.push({ at, n: records });
    this.#forget(at);
  }

  perSecond(now: number): number {
    this.#forget(now);
    return this.#recent.reduce((n, r) => n + r.n, 0) / (this.#windowMs / 1000);
  }

  #forget(now: number) {
    let old = 0;
    while (old < this.#recent.length && this.#recent[old]!.at < now - this.#windowMs) old++;
    if (old > 0) this.#recent.splice(0, old);
  }
}

export async function runPipeline(options: RunOptions): Promise<RunSummary> {
  const { cloud } = options;
  const started = Date.now();
  const dashboard = new TerminalDashboard(options.stdout);
  const interactive = !options.once && dashboard.interactive;
  // On a terminal, a line written below the view is wiped by its next redraw: the view shows the
  // latest ones too (a failing batch, a cold start, the compaction).
  const logLines: string[] = [];
  const log = (line: string) => {
    options.log(line);
    if (!interactive) return;
    logLines.push(line);
    if (logLines.length > VIEW_LOG_LINES) logLines.shift();
  };
  const streamName = cloud.env.TICKS_STREAM_NAME;
  const tableName = cloud.env.MARKET_TABLE_NAME;
  const dlqUrl = cloud.env.DEAD_LETTER_QUEUE_URL;
  const lake = Object.values(cloud.resources.buckets).find((b) => b.name === cloud.env.LAKE_BUCKET_NAME);
  const alertsInbox = cloud.sns.allInboxes.AlertsTopic;
  if (!streamName || !tableName || !dlqUrl || !lake) {
    throw new Error('the local cloud has no ticks stream, market table, lake bucket or dead-letter queue');
  }

  const logFile = routeFunctionLogs(cloud.state.dir);
  log(`function logs: ${logFile}`);
  const deadLettersBefore = new Set(cloud.queueMessages(dlqUrl).map((m) => m.messageId));
  // Alerts left in the view's inbox by an earlier run are not this run's.
  if (alertsInbox) while ((await cloud.sns.receive(alertsInbox, { max: 10 })).length > 0);

  let counts: BatchCounts = { processed: 0, discarded: 0 };
  let lagMs: number | undefined;
  const throughput = new Throughput();
  const onBatch = (b: BatchOutcome) => {
    counts = countBatch(counts, b);
    if (b.succeeded > 0) throughput.add(b.succeeded, Date.now());
    if (b.status === 'ok' || b.status === 'discarded') lagMs = Date.now() - b.newestArrival;
    if (b.status !== 'ok')
      log(`processor batch on ${b.shardId}: ${b.status}${b.error ? ` (${b.error})` : ''}`);
  };
  const pipeline = await startLocalPipeline({ cloud, onBatch, log });

  const symbols = new Set<string>();
  const alerts: AlertLine[] = [];
  let alertsPublished = 0;
  const drainAlerts = async () => {
    if (!alertsInbox) return;
    for (;;) {
      const got = await cloud.sns.receive(alertsInbox, { max: 10 });
      if (got.length === 0) return;
      for (const m of got) {
        alertsPublished++;
        try {
          const envelope = JSON.parse(m.body) as { Message?: string };
          const a = JSON.parse(envelope.Message ?? m.body) as AlertLine;
          alerts.unshift(a);
          alerts.length = Math.min(alerts.length, 8);
        } catch {
          log(`unreadable alert message ${m.messageId}`);
        }
      }
    }
  };

  let ticksIn = 0;
  // A small buffer keeps the feed close to what the stream has taken, so Ctrl-C flushes quickly.
  const publisher = new KinesisPublisher({
    streamName,
    kinesis: cloud.clients.kinesis,
    maxBufferedRecords: 500,
  });
  const aborted = new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  let feedDone = false;
  let feedCut = false;
  // Not one event while rows were rejected (a wrong --format, a --symbol the file lacks): the run
  // has nothing to serve, and ends as with --once, so that npm start exits 1 saying why.
  const nothingRead = () => ticksIn === 0 && options.feeds.some((f) => issueCount(f) > 0);
  const feeding = Promise.all(
    options.feeds.map(async (source) => {
      for await (const e of source.events(options.signal)) {
        symbols.add(eventSymbol(e));
        await publisher.publish(e);
        ticksIn++;
      }
      // A source stops early, without error, when the signal aborts.
      if (options.signal.aborted) feedCut = true;
    }),
  )
    .then(() => {
      // The run stays up at the end of the feed: on a terminal the view says so, elsewhere this line.
      if (!options.once && !interactive && !options.signal.aborted && !nothingRead())
        log(`feed finished: ${ticksIn} events in; the local cloud stays up until Ctrl-C`);
    })
    .finally(() => {
      feedDone = true;
    });
  // Nothing is behind once every shard has been read to its end.
  const currentLag = () => (pipeline.caughtUp() ? 0 : lagMs);
  const view = async (status: string): Promise<DashboardView> => {
    const lines = await Promise.all(
      [...symbols].slice(0, VIEW_SYMBOLS).map((s) => readSymbolLine(cloud.clients.documents, tableName, s)),
    );
    return {
      title: 'tickstream — local pipeline',
      status,
      symbols: lines,
      symbolsNotShown: Math.max(0, symbols.size - VIEW_SYMBOLS),
      counters: { 'ticks in': ticksIn, processed: counts.processed, alerts: alertsPublished },
      throughput: throughput.perSecond(Date.now()),
      lagMs: currentLag(),
      alerts,
      log: [...logLines],
    };
  };

  let lastProgress = 0;
  let lastProgressLine = '';
  const progressEveryMs = options.progressEveryMs ?? 5_000;
  const refresh = async () => {
    await drainAlerts();
    const status = options.signal.aborted
      ? 'stopping…'
      : feedDone
        ? 'feed finished — Ctrl-C to stop'
        : 'running — Ctrl-C to stop';
    if (interactive) dashboard.draw(await view(status));
    else if (Date.now() - lastProgress > progressEveryMs) {
      // The view's throughput and lag too: without them a run under a process manager could not
      // tell a processor keeping up from one falling behind.
      const lag = currentLag();
      const line =
        `progress: ${ticksIn} events in, ${counts.processed} processed, ${alertsPublished} alerts, ` +
        `${throughput.perSecond(Date.now()).toFixed(0)} rec/s, lag ${lag === undefined ? '—' : `${Math.max(0, lag).toFixed(0)} ms`}`;
      if (line !== lastProgressLine) {
        lastProgress = Date.now();
        lastProgressLine = line;
        log(line);
      }
    }
  };
  const timer = setInterval(() => {
    refresh().catch((e: unknown) => log(`view: ${(e as Error).message}`));
  }, 500);

  // The view's screen is given back whatever happens (an error's message must be seen).
  try {
    let report: Awaited<ReturnType<KinesisPublisher['flush']>>;
    let drained = true;
    try {
      await feeding;
      report = await publisher.flush();
      // With --once, run to completion: everything the stream took is processed before the stop,
      // unless Ctrl-C comes first. Without it, keep the view up until Ctrl-C (unless not one event
      // could be read: nothing to show).
      await (options.once || nothingRead() ? Promise.race([pipeline.idle(), aborted]) : aborted);
      if (options.signal.aborted) {
        // Ctrl-C: finish what is in flight, for a bounded time. What is left stays in the stream and
        // the next start continues from the checkpoint: nothing is lost.
        drained = await Promise.race([
          pipeline.idle().then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS).unref()),
        ]);
        if (!drained)
          log(`stopping before the stream is drained; the next start continues from the checkpoint`);
      }
      await drainAlerts();
    } finally {
      clearInterval(timer);
      await pipeline.stop();
    }

    const deadLetters = newDeadLetters(cloud, dlqUrl, deadLettersBefore);
    const rowsPerSymbol = await Promise.all(
      [...symbols].map((s) => countMetricRows(cloud.clients.documents, tableName, s)),
    );
    // The raw zone only (not the compacted zone, nor the marks of late days): what this run wrote.
    const raw = await rawWrittenSince(cloud, lake.name, started);
    const sourceRejected = options.feeds.reduce((n, f) => n + issueCount(f), 0);
    // The nightly compaction, for the days this run wrote.
    const compacted = await compactDaysWritten(cloud, raw.days, log);
    if (interactive) dashboard.draw(await view('stopped'));
    return {
      ticksIn,
      recordsPut: report.delivered,
      processed: counts.processed,
      discarded: counts.discarded,
      rejected: sourceRejected + deadLetters.filter((m) => m.rejectedRecord).length,
      dlq: deadLetters.length,
      dynamodbMetricRows: rowsPerSymbol.reduce((a, b) => a + b, 0),
      lakeObjects: raw.objects,
      compactedDays: compacted.filter((r) => r.written).map((r) => r.day),
      compactedEvents: compacted.reduce((n, r) => n + r.events, 0),
      alertsPublished,
      notDelivered: report.failed.length,
      symbols: [...symbols].sort(),
      durationMs: Date.now() - started,
      interrupted: feedCut || !drained,
    };
  } finally {
    dashboard.close();
  }
}
