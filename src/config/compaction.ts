import { z } from 'zod';
import { metricsNamespace } from './metrics.ts';

/** The lake compaction's environment. A missing or malformed setting fails at cold start. */
export const CompactionEnvSchema = z.object({
  LAKE_BUCKET_NAME: z.string({ error: 'LAKE_BUCKET_NAME is required' }).min(3),
  POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
});

export type CompactionEnv = z.infer<typeof CompactionEnvSchema>;

export function loadCompactionEnv(env: NodeJS.ProcessEnv = process.env): CompactionEnv {
  const parsed = CompactionEnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid lake compaction configuration: ${detail}`);
  }
  return parsed.data;
}
