import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  STAGES,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import {
  formatIssues,
  loadRegistry,
  type ResourceRegistry,
  type TemplateIssue,
  validateTemplate,
} from '../../scripts/template/validate.ts';

let registry: ResourceRegistry;
const templates = new Map<string, CloudFormationTemplate>();

beforeAll(async () => {
  registry = await loadRegistry();
  for (const stage of STAGES) templates.set(stage, await synthesizeTemplate(stage));
  templates.set(
    'prod+timestream+alerts',
    await synthesizeTemplate('prod', {
      params: { timestreamEnabled: 'true', alertEmails: 'ops@example.com,oncall@example.com' },
    }),
  );
});

function template(name: string): CloudFormationTemplate {
  const t = templates.get(name);
  if (!t) throw new Error(`no template ${name}`);
  return structuredClone(t); // each test breaks its own copy
}

// biome-ignore lint/suspicious/noExplicitAny: tests break the template's untyped JSON on purpose
function p(t: CloudFormationTemplate, id: string): any {
  const r = t.Resources[id];
  if (!r?.Properties) throw new Error(`no resource ${id} with properties`);
  return r.Properties;
}

function issues(t: CloudFormationTemplate): TemplateIssue[] {
  return validateTemplate(t, registry);
}

describe('the synthesized templates against the CloudFormation registry schemas', () => {
  it.each([...STAGES, 'prod+timestream+alerts'])('%s: every resource is valid', (name) => {
    const found = issues(template(name));
    expect(formatIssues(found)).toBe('');
  });

  it('knows every resource type the templates use (including those osls generates)', () => {
    const types = new Set(
      [...templates.values()].flatMap((t) => Object.values(t.Resources).map((r) => r.Type)),
    );
    for (const type of [
      'AWS::Kinesis::Stream',
      'AWS::DynamoDB::Table',
      'AWS::S3::Bucket',
      'AWS::Lambda::EventSourceMapping',
      'AWS::IAM::Role',
      'AWS::SNS::Subscription',
      'AWS::Timestream::Table',
    ]) {
      expect(types).toContain(type);
    }
    for (const type of types) expect(registry.resource(type), type).toBeDefined();
  });
});

