/**
 * compactLake: once a night (and on demand), rewrites closed UTC days of the raw zone as the
 * compacted Parquet zone, each (symbol, kind, time) once (src/pipeline/compact/compact-day.ts).
 *
 * Input: the schedule's event (its `time` names the run: the two days before it are compacted, so a
 * batch retried or replayed into yesterday after last night's run is picked up, then every older day
 * a late raw object marked pending, while the invocation's time allows: one that would not end in
 * the time left is given up before the timeout and left for the next night, one that would not end
 * in the time a night has for its marked days, after its own two, is a failed day), or
 * `{ "day": "YYYY-MM-DD" }` for one day (a backfill, or a day to redo; `"force": true` replaces a
 * day's object even with fewer events). Anything else is refused. Each day is compacted on its own;
 * if any failed (or was refused), the invocation fails after the others are done.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import {
  S3CompactedLakeWriter,
  S3PendingDays,
  S3RawLakeReader,
} from '../src/adapters/aws/s3-lake-compaction.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { loadCompactionEnv } from '../src/config/compaction.ts';
import {
  type CompactReport,
  compactDays,
  compactionRequest,
  REJECTIONS_SHOWN,
} from '../src/pipeline/compact/compact-day.ts';

/** A day's report as the invocation returns it: the rejected lines counted, the first few shown. */
export type CompactSummary = Omit<CompactReport, 'rejected'> & {
  readonly rejectedLines: number;
  readonly firstRejected: CompactReport['rejected'];
};

function summarize({ rejected, ...rest }: CompactReport): CompactSummary {
  return { ...rest, rejectedLines: rejected.length, firstRejected: rejected.slice(0, REJECTIONS_SHOWN) };
}

export function createCompactHandler(env: NodeJS.ProcessEnv = process.env) {
  const config = loadCompactionEnv(env);
  const bucket = config.LAKE_BUCKET_NAME;
  const logger = new Logger({ serviceName: 'tickstream-compaction' });
  const metrics = new Metrics({
    namespace: config.POWERTOOLS_METRICS_NAMESPACE,
    serviceName: 'tickstream-compaction',
  });
  const { s3 } = createAwsClients(awsClientConfigFromEnv(env));
  const deps = {
    raw: new S3RawLakeReader({ s3, bucket }),
    compacted: new S3CompactedLakeWriter({ s3, bucket }),
    pending: new S3PendingDays({ s3, bucket }),
    log: {
      info: (message: string, fields?: Record<string, unknown>) => logger.info(message, fields ?? {}),
      warn: (message: string, fields?: Record<string, unknown>) => logger.warn(message, fields ?? {}),
      error: (message: string, fields?: Record<string, unknown>) => logger.error(message, fields ?? {}),
    },
  };

  const lambdaHandler = async (input: unknown, context: Context): Promise<CompactSummary[]> => {
    const { reports, failures, pendingLeft, pendingError } = await compactDays(compactionRequest(input), {
      ...deps,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    for (const r of reports) {
      metrics.addMetric('LakeLinesRead', MetricUnit.Count, r.lines);
      metrics.addMetric('LakeLinesRejected', MetricUnit.Count, r.rejected.length);
      metrics.addMetric('LakeDuplicatesDropped', MetricUnit.Count, r.duplicates);
      metrics.addMetric('LakeEventsCompacted', MetricUnit.Count, r.written ? r.events : 0);
    }
    metrics.addMetric('LakeDaysFailed', MetricUnit.Count, failures.length);
    metrics.addMetric('LakePendingDaysLeft', MetricUnit.Count, pendingLeft.length);
    // A failed or refused day fails the invocation, after the others (Lambda retries it; the
    // function's Errors metric and LakeDaysFailed count it), as do marks that could not be listed.
    const problems = pendingError === undefined ? failures : [...failures, `pending days: ${pendingError}`];
    if (problems.length > 0) throw new Error(`lake compaction failed for ${problems.join('; ')}`);
    return reports.map(summarize);
  };

  return middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

export const handler = createCompactHandler();
