/**
 * ingestQuotes: on a schedule (rate(1 minute)), polls Yahoo Finance for quotes every
 * POLL_INTERVAL_SECONDS within one invocation and for new completed 1-minute bars once per
 * invocation, and writes them to the ticks stream. Thin: configuration and adapters are built once
 * per container; the poll itself is src/pipeline/ingest/poll.ts. A poll never throws for a
 * symbol's failure: failures are logged with the symbol and counted.
 *
 * `handler` is `createIngestHandler()` built at import from `process.env`. The factory lets a
 * caller build the same handler from another environment or give the Yahoo client its HTTP fetch
 * (the integration test serves recorded Yahoo responses through it; a local run could go through
 * a proxy-aware fetch).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { DynamoDbCursorStore } from '../src/adapters/aws/dynamodb-cursor-store.ts';
import { KinesisPublisher } from '../src/adapters/aws/kinesis-publisher.ts';
import { createYahooClient, YahooMarketData } from '../src/adapters/yahoo/yahoo-market-data.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { ingestConfigFromEnv, POLL_FLUSH_MARGIN_MS } from '../src/config/ingest.ts';
import { isCursorStoreFailure, pollOnce, runPollLoop } from '../src/pipeline/ingest/poll.ts';

/**
 * Kept free after the stream writer's deadline, for the cursor writes, the log lines and the
 * metrics. Without a deadline, a stream that hangs holds a flush for its tries (6 x 10 s) and
 * Lambda ends the invocation first: its summary, the records' log lines and RecordsNotDelivered
 * are lost.
 */
const PUBLISH_END_MARGIN_MS = 5_000;

export interface IngestSummary {
  readonly polls: number;
  readonly ticksPublished: number;
  /** Quotes not sent again: nothing traded since the last one the stream took. */
  readonly quotesUnchanged: number;
  readonly barsPublished: number;
  readonly failures: number;
  readonly recordsFailed: number;
}

export interface IngestHandlerOptions {
  /** The environment the configuration and AWS clients are read from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** The HTTP fetch of every Yahoo request (default `globalThis.fetch`). */
  readonly yahooFetch?: typeof fetch;
}

