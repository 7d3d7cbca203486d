import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  PROJECT_ROOT,
  STAGE_NAME,
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

interface MetricStat {
  Metric: MetricRef;
  Period: number;
  Stat: string;
}

/** What an alarm watches: its single metric, or each MetricStat of its metric math. */
function metricStats(alarm: Props): MetricStat[] {
  if (alarm.MetricName) return [{ Metric: alarm, Period: alarm.Period, Stat: alarm.Statistic }];
  return (alarm.Metrics as { MetricStat?: MetricStat }[]).flatMap((m) =>
    m.MetricStat ? [m.MetricStat] : [],
  );
}

const watched = (alarm: Props): MetricRef[] => metricStats(alarm).map((s) => s.Metric);

/** The resource type a dimension of an AWS metric names. */
const DIMENSION_TYPE: Record<string, string> = {
  FunctionName: 'AWS::Lambda::Function',
  QueueName: 'AWS::SQS::Queue',
  TableName: 'AWS::DynamoDB::Table',
  TopicName: 'AWS::SNS::Topic',
  StreamName: 'AWS::Kinesis::Stream',
};

/**
 * What each function's source emits: Powertools service name → metric name → the names of its
 * dimensions. `metrics.addMetric` files a metric under `service` alone; a single metric given a
 * dimension of its own (`single.addDimension('sink', …); single.addMetric('SinkLatency', …)`) under
 * `service` and that one.
 */
