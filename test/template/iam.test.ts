import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  PROJECT_ROOT,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import { DEFAULT_PENDING_PREFIX } from '../../src/adapters/aws/s3-lake-writer.ts';
import { asList, type PolicyStatement, props, roleStatements } from './helpers.ts';

/**
 * The only actions granted on Resource '*': AWS offers no resource-level permission for them
 * (Service Authorization Reference: no resource types listed).
 */
const STAR_RESOURCE_ALLOWED = new Set([
  'kinesis:ListStreams',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'timestream:DescribeEndpoints',
]);

const ROLES = {
  ingestQuotes: 'IngestQuotesIamRoleLambdaExecution',
  processTicks: 'ProcessTicksIamRoleLambdaExecution',
  compactLake: 'CompactLakeIamRoleLambdaExecution',
} as const;

let dev: CloudFormationTemplate;
let prod: CloudFormationTemplate;
let timestreamOn: CloudFormationTemplate;

beforeAll(async () => {
  dev = await synthesizeTemplate('dev');
  prod = await synthesizeTemplate('prod');
  timestreamOn = await synthesizeTemplate('prod', { params: { timestreamEnabled: 'true' } });
});

/** Actions a role's statements allow on a given resource expression. */
function actionsOn(statements: PolicyStatement[], target: unknown): string[] {
  return statements
    .filter(
      (s) =>
        s.Effect === 'Allow' && asList(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify(target)),
    )
    .flatMap((s) => asList(s.Action));
}

const streamArn = { 'Fn::GetAtt': ['TicksStream', 'Arn'] };
const tableArn = { 'Fn::GetAtt': ['MarketTable', 'Arn'] };
const dlqArn = { 'Fn::GetAtt': ['ProcessorDeadLetterQueue', 'Arn'] };

