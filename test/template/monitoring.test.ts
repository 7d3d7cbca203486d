import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  PROJECT_ROOT,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import { props, resource, resourcesOfType } from './helpers.ts';

interface MetricRef {
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: unknown }[];
}

// biome-ignore lint/suspicious/noExplicitAny: tests read deeply into untyped CloudFormation JSON
type Props = any;

/** The metrics an alarm watches: its single metric, or each MetricStat of its metric math. */
function watched(alarm: Props): MetricRef[] {
  if (alarm.MetricName) return [alarm as MetricRef];
  return (alarm.Metrics as { MetricStat?: { Metric: MetricRef } }[]).flatMap((m) =>
    m.MetricStat ? [m.MetricStat.Metric] : [],
  );
}

/** What each function's source emits: its Powertools service name and the names it passes to addMetric. */
function emittedMetrics(): Map<string, Set<string>> {
  const byService = new Map<string, Set<string>>();
  const dir = join(PROJECT_ROOT, 'functions');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    const metrics = /new Metrics\(\{[^}]*serviceName: '([^']+)'/.exec(source)?.[1];
    if (!metrics) continue;
    byService.set(metrics, new Set([...source.matchAll(/addMetric\(\s*'(\w+)'/g)].map((m) => m[1]!)));
  }
  return byService;
}

/** Whether an IAM ArnLike pattern (`*` any run, `?` one character) matches an ARN. */
function arnLike(pattern: string, arn: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(arn);
}

/** A `!Sub` string with the pseudo parameters of an example deployment filled in. */
function subExample(value: unknown): string {
  const example: Record<string, string> = {
    Partition: 'aws',
    Region: 'us-east-1',
    AccountId: '123456789012',
  };
  return (value as { 'Fn::Sub': string })['Fn::Sub'].replace(/\$\{AWS::(\w+)\}/g, (_, name) => {
    const v = example[name];
    if (v === undefined) throw new Error(`no example value for AWS::${name}`);
    return v;
  });
}

const stages = ['dev', 'prod'] as const;
const templates = new Map<string, CloudFormationTemplate>();

beforeAll(async () => {
  for (const stage of stages) templates.set(stage, await synthesizeTemplate(stage));
});

