/**
 * processTicks: the Kinesis-triggered stream processor. Thin by design — it reads its configuration,
 * builds the adapters once per container, and hands each batch to the pipeline; the pipeline decides.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj, type MiddyHandlerObject } from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { DynamoDbAlertLedger } from '../src/adapters/aws/dynamodb-alert-ledger.ts';
import { DynamoDbMetricsStore } from '../src/adapters/aws/dynamodb-metrics-store.ts';
import { DynamoDbStateStore } from '../src/adapters/aws/dynamodb-state-store.ts';
import { S3LakeWriter } from '../src/adapters/aws/s3-lake-writer.ts';
import { SnsAlertNotifier } from '../src/adapters/aws/sns-alert-notifier.ts';
import { SqsRejectedRecordSink } from '../src/adapters/aws/sqs-rejected-record-sink.ts';
import { TimestreamSink } from '../src/adapters/aws/timestream-sink.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { loadProcessorEnv } from '../src/config/processor.ts';
import { analyticsEngines } from '../src/pipeline/process/analytics-engine.ts';
import {
  EngineCache,
  type ProcessDeps,
  processBatch,
  type SinkName,
} from '../src/pipeline/process/process-batch.ts';
import { toStreamRecords } from '../src/pipeline/process/stream-records.ts';
import { keepBatchObjectsYoung } from '../src/runtime/v8-heap.ts';

keepBatchObjectsYoung();

const config = loadProcessorEnv();
const logger = new Logger({ serviceName: 'tickstream-processor' });
const tracer = new Tracer({ serviceName: 'tickstream-processor' });
const metrics = new Metrics({
  namespace: config.POWERTOOLS_METRICS_NAMESPACE,
  serviceName: 'tickstream-processor',
});
const clients = createAwsClients(awsClientConfigFromEnv());
for (const c of [clients.dynamodb, clients.s3, clients.sns, clients.sqs, clients.timestream])
  tracer.captureAWSv3Client(c);

/**
 * Runs one sink call in its own X-Ray subsegment and records its latency per sink. Sink calls run
 * side by side (the row store, lake and time series at once; alerts and state saves 16 symbols
 * wide), so the subsegment is made current only in a trace context of the call's own (the X-Ray
 * SDK's captureAsyncFunc): setting it on the invocation's shared context would make each call the
 * parent of the calls started while it runs, and of their AWS requests.
 */
async function around<T>(sink: SinkName, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    if (!tracer.isTracingEnabled()) return await work();
    return await (tracer.provider.captureAsyncFunc(`### sink ${sink}`, async (sub) => {
      try {
        return await work();
      } catch (err) {
        sub?.addError(err as Error);
        throw err;
      } finally {
        sub?.close();
      }
    }) as Promise<T>);
  } finally {
    const single = metrics.singleMetric();
    single.addDimension('sink', sink);
    single.addMetric('SinkLatency', MetricUnit.Milliseconds, performance.now() - started);
  }
}

const deps: ProcessDeps = {
  engines: analyticsEngines(),
  // A warm container keeps its symbols' engines: a batch whose stored state is unchanged skips the restore.
  engineCache: new EngineCache(),
  state: new DynamoDbStateStore({ documents: clients.documents, tableName: config.MARKET_TABLE_NAME }),
  metrics: new DynamoDbMetricsStore({
    documents: clients.documents,
    tableName: config.MARKET_TABLE_NAME,
    ttlDays: config.METRICS_TTL_DAYS,
  }),
  lake: new S3LakeWriter({ s3: clients.s3, bucket: config.LAKE_BUCKET_NAME }),
  ...(config.TIMESTREAM_ENABLED
    ? {
        timeseries: new TimestreamSink({
          client: clients.timestream,
          database: config.TIMESTREAM_DATABASE!,
          table: config.TIMESTREAM_TABLE!,
        }),
      }
    : {}),
  ledger: new DynamoDbAlertLedger({ documents: clients.documents, tableName: config.MARKET_TABLE_NAME }),
  notifier: new SnsAlertNotifier({ sns: clients.sns, topicArn: config.ALERTS_TOPIC_ARN }),
  rejects: new SqsRejectedRecordSink({ sqs: clients.sqs, queueUrl: config.DEAD_LETTER_QUEUE_URL }),
  clock: Date.now,
  log: {
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  },
  around,
};

