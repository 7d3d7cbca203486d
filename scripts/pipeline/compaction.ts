/**
 * The nightly lake compaction (functions/compact-lake.ts), run locally at the end of a run: the
 * function's own handler, with its environment from the template, over each UTC day whose raw
 * objects the run wrote — so `npm run query` finds those days in the compacted Parquet zone too.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { CompactSummary } from '../../functions/compact-lake.ts';
import { DEFAULT_RAW_PREFIX } from '../../src/adapters/aws/s3-lake-writer.ts';
import type { LocalCloud } from '../local/local-cloud.ts';
import { lambdaContext } from './local-pipeline.ts';

const FUNCTION_ID = 'CompactLakeLambdaFunction';
/** s3rver keeps LastModified to the second: a margin so an object of the run's first second counts. */
const CLOCK_MARGIN_MS = 1000;

/**
 * What was written to the raw zone at or after `since`: how many objects, and their UTC days
 * (YYYY-MM-DD, in order). Listed whole, however long that takes: a count cut short by a deadline
 * would be a wrong one (a long-kept lake of tens of thousands of objects lists in tens of seconds).
 */
export async function rawWrittenSince(
  cloud: LocalCloud,
  bucket: string,
  since: number,
): Promise<{ objects: number; days: string[] }> {
  const days = new Set<string>();
  let objects = 0;
  let token: string | undefined;
  do {
    const page = await cloud.clients.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${DEFAULT_RAW_PREFIX}dt=`,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) {
      const day = /^[^/]*\/dt=(\d{4}-\d{2}-\d{2})\//.exec(o.Key ?? '')?.[1];
      if (day && (o.LastModified?.getTime() ?? 0) >= since - CLOCK_MARGIN_MS) {
        days.add(day);
        objects++;
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, days: [...days].sort() };
}

/**
 * Compacts the days the run wrote, one invocation per day as `{"day": …}`, each day's counts logged
 * as it is done; [] when the template has no compaction. A day whose invocation fails is reported
 * through `log` (the run's own results stand; the raw zone and the events view still hold the day)
 * and left out.
 */
export async function compactDaysWritten(
  cloud: LocalCloud,
  days: readonly string[],
  log: (line: string) => void,
): Promise<CompactSummary[]> {
  if (!cloud.template.Resources[FUNCTION_ID]) return [];
  const env = cloud.functionEnv(FUNCTION_ID);
  const bucket = env.LAKE_BUCKET_NAME;
  if (!bucket) throw new Error(`${FUNCTION_ID} has no LAKE_BUCKET_NAME locally`);
  const props = cloud.template.Resources[FUNCTION_ID].Properties;
  // Lambda's defaults when the template gives none.
  const timeout = Number(props?.Timeout ?? 3);
  const memoryMb = Number(props?.MemorySize ?? 128);
  // As Lambda loads it: the handler module reads its configuration at import.
  Object.assign(process.env, env);
  const { handler } = await import('../../functions/compact-lake.ts');
  const reports: CompactSummary[] = [];
  // Said before and as it goes: after a long run (a synthetic market's many days) this takes minutes.
  if (days.length > 0) log(`compacting the ${days.length} day(s) the run wrote into the Parquet zone…`);
  for (const day of days) {
    try {
      const done = await handler({ day }, lambdaContext('compactLake', timeout, memoryMb));
      for (const r of done) {
        log(
          `compacted ${r.day}: ${r.events} events from ${r.objects} raw objects (${r.duplicates} duplicates dropped, ` +
            `${r.rejectedLines} lines rejected)${r.written ? ` → ${r.written.key}` : ''}`,
        );
      }
      reports.push(...done);
    } catch (err) {
      log(`compaction of ${day} failed: ${(err as Error).message}`);
    }
  }
  return reports;
}