describe('IAM: one least-privilege role per function', () => {
  it('runs each function under its own role', () => {
    for (const t of [dev, prod]) {
      expect(props(t, 'IngestQuotesLambdaFunction').Role).toEqual({
        'Fn::GetAtt': [ROLES.ingestQuotes, 'Arn'],
      });
      expect(props(t, 'ProcessTicksLambdaFunction').Role).toEqual({
        'Fn::GetAtt': [ROLES.processTicks, 'Arn'],
      });
      expect(props(t, 'CompactLakeLambdaFunction').Role).toEqual({
        'Fn::GetAtt': [ROLES.compactLake, 'Arn'],
      });
      for (const role of Object.values(ROLES)) expect(props(t, role).ManagedPolicyArns).toEqual([]);
    }
  });

  it('holds no other role: the provider-wide one, which no function uses, is dropped', () => {
    for (const t of [dev, prod, timestreamOn]) {
      const roles = Object.entries(t.Resources)
        .filter(([, r]) => r.Type === 'AWS::IAM::Role')
        .map(([id]) => id);
      expect(roles.sort()).toEqual(Object.values(ROLES).sort());
      expect(JSON.stringify(t)).not.toContain('"IamRoleLambdaExecution"');
    }
  });

  it("grants no wildcard action and no '*' resource outside the allow-list", () => {
    for (const t of [dev, prod, timestreamOn]) {
      const policies = Object.entries(t.Resources)
        .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
        .flatMap(
          ([, r]) =>
            (r.Properties as { PolicyDocument: { Statement: PolicyStatement[] } }).PolicyDocument.Statement,
        );
      for (const statement of [
        ...Object.values(ROLES).flatMap((role) => roleStatements(t, role)),
        ...policies,
      ]) {
        expect(statement.Effect).toBe('Allow');
        for (const action of asList(statement.Action)) expect(action).not.toContain('*');
        if (asList(statement.Resource).includes('*')) {
          for (const action of asList(statement.Action)) expect(STAR_RESOURCE_ALLOWED).toContain(action);
        }
      }
    }
  });

  it('lets the poller write the stream and its cursors, and nothing else', () => {
    const s = roleStatements(prod, ROLES.ingestQuotes);
    // The publisher's PutRecords (kinesis-publisher.ts); the cursor store's GetItem and conditional
    // UpdateItem (dynamodb-cursor-store.ts). Nothing else of either is called.
    expect(actionsOn(s, streamArn)).toEqual(['kinesis:PutRecords']);
    expect(actionsOn(s, tableArn).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const all = s.flatMap((x) => asList(x.Action));
    for (const forbidden of [
      'kinesis:GetRecords',
      's3:PutObject',
      'sns:Publish',
      'sqs:SendMessage',
      'dynamodb:DeleteItem',
    ]) {
      expect(all).not.toContain(forbidden);
    }
  });

  it('lets the processor read the stream as the event source mapping needs', () => {
    const s = roleStatements(prod, ROLES.processTicks);
    const onStream = actionsOn(s, streamArn);
    for (const action of [
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamSummary',
      'kinesis:ListShards',
    ]) {
      expect(onStream).toContain(action);
    }
    expect(actionsOn(s, '*')).toContain('kinesis:ListStreams');
    expect(onStream).not.toContain('kinesis:PutRecords');
  });

  it('lets the processor write its sinks: table, raw zone and late-day marks only, DLQ (onFailure), alerts topic', () => {
    const s = roleStatements(prod, ROLES.processTicks);
    expect(actionsOn(s, tableArn).sort()).toEqual(
      [
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        // The alert ledger's release (dynamodb-alert-ledger.ts): without it an alert SNS refused
        // stays claimed and is never sent.
        'dynamodb:DeleteItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ].sort(),
    );
    // It never reads one item or queries: states come by BatchGetItem (dynamodb-state-store.ts).
    const all = s.flatMap((x) => asList(x.Action));
    for (const unused of ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']) {
      expect(all).not.toContain(unused);
    }
    expect(actionsOn(s, { 'Fn::Sub': `\${LakeBucket.Arn}/raw/*` })).toEqual(['s3:PutObject']);
    expect(actionsOn(s, { 'Fn::Sub': `\${LakeBucket.Arn}/${DEFAULT_PENDING_PREFIX}*` })).toEqual([
      's3:PutObject',
    ]);
    // The plugin does not grant the onFailure destination: without this the mapping cannot dead-letter.
    expect(actionsOn(s, dlqArn)).toEqual(['sqs:SendMessage']);
    expect(actionsOn(s, { Ref: 'AlertsTopic' })).toEqual(['sns:Publish']);
    const s3Statements = s.filter((x) => asList(x.Action).some((a) => a.startsWith('s3:')));
    expect(s3Statements).toHaveLength(1); // no bucket-wide S3 access
  });

  it('lets the compaction list the two zones and the marks by day, read raw objects and compacted metadata, write only compacted objects, delete only marks', () => {
    for (const t of [dev, prod]) {
      const s = roleStatements(t, ROLES.compactLake);
      const bucketArn = { 'Fn::GetAtt': ['LakeBucket', 'Arn'] };
      const listing = s.filter((x) => asList(x.Action).includes('s3:ListBucket'));
      expect(listing).toEqual([
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: bucketArn,
          Condition: {
            StringLike: { 's3:prefix': ['raw/dt=*', 'compacted/dt=*', `${DEFAULT_PENDING_PREFIX}dt=*`] },
          },
        },
      ]);
      expect(actionsOn(s, { 'Fn::Sub': `\${LakeBucket.Arn}/raw/*` })).toEqual(['s3:GetObject']);
      expect(actionsOn(s, { 'Fn::Sub': `\${LakeBucket.Arn}/compacted/*` }).sort()).toEqual([
        's3:GetObject',
        's3:PutObject',
      ]);
      expect(actionsOn(s, { 'Fn::Sub': `\${LakeBucket.Arn}/${DEFAULT_PENDING_PREFIX}*` })).toEqual([
        's3:DeleteObject',
      ]);
      const all = s.flatMap((x) => asList(x.Action)).sort();
      expect(all).toEqual(
        [
          's3:ListBucket',
          's3:GetObject',
          's3:PutObject',
          's3:DeleteObject',
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          // The plugin's CloudWatch Logs grants for the function's own log group.
          ...all.filter((a) => a.startsWith('logs:')),
        ].sort(),
      );
      expect(actionsOn(s, '*').sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  it('grants Timestream writes only through a policy that exists under the flag', () => {
    for (const t of [dev, prod, timestreamOn]) {
      const inRole = roleStatements(t, ROLES.processTicks).flatMap((x) => asList(x.Action));
      expect(inRole.filter((a) => a.startsWith('timestream:'))).toEqual([]);
      const policy = t.Resources.ProcessTicksTimestreamPolicy;
      expect(policy?.Condition).toBe('TimestreamEnabled');
      const p = policy?.Properties as { Roles: unknown[]; PolicyDocument: { Statement: PolicyStatement[] } };
      expect(p.Roles).toEqual([{ Ref: ROLES.processTicks }]);
      expect(actionsOn(p.PolicyDocument.Statement, { 'Fn::GetAtt': ['TimestreamTable', 'Arn'] })).toEqual([
        'timestream:WriteRecords',
      ]);
      expect(actionsOn(p.PolicyDocument.Statement, '*')).toEqual(['timestream:DescribeEndpoints']);
    }
  });

  it("explains every '*' resource with a comment right above it in the source", () => {
    const sources = ['serverless.yml', 'resources/timeseries.yml'];
    let stars = 0;
    for (const file of sources) {
      const lines = readFileSync(join(PROJECT_ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (!/^\s*Resource:\s*(['"])\*\1/.test(line)) return;
        stars += 1;
        // Walk up over the statement's own lines to the comment that introduces it.
        let j = i - 1;
        while (j >= 0 && !/^\s*- Effect:/.test(lines[j] ?? '')) j -= 1;
        expect(lines[j - 1] ?? '', `${file}:${i + 1} needs a comment above its statement`).toMatch(
          /^\s*#.*'\*'/,
        );
      });
    }
    expect(stars).toBe(5); // ListStreams, X-Ray in each of the 3 roles, DescribeEndpoints
  });
});
