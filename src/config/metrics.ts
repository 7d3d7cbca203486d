import { z } from 'zod';

/**
 * POWERTOOLS_METRICS_NAMESPACE: the CloudWatch namespace of a function's EMF metrics. The template
 * sets `tickstream/<stage>`, so that stages sharing an account keep their metrics, and the alarms on
 * them (resources/monitoring.yml), apart.
 */
export const metricsNamespace = z
  .string({ error: 'POWERTOOLS_METRICS_NAMESPACE is required' })
  .min(1, 'POWERTOOLS_METRICS_NAMESPACE is required')
  .max(255, 'POWERTOOLS_METRICS_NAMESPACE must be at most 255 characters (a CloudWatch namespace)')
  .refine((v) => !v.startsWith('AWS/'), 'POWERTOOLS_METRICS_NAMESPACE: AWS/ namespaces are reserved for AWS');
