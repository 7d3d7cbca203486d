import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  functionEnvironment,
  planLocalResources,
  type TemplateContext,
} from '../../../scripts/local/template.ts';
import { realTemplate, useLocalCloud } from '../../support/local-cloud.ts';

// The emulators hold exactly the template's streams, tables, buckets and queues, named and keyed
// as the template says. Names are read from the template here, independently of the local cloud.

const cloud = useLocalCloud();
let template: CloudFormationTemplate;
beforeAll(async () => {
  template = await realTemplate('dev');
});

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': '000000000000',
  'AWS::Region': 'us-east-1',
  'AWS::StackName': 'tickstream-dev',
  'AWS::Partition': 'aws',
};

/** The physical name a template resource declares: a literal or a Fn::Sub of pseudo parameters. */
function declaredName(logicalId: string, prop: string): string | undefined {
  const v = template.Resources[logicalId]!.Properties?.[prop];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  const sub = (v as { 'Fn::Sub'?: unknown })['Fn::Sub'];
  if (typeof sub === 'string') return sub.replace(/\$\{(AWS::\w+)\}/g, (_, p: string) => PSEUDO[p]!);
  throw new Error(
    `${logicalId}.${prop}: this test reads literal names and Fn::Sub only; extend it for ${JSON.stringify(v)}`,
  );
}

const ofType = (type: string) =>
  Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type && r.Condition === undefined)
    .map(([id]) => id);

describe('local resources match the synthesized template (dev)', () => {
  it('has every Kinesis stream under its template name, with the capacity mode the template sets', async () => {
    const ids = ofType('AWS::Kinesis::Stream');
    expect(ids).toContain('TicksStream');
    const names = (await cloud().clients.kinesis.send(new ListStreamsCommand({}))).StreamNames ?? [];
    expect(names.sort()).toEqual(ids.map((id) => declaredName(id, 'Name')!).sort());
    for (const id of ids) {
      const props = template.Resources[id]!.Properties as { StreamModeDetails?: { StreamMode?: string } };
      const shards = (
        await cloud().clients.kinesis.send(new ListShardsCommand({ StreamName: declaredName(id, 'Name') }))
      ).Shards!;
      // On-demand streams start with 4 shards in AWS; a provisioned one has its ShardCount.
      if (props.StreamModeDetails?.StreamMode === 'ON_DEMAND') expect(shards).toHaveLength(4);
      else
        expect(shards).toHaveLength(
          Number((template.Resources[id]!.Properties as { ShardCount: number }).ShardCount),
        );
    }
  });

  it('has every DynamoDB table with the key schema and attribute types of the template', async () => {
    const ids = ofType('AWS::DynamoDB::Table');
    const names = (await cloud().clients.dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];
    expect(names.sort()).toEqual(ids.map((id) => declaredName(id, 'TableName')!).sort());
    for (const id of ids) {
      const props = template.Resources[id]!.Properties as {
        KeySchema: unknown[];
        AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
      };
      const t = (
        await cloud().clients.dynamodb.send(
          new DescribeTableCommand({ TableName: declaredName(id, 'TableName') }),
        )
      ).Table!;
      expect(t.KeySchema).toEqual(props.KeySchema);
      const sortByName = (a: { AttributeName?: string }, b: { AttributeName?: string }) =>
        (a.AttributeName ?? '').localeCompare(b.AttributeName ?? '');
      expect([...(t.AttributeDefinitions ?? [])].sort(sortByName)).toEqual(
        [...props.AttributeDefinitions].sort(sortByName),
      );
    }
  });

  it('has every S3 bucket and every SQS queue (with its attributes) of the template', async () => {
    const buckets =
      (await cloud().clients.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name) ?? [];
    for (const id of ofType('AWS::S3::Bucket')) {
      const declared = declaredName(id, 'BucketName');
      // A bucket without BucketName gets a generated name (ServerlessDeploymentBucket).
      if (declared) expect(buckets).toContain(declared);
    }
    expect(buckets).toHaveLength(ofType('AWS::S3::Bucket').length);
    expect(cloud().env.LAKE_BUCKET_NAME).toBe(declaredName('LakeBucket', 'BucketName'));

    const urls = (await cloud().clients.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    const queueIds = ofType('AWS::SQS::Queue');
    expect(urls).toHaveLength(queueIds.length);
    for (const id of queueIds) {
      const name = declaredName(id, 'QueueName')!;
      const url = urls.find((u) => u.endsWith(`/${name}`));
      expect(url, name).toBeDefined();
      const attrs = (
        await cloud().clients.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
        )
      ).Attributes as Record<string, string>;
      const props = template.Resources[id]!.Properties as Record<string, unknown>;
      for (const key of ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds'])
        if (props[key] !== undefined) expect(attrs[key], `${id}.${key}`).toBe(String(props[key]));
    }
  });

  it('creates no Timestream resources behind the false TimestreamEnabled condition; topics live in the local SNS', () => {
    const skipped = Object.fromEntries(cloud().resources.skipped.map((s) => [s.logicalId, s.reason]));
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Condition === 'TimestreamEnabled')
        expect(skipped[id]).toBe('condition TimestreamEnabled is false');
      if (r.Type === 'AWS::SNS::Topic') {
        expect(skipped[id]).toBeUndefined();
        expect(cloud().sns.topics[id]).toMatch(/^arn:aws:sns:us-east-1:000000000000:/);
      }
    }
  });
});