const each = () => stages.map((stage) => [stage, templates.get(stage)!] as const);
const alarms = (t: CloudFormationTemplate) =>
  resourcesOfType(t, 'AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties as Props] as const);

describe('the ops topic', () => {
  it('is encrypted with a rotating key of its own, which only this stack’s alarms may use through CloudWatch', () => {
    for (const [stage, t] of each()) {
      expect(props(t, 'OpsTopic')).toMatchObject({
        TopicName: `tickstream-${stage}-ops`,
        KmsMasterKeyId: { Ref: 'OpsKey' },
      });
      const key = props(t, 'OpsKey');
      expect(key.EnableKeyRotation).toBe(true);
      const [account, cloudwatch, ...more] = key.KeyPolicy.Statement;
      expect(more).toEqual([]);
      expect(account).toMatchObject({
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root` } },
      });
      expect(cloudwatch).toMatchObject({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      });
      expect(props(t, 'OpsKeyAlias')).toEqual({
        AliasName: `alias/tickstream-${stage}-ops`,
        TargetKeyId: { Ref: 'OpsKey' },
      });
    }
  });

  it('takes publishes from CloudWatch for this stack’s alarms only, and nothing without TLS', () => {
    for (const [, t] of each()) {
      const policy = props(t, 'OpsTopicPolicy');
      expect(policy.Topics).toEqual([{ Ref: 'OpsTopic' }]);
      const [deny, allow, ...more] = policy.PolicyDocument.Statement;
      expect(more).toEqual([]);
      expect(deny).toMatchObject({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
      expect(allow).toMatchObject({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: 'OpsTopic' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      });
    }
  });

  it('reaches nobody by e-mail unless opsEmails is set', () => {
    for (const [, t] of each()) {
      const onOps = resourcesOfType(t, 'AWS::SNS::Subscription').filter(
        ([, r]) => (r.Properties?.TopicArn as { Ref?: string } | undefined)?.Ref === 'OpsTopic',
      );
      expect(onOps).toEqual([]);
    }
  });
});

describe('CloudWatch alarms', () => {
  it('notify the ops topic on alarm and on recovery, and stay OK without data', () => {
    for (const [, t] of each()) {
      expect(alarms(t).length).toBeGreaterThanOrEqual(10);
      for (const [id, alarm] of alarms(t)) {
        expect([id, alarm.AlarmActions]).toEqual([id, [{ Ref: 'OpsTopic' }]]);
        expect([id, alarm.OKActions]).toEqual([id, [{ Ref: 'OpsTopic' }]]);
        expect([id, alarm.TreatMissingData]).toEqual([id, 'notBreaching']);
        expect(alarm.AlarmDescription.length).toBeGreaterThan(80); // says what it means and what to do
      }
    }
  });

  it('are each allowed to publish: their ARNs match the topic policy’s and the key policy’s source pattern', () => {
    for (const [stage, t] of each()) {
      const topicPattern = subExample(
        props(t, 'OpsTopicPolicy').PolicyDocument.Statement[1].Condition.ArnLike['aws:SourceArn'],
      );
      const keyPattern = subExample(
        props(t, 'OpsKey').KeyPolicy.Statement[1].Condition.ArnLike['aws:SourceArn'],
      );
      for (const [, alarm] of alarms(t)) {
        const arn = `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarm.AlarmName}`;
        expect(arnLike(topicPattern, arn)).toBe(true);
        expect(arnLike(keyPattern, arn)).toBe(true);
      }
      // and another stage's alarm is not
      const other = `arn:aws:cloudwatch:us-east-1:123456789012:alarm:tickstream-${stage}x-processor-errors`;
      expect(arnLike(topicPattern, other)).toBe(false);
      expect(arnLike(topicPattern, 'arn:aws:cloudwatch:us-east-1:999999999999:alarm:x')).toBe(false);
    }
  });

  it('watch every function’s errors and every queue’s backlog', () => {
    for (const [, t] of each()) {
      const errorsOf = new Set(
        alarms(t)
          .filter(([, a]) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors')
          .map(([, a]) => a.Dimensions[0].Value.Ref),
      );
      const functions = resourcesOfType(t, 'AWS::Lambda::Function').map(([id]) => id);
      expect(functions.length).toBe(3);
      expect([...errorsOf].sort()).toEqual(functions.sort());
      const backlogOf = alarms(t)
        .filter(([, a]) => a.MetricName === 'ApproximateNumberOfMessagesVisible')
        .map(([, a]) => a.Dimensions[0].Value['Fn::GetAtt']);
      const queues = resourcesOfType(t, 'AWS::SQS::Queue').map(([id]) => [id, 'QueueName']);
      expect(backlogOf).toEqual(queues);
    }
  });

  it('name resources of this stack, of the type the dimension is about', () => {
    const dimensionType: Record<string, string> = {
      FunctionName: 'AWS::Lambda::Function',
      QueueName: 'AWS::SQS::Queue',
      TableName: 'AWS::DynamoDB::Table',
      TopicName: 'AWS::SNS::Topic',
    };
    for (const [, t] of each()) {
      for (const [id, alarm] of alarms(t)) {
        for (const metric of watched(alarm)) {
          if (!metric.Namespace.startsWith('AWS/')) continue;
          for (const d of metric.Dimensions) {
            const v = d.Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
            const target = v.Ref ?? v['Fn::GetAtt']?.[0];
            expect([id, d.Name, resource(t, target!).Type]).toEqual([id, d.Name, dimensionType[d.Name]]);
            if (v['Fn::GetAtt']) expect(v['Fn::GetAtt'][1]).toBe(d.Name); // QueueName, TopicName
          }
        }
      }
    }
  });

  it('on the functions’ own metrics use the stage’s namespace, the service dimension and a metric the function emits', () => {
    const emitted = emittedMetrics();
    expect([...emitted.keys()].sort()).toEqual([
      'tickstream-compaction',
      'tickstream-ingest',
      'tickstream-processor',
    ]);
    for (const [stage, t] of each()) {
      const namespace = props(t, 'ProcessTicksLambdaFunction').Environment.Variables
        .POWERTOOLS_METRICS_NAMESPACE;
      expect(namespace).toBe(`tickstream/${stage}`);
      const own = alarms(t).flatMap(([id, a]) =>
        watched(a)
          .filter((m) => !m.Namespace.startsWith('AWS/'))
          .map((m) => [id, m] as const),
      );
      expect(own.length).toBeGreaterThanOrEqual(4);
      for (const [id, m] of own) {
        expect([id, m.Namespace]).toEqual([id, namespace]);
        expect(m.Dimensions.map((d) => d.Name)).toEqual(['service']);
        const service = m.Dimensions[0]!.Value as string;
        expect([id, emitted.get(service)?.has(m.MetricName)]).toEqual([id, true]);
      }
    }
  });

  it('hold the processor to alarmIteratorAgeMs behind the stream for 5 minutes', async () => {
    const lagging = (t: CloudFormationTemplate) => props(t, 'ProcessorIteratorAgeAlarm');
    for (const [, t] of each()) {
      expect(lagging(t)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'ProcessTicksLambdaFunction' } }],
        Statistic: 'Maximum',
        Threshold: 300_000,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expect(lagging(t).Period * lagging(t).DatapointsToAlarm).toBe(300);
    }
    const strict = await synthesizeTemplate('staging', { params: { alarmIteratorAgeMs: '60000' } });
    expect(Number(lagging(strict).Threshold)).toBe(60_000); // a --param is a string: CloudFormation reads it as the number
  });
});

describe('the dashboard', () => {
  /** The body with each `${…}` of its Fn::Sub replaced by a marker naming what it refers to. */
  function dashboard(t: CloudFormationTemplate) {
    const sub = props(t, 'OpsDashboard').DashboardBody['Fn::Sub'] as string;
    const refs: string[] = [];
    const text = sub.replace(/\$\{([^}]+)\}/g, (_, ref: string) => {
      refs.push(ref);
      return `<${ref}>`;
    });
    const body = JSON.parse(text) as {
      widgets: { type: string; properties: { metrics?: unknown[][]; alarms?: string[] } }[];
    };
    return { body, refs };
  }

  it('refers only to resources of the stack, and shows the state of every alarm', () => {
    const ATTRIBUTE_SHOWN: Record<string, string> = {
      'AWS::CloudWatch::Alarm': 'Arn',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::SNS::Topic': 'TopicName',
    };
    for (const [, t] of each()) {
      const { body, refs } = dashboard(t);
      for (const ref of refs) {
        if (ref === 'AWS::Region') continue;
        const [id, attribute] = ref.split('.');
        const type = resource(t, id!).Type; // throws for a resource the stack does not have
        if (attribute) expect([ref, attribute]).toEqual([ref, ATTRIBUTE_SHOWN[type]]);
      }
      const shown = body.widgets.flatMap((w) => w.properties.alarms ?? []);
      expect(shown.sort()).toEqual(
        alarms(t)
          .map(([id]) => `<${id}.Arn>`)
          .sort(),
      );
    }
  });

  it('graphs metrics the functions emit, under their namespace and dimensions, and AWS metrics of this stack’s resources', () => {
    const emitted = emittedMetrics();
    const dimensionType: Record<string, string> = {
      FunctionName: 'AWS::Lambda::Function',
      QueueName: 'AWS::SQS::Queue',
      TableName: 'AWS::DynamoDB::Table',
      TopicName: 'AWS::SNS::Topic',
      StreamName: 'AWS::Kinesis::Stream',
    };
    for (const [stage, t] of each()) {
      const metrics = dashboard(t).body.widgets.flatMap((w) => w.properties.metrics ?? []);
      expect(metrics.length).toBeGreaterThan(30);
      for (const m of metrics) {
        const [namespace, name, ...rest] = m.filter((part) => typeof part === 'string') as string[];
        const dimensions = new Map<string, string>();
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions.set(rest[i]!, rest[i + 1]!);
        if (namespace === `tickstream/${stage}`) {
          const service = dimensions.get('service')!;
          expect([name, emitted.get(service)?.has(name!)]).toEqual([name, true]);
          expect([...dimensions.keys()]).toEqual(name === 'SinkLatency' ? ['service', 'sink'] : ['service']);
        } else {
          expect(namespace).toMatch(/^AWS\//);
          const [dimension, value] = [...dimensions][0]!;
          const id = /^<(\w+)(\.\w+)?>$/.exec(value!)?.[1];
          expect([name, resource(t, id!).Type]).toEqual([name, dimensionType[dimension!]]);
        }
      }
    }
  });

  it('shows the latency of every sink the processor times', () => {
    const source = readFileSync(join(PROJECT_ROOT, 'src/pipeline/process/process-batch.ts'), 'utf8');
    const sinks = /export type SinkName = ([^;]+);/
      .exec(source)![1]!
      .match(/'(\w+)'/g)!
      .map((s) => s.slice(1, -1));
    const shown = dashboard(templates.get('dev')!)
      .body.widgets.flatMap((w) => w.properties.metrics ?? [])
      .filter((m) => m[1] === 'SinkLatency')
      .map((m) => m[5]);
    expect(shown.sort()).toEqual(sinks.sort());
  });
});