async function processTicks(
  event: KinesisStreamEvent,
  _context: Context,
  { signal }: MiddyHandlerObject,
): Promise<KinesisStreamBatchResponse> {
  const records = toStreamRecords(event);
  const first = records[0];
  if (first) logger.appendKeys({ shardId: first.shardId, firstSequenceNumber: first.sequenceNumber });
  const report = await processBatch(records, deps);
  if (signal.aborted) {
    // middy gave up on this batch just before the function's timeout (timeoutEarlyInMillis): the
    // invocation failed, reportBatchError logged it, and Lambda retries the batch, which counts its
    // records again. The environment stays warm, so this continuation runs during a later
    // invocation: its counts would go out in that one's metrics and line, under its keys. The
    // batch's outcome goes to a line of its own, with its own shard keys, and nothing else.
    logger.warn('batch finished after its invocation timed out; the retry reports its records', {
      shardId: first?.shardId,
      firstSequenceNumber: first?.sequenceNumber,
      received: report.received,
      processed: report.processed,
      alertsPublished: report.alertsPublished,
      failures: report.failures,
    });
    return { batchItemFailures: report.failures.map((itemIdentifier) => ({ itemIdentifier })) };
  }

  metrics.addMetric('RecordsReceived', MetricUnit.Count, report.received);
  metrics.addMetric('RecordsProcessed', MetricUnit.Count, report.processed);
  metrics.addMetric('RecordsRejected', MetricUnit.Count, report.rejected.length);
  metrics.addMetric('RecordsDuplicate', MetricUnit.Count, report.duplicates);
  metrics.addMetric('RecordsBehindWatermark', MetricUnit.Count, report.behindWatermark);
  metrics.addMetric('StateConflicts', MetricUnit.Count, report.stateConflicts);
  metrics.addMetric('TimeseriesRecordsRejected', MetricUnit.Count, report.timeseriesRejected);
  metrics.addMetric('Anomalies', MetricUnit.Count, report.anomalies.length);
  metrics.addMetric('AlertsPublished', MetricUnit.Count, report.alertsPublished);
  metrics.addMetric('BatchItemFailures', MetricUnit.Count, report.failures.length);
  if (report.maxLagMs !== undefined)
    metrics.addMetric('IteratorLag', MetricUnit.Milliseconds, report.maxLagMs);
  logger.info('batch processed', {
    received: report.received,
    processed: report.processed,
    rejected: report.rejected.length,
    duplicates: report.duplicates,
    behindWatermark: report.behindWatermark,
    stateConflicts: report.stateConflicts,
    timeseriesRejected: report.timeseriesRejected,
    rows: report.rows,
    lakeObjects: report.lakeObjects.length,
    alertsPublished: report.alertsPublished,
    failures: report.failures,
  });
  return { batchItemFailures: report.failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * An invocation that fails (the handler threw — not a symbol's failure, which processBatch reports —
 * or middy gave up on it just before the function's timeout) is retried whole by Lambda. Neither
 * Powertools middleware says so in the function's own terms: the logger's logs nothing on an error,
 * and the metrics' would flush an empty set (a warning, no EMF). Used last, so its onError runs
 * first: the line still carries the batch's shard keys, and the count goes out in the flush.
 */
const reportBatchError: MiddlewareObj<KinesisStreamEvent, KinesisStreamBatchResponse> = {
  onError: ({ event, error }) => {
    // An event without Records (a console test event) must not throw here: a throwing onError
    // ends middy's chain, and the keys would not be reset, the metrics not flushed.
    const received = Array.isArray(event?.Records) ? event.Records.length : 0;
    logger.error('batch failed; the whole batch will be retried', { received, ...(error ? { error } : {}) });
    metrics.addMetric('RecordsReceived', MetricUnit.Count, received);
  },
};

export const handler = middy(processTicks)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(reportBatchError);