describe('planLocalResources on a hand-written template (intrinsics, conditions, skips)', () => {
  const fixture = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../fixtures/local-cloud/template.json', import.meta.url)), 'utf8'),
  ) as CloudFormationTemplate;
  const ctx: TemplateContext = {
    region: 'eu-west-1',
    accountId: '000000000000',
    stackName: 'tickstream-dev',
    partition: 'aws',
    sqsEndpoint: 'http://127.0.0.1:9324',
  };
  const plan = planLocalResources(fixture, ctx);

  it('resolves Fn::Sub, Fn::Join and pseudo parameters in names', () => {
    expect(plan.streams.find((s) => s.logicalId === 'TicksStream')).toMatchObject({
      name: 'tickstream-dev-ticks',
      arn: 'arn:aws:kinesis:eu-west-1:000000000000:stream/tickstream-dev-ticks',
      shardCount: 2,
      mode: 'PROVISIONED',
      retentionHours: 48,
    });
    expect(plan.tables[0]).toMatchObject({ name: 'tickstream-dev-market', ttlAttribute: 'expiresAt' });
    expect(plan.tables[0]!.globalSecondaryIndexes.map((g) => g.IndexName)).toEqual(['gsi1']);
    expect(plan.buckets.map((b) => b.name)).toEqual(['tickstream-dev-lake-000000000000-eu-west-1']);
  });

  it('gives on-demand streams 4 shards and unnamed resources a deterministic stack-prefixed name', () => {
    expect(plan.streams.find((s) => s.logicalId === 'OnDemandStream')).toMatchObject({
      name: 'tickstream-dev-OnDemandStream',
      shardCount: 4,
      mode: 'ON_DEMAND',
    });
    expect(plan.queues.find((q) => q.logicalId === 'WorkQueue')!.name).toBe('tickstream-dev-WorkQueue');
  });

  it('creates a dead-letter queue before the queue that redrives to it, with the resolved ARN', () => {
    expect(plan.queues.map((q) => q.logicalId)).toEqual(['ProcessorDeadLetterQueue', 'WorkQueue']);
    const work = plan.queues[1]!;
    expect(work.deadLetterTarget).toBe('ProcessorDeadLetterQueue');
    expect(JSON.parse(work.attributes.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:000000000000:tickstream-dev-processor-dlq',
      maxReceiveCount: 3,
    });
    expect(work.attributes.VisibilityTimeout).toBe('45');
    expect(work.url).toBe('http://127.0.0.1:9324/000000000000/tickstream-dev-WorkQueue');
  });

  it('skips false or unresolvable conditions and unresolvable names, saying why', () => {
    const reasons = Object.fromEntries(plan.skipped.map((s) => [s.logicalId, s.reason]));
    expect(reasons.TimestreamDatabase).toBe('condition TimestreamEnabled is false');
    expect(reasons.ImportedBucket).toMatch(/condition Imported cannot be evaluated locally.*Fn::ImportValue/);
    expect(reasons.CrossStackQueue).toMatch(/CrossStackQueue\.Properties\.QueueName: Fn::ImportValue/);
    // Topics are the local SNS's (scripts/local/sns.ts), neither skipped nor counted as not emulated.
    expect(reasons.AlertsTopic).toBeUndefined();
    expect(plan.notEmulated).toEqual({
      'AWS::S3::BucketPolicy': 1,
      'AWS::Lambda::Function': 1,
      'AWS::IAM::Role': 1,
    });
  });

  it("resolves a function's environment against the local names", () => {
    expect(functionEnvironment(fixture, ctx, 'ProcessTicksLambdaFunction')).toEqual({
      TICKS_STREAM_NAME: 'tickstream-dev-ticks',
      DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/tickstream-dev-processor-dlq',
      DLQ_ARN: 'arn:aws:sqs:eu-west-1:000000000000:tickstream-dev-processor-dlq',
      ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:000000000000:tickstream-dev-alerts',
      POWERTOOLS_SERVICE_NAME: 'tickstream',
    });
  });

  it('rejects a template without Resources with a clear error', () => {
    expect(() => planLocalResources({} as CloudFormationTemplate, ctx)).toThrow(/template\.Resources/);
  });
});
