import { z } from 'zod';
import { envFlag } from './env-flag.ts';
import { metricsNamespace } from './metrics.ts';

/** The stream processor's environment. A missing or malformed setting fails at cold start. */
export const ProcessorEnvSchema = z
  .object({
    MARKET_TABLE_NAME: z.string({ error: 'MARKET_TABLE_NAME is required' }).min(3),
    LAKE_BUCKET_NAME: z.string({ error: 'LAKE_BUCKET_NAME is required' }).min(3),
    DEAD_LETTER_QUEUE_URL: z.url({ error: 'DEAD_LETTER_QUEUE_URL must be the queue URL' }),
    ALERTS_TOPIC_ARN: z
      .string({ error: 'ALERTS_TOPIC_ARN is required' })
      .startsWith('arn:', 'must be an SNS topic ARN'),
    // The metricsTtlDays stage param's range (resources/stage-params.cjs).
    METRICS_TTL_DAYS: z.coerce
      .number({ error: 'METRICS_TTL_DAYS must be a whole number of days' })
      .int('METRICS_TTL_DAYS must be a whole number of days')
      .min(1, 'METRICS_TTL_DAYS must be at least 1')
      .max(36_500, 'METRICS_TTL_DAYS must be at most 36500')
      .default(30),
    TIMESTREAM_ENABLED: envFlag('TIMESTREAM_ENABLED'),
    TIMESTREAM_DATABASE: z.string().optional(),
    TIMESTREAM_TABLE: z.string().optional(),
    POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
  })
  .superRefine((e, ctx) => {
    if (e.TIMESTREAM_ENABLED && (!e.TIMESTREAM_DATABASE || !e.TIMESTREAM_TABLE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TIMESTREAM_DATABASE'],
        message: 'TIMESTREAM_DATABASE and TIMESTREAM_TABLE are required when TIMESTREAM_ENABLED is true',
      });
    }
  });

export type ProcessorEnv = z.infer<typeof ProcessorEnvSchema>;

export function loadProcessorEnv(env: NodeJS.ProcessEnv = process.env): ProcessorEnv {
  const parsed = ProcessorEnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid stream processor configuration: ${detail}`);
  }
  return parsed.data;
}