function emittedMetrics(): Map<string, Map<string, string[]>> {
  const byService = new Map<string, Map<string, string[]>>();
  const dir = join(PROJECT_ROOT, 'functions');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    const service = /new Metrics\(\{[^}]*serviceName: '([^']+)'/.exec(source)?.[1];
    if (!service) continue;
    const names = new Map<string, string[]>();
    for (const m of source.matchAll(/\bmetrics\.addMetric\(\s*'(\w+)'/g)) names.set(m[1]!, ['service']);
    for (const m of source.matchAll(/(\w+)\.addDimension\('(\w+)',[^;]*;\s*\1\.addMetric\(\s*'(\w+)'/g))
      names.set(m[3]!, ['service', m[2]!]);
    byService.set(service, names);
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
  // Each alarm: what it watches, how it aggregates and when it fires; `ok` when it also notifies
  // its return to OK — a condition that clears, not events that merely stopped for a period.
  const GTE = 'GreaterThanOrEqualToThreshold';
  const EXPECTED: Record<string, string> = {
    ProcessorIteratorAgeAlarm: 'AWS/Lambda IteratorAge Maximum 60s 5/5 GreaterThanThreshold 300000 ok',
    ProcessorErrorsAlarm: `AWS/Lambda Errors Sum 300s 1/1 ${GTE} 1`,
    ProcessorDeadLettersAlarm: `AWS/SQS NumberOfMessagesSent Sum 300s 1/1 ${GTE} 1`,
    ProcessorTimeseriesRejectedAlarm: `own TimeseriesRecordsRejected Sum 3600s 1/1 ${GTE} 1`,
    MarketTableThrottlesAlarm: `AWS/DynamoDB WriteThrottleEvents+ReadThrottleEvents Sum 300s 3/3 ${GTE} 1 ok`,
    AlertDeliveryFailuresAlarm: `AWS/SNS NumberOfNotificationsFailed Sum 300s 1/1 ${GTE} 1`,
    IngestErrorsAlarm: `AWS/Lambda Errors Sum 300s 1/1 ${GTE} 1`,
    IngestPollErrorsAlarm: `own PollErrors Sum 300s 1/1 ${GTE} 1`,
    IngestRecordsNotDeliveredAlarm: `own RecordsNotDelivered Sum 300s 1/1 ${GTE} 1`,
    IngestYahooFailuresAlarm: `own YahooFailures Sum 300s 3/3 ${GTE} 1 ok`,
    CompactionErrorsAlarm: `AWS/Lambda Errors Sum 3600s 1/1 ${GTE} 1`,
    CompactionRejectedLinesAlarm: `own LakeLinesRejected Sum 3600s 1/1 ${GTE} 1`,
  };

  /** An alarm in the form of EXPECTED (the stage's own namespace written `own`). */
  function describeAlarm(alarm: Props, stage: string): string {
    const stats = metricStats(alarm);
    const namespaces = new Set(stats.map((m) => m.Metric.Namespace.replace(`tickstream/${stage}`, 'own')));
    const single = (values: unknown[]) => (new Set(values).size === 1 ? String(values[0]) : 'mixed');
    return [
      single([...namespaces]),
      stats.map((m) => m.Metric.MetricName).join('+'),
      single(stats.map((m) => m.Stat)),
      `${single(stats.map((m) => m.Period))}s`,
      `${alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods}/${alarm.EvaluationPeriods}`,
      alarm.ComparisonOperator,
      String(Number(alarm.Threshold)),
      ...(alarm.OKActions ? ['ok'] : []),
    ].join(' ');
  }

  it('are exactly these, each watching what it says, notifying the ops topic, OK without data', () => {
    for (const [stage, t] of each()) {
      expect(Object.fromEntries(alarms(t).map(([id, a]) => [id, describeAlarm(a, stage)]))).toEqual(EXPECTED);
      for (const [id, alarm] of alarms(t)) {
        expect([id, alarm.AlarmActions]).toEqual([id, [{ Ref: 'OpsTopic' }]]);
        if (alarm.OKActions) expect([id, alarm.OKActions]).toEqual([id, [{ Ref: 'OpsTopic' }]]);
        expect([id, alarm.TreatMissingData]).toEqual([id, 'notBreaching']);
        expect(alarm.AlarmDescription.length).toBeGreaterThan(80); // says what it means and what to do
      }
      // The throttle alarm adds both series, a missing one counted as none.
      const math = props(t, 'MarketTableThrottlesAlarm').Metrics as {
        Expression?: string;
        ReturnData: boolean;
      }[];
      expect(math.filter((m) => m.ReturnData)).toMatchObject([
        { Expression: 'FILL(writes, 0) + FILL(reads, 0)' },
      ]);
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
      // and another stage's alarm is not (stage names are letters and digits: no other stage's
      // names start with this stage's name and a '-')
      for (const other of [`${stage}x`, `x${stage}`]) {
        expect(STAGE_NAME.test(other)).toBe(true);
        const arn = `arn:aws:cloudwatch:us-east-1:123456789012:alarm:tickstream-${other}-processor-errors`;
        expect(arnLike(topicPattern, arn)).toBe(false);
        expect(arnLike(keyPattern, arn)).toBe(false);
      }
      expect(STAGE_NAME.test(`${stage}-x`)).toBe(false);
      expect(arnLike(topicPattern, 'arn:aws:cloudwatch:us-east-1:999999999999:alarm:x')).toBe(false);
    }
  });

  it('watch every function’s errors and every queue’s new messages', () => {
    for (const [, t] of each()) {
      const errorsOf = new Set(
        alarms(t)
          .filter(([, a]) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors')
          .map(([, a]) => a.Dimensions[0].Value.Ref),
      );
      const functions = resourcesOfType(t, 'AWS::Lambda::Function').map(([id]) => id);
      expect(functions.length).toBe(3);
      expect([...errorsOf].sort()).toEqual(functions.sort());
      const arrivalsOf = alarms(t)
        .filter(([, a]) => a.MetricName === 'NumberOfMessagesSent')
        .map(([, a]) => a.Dimensions[0].Value['Fn::GetAtt']);
      const queues = resourcesOfType(t, 'AWS::SQS::Queue').map(([id]) => [id, 'QueueName']);
      expect(arrivalsOf).toEqual(queues);
    }
  });

  it('name resources of this stack, of the type the dimension is about', () => {
    for (const [, t] of each()) {
      for (const [id, alarm] of alarms(t)) {
        for (const metric of watched(alarm)) {
          if (!metric.Namespace.startsWith('AWS/')) continue;
          for (const d of metric.Dimensions) {
            const v = d.Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
            const target = v.Ref ?? v['Fn::GetAtt']?.[0];
            expect([id, d.Name, resource(t, target!).Type]).toEqual([id, d.Name, DIMENSION_TYPE[d.Name]]);
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
        expect(m.Dimensions[0]!.Name).toBe('service');
        const service = m.Dimensions[0]!.Value as string;
        // the metric's whole dimension set: an alarm on a subset or a superset watches no data
        expect([id, emitted.get(service)?.get(m.MetricName)]).toEqual([id, m.Dimensions.map((d) => d.Name)]);
      }
    }
  });

  it('tell which retention Timestream refuses rows by: the magnetic store’s, as the table writes older rows there', async () => {
    // AWS (Timestream developer guide, "Writes"): a row older than the memory store's retention is
    // refused unless the table has magnetic store writes on; then only one older than the magnetic
    // store's retention is. An operator replaying last month must not expect (or chase) this alarm.
    const on = await synthesizeTemplate('dev', { params: { timestreamEnabled: 'true' } });
    expect(props(on, 'TimestreamTable').MagneticStoreWriteProperties.EnableMagneticStoreWrites).toBe(true);
    for (const t of [on, ...each().map(([, t]) => t)]) {
      const description = props(t, 'ProcessorTimeseriesRejectedAlarm').AlarmDescription as string;
      expect(description).toMatch(/refused metric rows for good: older than its magnetic store's retention/);
      expect(description).toMatch(/older than the memory store's retention are not refused/);
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
    for (const [stage, t] of each()) {
      const metrics = dashboard(t).body.widgets.flatMap((w) => w.properties.metrics ?? []);
      expect(metrics.length).toBeGreaterThan(30);
      for (const m of metrics) {
        const [namespace, name, ...rest] = m.filter((part) => typeof part === 'string') as string[];
        const dimensions = new Map<string, string>();
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions.set(rest[i]!, rest[i + 1]!);
        if (namespace === `tickstream/${stage}`) {
          const service = dimensions.get('service')!;
          expect([name, emitted.get(service)?.get(name!)]).toEqual([name, [...dimensions.keys()]]);
        } else {
          expect(namespace).toMatch(/^AWS\//);
          const [dimension, value] = [...dimensions][0]!;
          const id = /^<(\w+)(\.\w+)?>$/.exec(value!)?.[1];
          expect([name, resource(t, id!).Type]).toEqual([name, DIMENSION_TYPE[dimension!]]);
        }
      }
    }
  });

  it('costs what the README says: its count of the functions’ metric series is the number they emit', () => {
    // A CloudWatch custom metric is a name with one set of dimension values: SinkLatency is one per
    // sink, ColdStart one per function that captures it (service and function_name).
    const sinks = (
      /export type SinkName = ([^;]+);/
        .exec(readFileSync(join(PROJECT_ROOT, 'src/pipeline/process/process-batch.ts'), 'utf8'))![1]!
        .match(/'(\w+)'/g) ?? []
    ).length;
    let series = 0;
    for (const names of emittedMetrics().values())
      for (const dimensions of names.values()) series += dimensions.includes('sink') ? sinks : 1;
    const dir = join(PROJECT_ROOT, 'functions');
    for (const file of readdirSync(dir))
      if (readFileSync(join(dir, file), 'utf8').includes('captureColdStartMetric: true')) series++;
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const stated = /own metrics are (\d+) series per stage \((\d+) without Timestream\)/.exec(readme);
    expect(stated?.slice(1).map(Number)).toEqual([series, series - 1]);
    const dollars = /up to about \$(\d+) a month for a stage that sends them all month/.exec(readme);
    expect(Number(dollars?.[1])).toBe(Math.round(series * 0.3));
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