describe('the validator fails a broken template with the specific error', () => {
  it('rejects an unknown property, naming the resource, the path and the known names', () => {
    const t = template('dev');
    p(t, 'TicksStream').Encryption = { EncryptionType: 'KMS' };
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'unknown-property',
        where: 'TicksStream',
        path: 'Properties.Encryption',
        message: expect.stringContaining('AWS::Kinesis::Stream has no property Encryption (known: '),
      }),
    ]);
  });

  it('rejects a misspelt nested property', () => {
    const t = template('dev');
    const block = p(t, 'LakeBucket').PublicAccessBlockConfiguration;
    delete block.BlockPublicAcls;
    block.BlockPublicAcl = true;
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'unknown-property',
        where: 'LakeBucket',
        path: 'Properties.PublicAccessBlockConfiguration.BlockPublicAcl',
      }),
    ]);
  });

  it('rejects a missing required property, top-level and nested', () => {
    const t = template('dev');
    delete p(t, 'MarketTable').KeySchema;
    delete p(t, 'TicksStream').StreamModeDetails.StreamMode;
    const found = issues(t);
    expect(found).toContainEqual(
      expect.objectContaining({
        code: 'missing-required-property',
        where: 'MarketTable',
        path: 'Properties.KeySchema',
        message: 'AWS::DynamoDB::Table requires property KeySchema',
      }),
    );
    expect(found).toContainEqual(
      expect.objectContaining({
        code: 'missing-required-property',
        where: 'TicksStream',
        path: 'Properties.StreamModeDetails.StreamMode',
      }),
    );
    expect(found).toHaveLength(2);
  });

  it('rejects a GetAtt attribute the target type does not have', () => {
    const t = template('dev');
    p(t, 'ProcessTicksLambdaFunction').Environment.Variables.DEAD_LETTER_QUEUE_URL = {
      'Fn::GetAtt': ['ProcessorDeadLetterQueue', 'Url'],
    };
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'unknown-attribute',
        where: 'ProcessTicksLambdaFunction',
        message: expect.stringContaining(
          'AWS::SQS::Queue has no attribute Url (known: Arn, QueueName, QueueUrl)',
        ),
      }),
    ]);
  });

  it('rejects a bad attribute inside Fn::Sub', () => {
    const t = template('dev');
    const policy = p(t, 'LakeBucketPolicy').PolicyDocument.Statement[0];
    policy.Resource[1] = { 'Fn::Sub': `\${LakeBucket.Arnn}/*` };
    expect(issues(t).map((i) => [i.code, i.where])).toEqual([['unknown-attribute', 'LakeBucketPolicy']]);
  });

  it('rejects an unknown resource type', () => {
    const t = template('dev');
    const topic = t.Resources.AlertsTopic;
    if (topic) topic.Type = 'AWS::SNS::Topik';
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'unknown-type',
        where: 'AlertsTopic',
        message: 'resource type AWS::SNS::Topik does not exist in the CloudFormation registry',
      }),
    ]);
  });

  it('rejects a value outside the allowed set', () => {
    const t = template('prod');
    p(t, 'TicksStream').StreamModeDetails.StreamMode = 'ONDEMAND';
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'invalid-value',
        path: 'Properties.StreamModeDetails.StreamMode',
        message: expect.stringContaining('allowed: ON_DEMAND, PROVISIONED'),
      }),
    ]);
  });

  it('rejects a scalar where a structure or a list belongs', () => {
    const t = template('dev');
    p(t, 'LakeBucket').OwnershipControls = 'BucketOwnerEnforced';
    p(t, 'ProcessorDeadLetterQueuePolicy').Queues = 'https://sqs.us-east-1.amazonaws.com/123456789012/q';
    expect(issues(t).map((i) => `${i.code} ${i.path}: ${i.message}`)).toEqual([
      'wrong-shape Properties.OwnershipControls: AWS::S3::Bucket.OwnershipControls must be an object',
      'wrong-shape Properties.Queues: AWS::SQS::QueuePolicy.Queues must be a list',
    ]);
  });

  it('rejects Ref, Sub and DependsOn targets that do not exist', () => {
    const t = template('dev');
    p(t, 'IngestQuotesLambdaFunction').Environment.Variables.TICKS_STREAM_NAME = { Ref: 'TickStream' };
    p(t, 'ProcessTicksLambdaFunction').Environment.Variables.EXTRA = {
      'Fn::Sub': `arn:\${AWS::Partition}:\${Nope}`,
    };
    const bucket = t.Resources.LakeBucket;
    if (bucket) bucket.DependsOn = ['MarketTable', 'Missing'];
    const found = issues(t).map((i) => `${i.code} ${i.where}: ${i.message}`);
    expect(found.sort()).toEqual(
      [
        'unknown-ref IngestQuotesLambdaFunction: Ref TickStream: no such resource or parameter',
        'unknown-ref ProcessTicksLambdaFunction: Ref Nope: no such resource or parameter',
        'unknown-depends-on LakeBucket: DependsOn target "Missing" is not a resource',
      ].sort(),
    );
  });

  it('rejects an unguarded reference to a resource that exists only under a condition', () => {
    const t = template('dev');
    p(t, 'ProcessTicksLambdaFunction').Environment.Variables.TIMESTREAM_TABLE = { Ref: 'TimestreamTable' };
    expect(issues(t)).toEqual([
      expect.objectContaining({
        code: 'unguarded-conditional-reference',
        where: 'ProcessTicksLambdaFunction',
        message: expect.stringContaining('TimestreamTable exists only when TimestreamEnabled is true'),
      }),
    ]);
    // The same reference guarded by Fn::If on that condition is fine.
    p(t, 'ProcessTicksLambdaFunction').Environment.Variables.TIMESTREAM_TABLE = {
      'Fn::If': ['TimestreamEnabled', { Ref: 'TimestreamTable' }, ''],
    };
    expect(issues(t)).toEqual([]);
  });

  it('rejects a condition that is not defined', () => {
    const t = template('dev');
    const db = t.Resources.TimestreamDatabase;
    if (db) db.Condition = 'TimestreamOn';
    expect(issues(t)).toContainEqual(
      expect.objectContaining({ code: 'unknown-condition', where: 'TimestreamDatabase', path: 'Condition' }),
    );
  });
});