/** Builds the ingestQuotes handler: configuration and adapters once, then one poll loop per invocation. */
export function createIngestHandler(options: IngestHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const config = ingestConfigFromEnv(env);
  const logger = new Logger({ serviceName: 'tickstream-ingest' });
  const metrics = new Metrics({
    namespace: config.POWERTOOLS_METRICS_NAMESPACE,
    serviceName: 'tickstream-ingest',
  });
  const clients = createAwsClients(awsClientConfigFromEnv(env));

  const yahoo = new YahooMarketData({
    client: () =>
      createYahooClient({
        ...(options.yahooFetch ? { fetch: options.yahooFetch } : {}),
        timeoutMs: config.YAHOO_TIMEOUT_MS,
        logger: {
          warn: (...a) => logger.warn('yahoo-finance2', { detail: a.map(String).join(' ') }),
          error: (...a) => logger.error('yahoo-finance2', { detail: a.map(String).join(' ') }),
        },
      }),
    backoff: { maxAttempts: config.YAHOO_MAX_ATTEMPTS, baseDelayMs: 500, maxDelayMs: 5_000 },
    onRetry: (r) => {
      logger.warn('Yahoo request failed, retrying', { ...r, symbol: r.symbols.join(',') });
      metrics.addMetric('YahooRetries', MetricUnit.Count, 1);
    },
  });
  // The current invocation's end less PUBLISH_END_MARGIN_MS (set as each invocation starts).
  let publishDeadline: number | undefined;
  const publisher = new KinesisPublisher({
    streamName: config.TICKS_STREAM_NAME,
    kinesis: clients.kinesis,
    maxAttempts: 6,
    // What is not on the stream by then is reported (and asked for again next poll), so the poll
    // ends inside the invocation.
    deadline: () => publishDeadline,
    // A bar given up on is asked for again next poll (the cursor stops before it): its symbol's
    // later bars must not reach the stream ahead of it meanwhile.
    holdSymbolAfterFailure: true,
    onFailed: (f) =>
      logger.error('Record not delivered to the stream', {
        symbol: f.event.kind === 'tick' ? f.event.tick.symbol : f.event.bar.symbol,
        kind: f.event.kind,
        reason: f.reason,
        attempts: f.attempts,
      }),
  });
  // The last quote time the stream took per symbol, for the container's life: an unchanged quote
  // (Yahoo serves the same one at every poll until the next trade) is not sent again.
  const quoteTimes = new Map<string, number>();
  const cursors = new DynamoDbCursorStore({
    documents: clients.documents,
    tableName: config.MARKET_TABLE_NAME,
  });

  const lambdaHandler = async (_event: unknown, context: Context): Promise<IngestSummary> => {
    publishDeadline = Date.now() + context.getRemainingTimeInMillis() - PUBLISH_END_MARGIN_MS;
    const wantQuotes = config.INGEST_MODE !== 'bars';
    const wantBars = config.INGEST_MODE !== 'quotes';
    const total = { ticksPublished: 0, quotesUnchanged: 0, barsPublished: 0, failures: 0, recordsFailed: 0 };
    const polls = await runPollLoop(
      {
        // Bars-only needs one poll per invocation (the schedule runs every minute).
        intervalMs: config.POLL_INTERVAL_SECONDS * 1000,
        windowMs: wantQuotes ? config.POLL_WINDOW_SECONDS * 1000 : 1,
        remainingMs: () => context.getRemainingTimeInMillis(),
      },
      async (iteration) => {
        const started = Date.now();
        try {
          const r = await pollOnce(
            {
              symbols: config.SYMBOLS,
              quotes: wantQuotes,
              bars: wantBars && iteration === 0,
              now: started,
              extendedHours: config.INGEST_EXTENDED_HOURS,
              whenClosed: config.INGEST_WHEN_CLOSED,
              lookbackMs: config.BARS_LOOKBACK_MINUTES * 60_000,
              // Room left after the last symbol's request for one more request's timeout and the
              // flush and cursor writes: a slow Yahoo defers symbols rather than time the poll out.
              deadline:
                started + context.getRemainingTimeInMillis() - config.YAHOO_TIMEOUT_MS - POLL_FLUSH_MARGIN_MS,
            },
            { quoteFeed: yahoo, barFeed: yahoo, cursors, publisher, quoteTimes },
          );
          // The cursors' table failing is not Yahoo's doing: it is a poll error (its own alarm).
          const cursorFailures = r.failures.filter(isCursorStoreFailure);
          const yahooFailures = r.failures.filter((f) => !isCursorStoreFailure(f));
          for (const f of yahooFailures) logger.error('Yahoo request failed', { ...f });
          for (const f of cursorFailures) logger.error('Bar cursor failed', { ...f });
          for (const i of r.issues) logger.warn('Market data rejected', { ...i });
          if (r.skippedClosed.length > 0 && iteration === 0) {
            logger.info('Market closed, not polled', { symbols: r.skippedClosed });
          }
          total.ticksPublished += r.ticksPublished;
          total.quotesUnchanged += r.quotesUnchanged;
          total.barsPublished += r.barsPublished;
          total.failures += r.failures.length;
          total.recordsFailed += r.publishFailed.length;
          metrics.addMetric(
            'QuotesPublished',
            MetricUnit.Count,
            r.ticksPublished - countFailed(r.publishFailed, 'tick'),
          );
          metrics.addMetric('QuotesUnchanged', MetricUnit.Count, r.quotesUnchanged);
          metrics.addMetric(
            'BarsPublished',
            MetricUnit.Count,
            r.barsPublished - countFailed(r.publishFailed, 'bar'),
          );
          metrics.addMetric('YahooFailures', MetricUnit.Count, yahooFailures.length);
          if (cursorFailures.length > 0)
            metrics.addMetric('PollErrors', MetricUnit.Count, cursorFailures.length);
          metrics.addMetric('DataRejected', MetricUnit.Count, r.issues.length);
          metrics.addMetric('RecordsNotDelivered', MetricUnit.Count, r.publishFailed.length);
          metrics.addMetric('SymbolsSkippedClosed', MetricUnit.Count, r.skippedClosed.length);
          if (r.deferred.length > 0) {
            logger.warn('Poll deadline reached: bars deferred to the next poll', { symbols: r.deferred });
          }
          metrics.addMetric('SymbolsDeferred', MetricUnit.Count, r.deferred.length);
        } catch (err) {
          // Never crash the schedule: an unexpected error ends this poll, the next one runs.
          total.failures++;
          logger.error('Poll failed', err as Error);
          metrics.addMetric('PollErrors', MetricUnit.Count, 1);
        }
        metrics.addMetric('PollDuration', MetricUnit.Milliseconds, Date.now() - started);
      },
    );
    const summary = { polls, ...total };
    logger.info('Ingest invocation done', { ...summary });
    return summary;
  };

  return middy(lambdaHandler)
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

function countFailed(failed: readonly { event: { kind: string } }[], kind: string): number {
  return failed.filter((f) => f.event.kind === kind).length;
}

export const handler = createIngestHandler();
