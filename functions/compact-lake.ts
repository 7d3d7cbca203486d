/**
 * compactLake: once a night (and on demand), rewrites closed UTC days of the raw zone as the
 * compacted Parquet zone, each (symbol, kind, time) once (src/pipeline/compact/compact-day.ts).
 *
 * Input: the schedule's event (its `time` names the run: the two days before it are compacted, so a
 * batch retried or replayed into yesterday after last night's run is picked up), or
 * `{ "day": "YYYY-MM-DD" }` for one day (a backfill, or a day to redo). Anything else is refused.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createAwsClients } from '../src/adapters/aws/clients.ts';
import { S3CompactedLakeWriter, S3RawLakeReader } from '../src/adapters/aws/s3-lake-compaction.ts';
import { awsClientConfigFromEnv } from '../src/config/aws.ts';
import { loadCompactionEnv } from '../src/config/compaction.ts';
import { type CompactReport, compactDay, daysToCompact } from '../src/pipeline/compact/compact-day.ts';

export function createCompactHandler(env: NodeJS.ProcessEnv = process.env) {
  const bucket = loadCompactionEnv(env).LAKE_BUCKET_NAME;
  const logger = new Logger({ serviceName: 'tickstream-compaction' });
  const metrics = new Metrics({ namespace: 'tickstream', serviceName: 'tickstream-compaction' });
  const { s3 } = createAwsClients(awsClientConfigFromEnv(env));
  const deps = {
    raw: new S3RawLakeReader({ s3, bucket }),
    compacted: new S3CompactedLakeWriter({ s3, bucket }),
    log: {
      info: (message: string, fields?: Record<string, unknown>) => logger.info(message, fields ?? {}),
      warn: (message: string, fields?: Record<string, unknown>) => logger.warn(message, fields ?? {}),
    },
  };

  const lambdaHandler = async (input: unknown): Promise<CompactReport[]> => {
    const reports: CompactReport[] = [];
    for (const day of daysToCompact(input)) {
      const r = await compactDay(day, deps);
      metrics.addMetric('LakeLinesRead', MetricUnit.Count, r.lines);
      metrics.addMetric('LakeLinesRejected', MetricUnit.Count, r.rejected.length);
      metrics.addMetric('LakeDuplicatesDropped', MetricUnit.Count, r.duplicates);
      metrics.addMetric('LakeEventsCompacted', MetricUnit.Count, r.events);
      reports.push(r);
    }
    return reports;
  };

  return middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

export const handler = createCompactHandler();
