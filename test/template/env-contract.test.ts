import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  STAGES,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import { ingestConfigFromEnv } from '../../src/config/ingest.ts';
import { loadProcessorEnv } from '../../src/config/processor.ts';
import { props } from './helpers.ts';

/** What CloudFormation's Ref returns for each referenced resource (AWS documented return values). */
const DEPLOYED_REF_VALUES: Record<string, string> = {
  TicksStream: 'tickstream-prod-ticks', // stream name
  MarketTable: 'tickstream-prod-market', // table name
  LakeBucket: 'tickstream-123456789012-us-east-1-prod-lake', // bucket name
  ProcessorDeadLetterQueue: 'https://sqs.us-east-1.amazonaws.com/123456789012/tickstream-prod-processor-dlq', // queue URL
  AlertsTopic: 'arn:aws:sns:us-east-1:123456789012:tickstream-prod-alerts', // topic ARN
};

/** The environment a function gets once deployed: literal values, and Refs resolved as AWS does. */
function deployedEnv(template: CloudFormationTemplate, functionId: string): NodeJS.ProcessEnv {
  const variables = props(template, functionId).Environment.Variables as Record<string, unknown>;
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === 'string') env[name] = value;
    else {
      const ref = (value as { Ref?: string }).Ref;
      const resolved = ref ? DEPLOYED_REF_VALUES[ref] : undefined;
      if (!resolved) throw new Error(`${functionId} ${name}: cannot resolve ${JSON.stringify(value)}`);
      env[name] = resolved;
    }
  }
  return env;
}

const templates = new Map<string, CloudFormationTemplate>();

beforeAll(async () => {
  for (const stage of STAGES) templates.set(stage, await synthesizeTemplate(stage));
  templates.set('timestream', await synthesizeTemplate('prod', { params: { timestreamEnabled: 'true' } }));
});

describe("the template's environment satisfies each handler's configuration schema", () => {
  it.each([
    ...STAGES,
    'timestream',
  ])('%s: processTicks starts with the environment the template gives it', (name) => {
    const t = templates.get(name) as CloudFormationTemplate;
    const env = loadProcessorEnv(deployedEnv(t, 'ProcessTicksLambdaFunction'));
    expect(env.DEAD_LETTER_QUEUE_URL).toBe(DEPLOYED_REF_VALUES.ProcessorDeadLetterQueue);
    expect(env.TIMESTREAM_ENABLED).toBe(name === 'timestream');
  });

  it.each(STAGES)('%s: ingestQuotes starts with the environment the template gives it', (stage) => {
    const t = templates.get(stage) as CloudFormationTemplate;
    expect(() => ingestConfigFromEnv(deployedEnv(t, 'IngestQuotesLambdaFunction'))).not.toThrow();
  });
});
