import { beforeAll, describe, expect, it } from 'vitest';
import { kinesisMappings } from '../../scripts/pipeline/local-pipeline.ts';
import { type CloudFormationTemplate, synthesizeTemplate } from '../../scripts/template/synthesize.ts';
import {
  EVENTS_VIEW,
  eventsViewSql,
  glueEventType,
  LAKE_EVENT_FIELDS,
  LAKE_LINE_FIELDS,
  RAW_EVENTS_TABLE,
} from '../../src/adapters/aws/lake-schema.ts';
import { DEFAULT_PENDING_PREFIX } from '../../src/adapters/aws/s3-lake-writer.ts';
import { CompactionEnvSchema } from '../../src/config/compaction.ts';
import { BarSchema, TickSchema } from '../../src/domain/market/index.ts';
import { evaluateCondition, props, resolveIf, resource, resourcesOfType } from './helpers.ts';

// Reference values from the AWS documentation, not from the template:
const SQS_MAX_RETENTION_SECONDS = 14 * 24 * 60 * 60; // SQS MessageRetentionPeriod maximum: 14 days
const S3_STANDARD_IA_MIN_DAYS = 30; // lifecycle transitions to STANDARD_IA need ≥ 30 days
const KINESIS_MIN_RETENTION_HOURS = 24;
const KINESIS_MAX_RETENTION_HOURS = 8760;

let dev: CloudFormationTemplate;
let prod: CloudFormationTemplate;

beforeAll(async () => {
  dev = await synthesizeTemplate('dev');
  prod = await synthesizeTemplate('prod');
});

const stages = () =>
  [
    ['dev', dev],
    ['prod', prod],
  ] as const;

describe('Lambda functions', () => {
  it.each([
    'IngestQuotesLambdaFunction',
    'ProcessTicksLambdaFunction',
    'CompactLakeLambdaFunction',
  ])('%s runs nodejs24.x on arm64 with X-Ray active tracing in every stage', (id) => {
    for (const [, t] of stages()) {
      const p = props(t, id);
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
    }
  });

  it('packages each function individually from its own bundle', () => {
    const ingest = props(dev, 'IngestQuotesLambdaFunction');
    const process = props(dev, 'ProcessTicksLambdaFunction');
    expect(ingest.Handler).toBe('functions/ingest-quotes.handler');
    expect(process.Handler).toBe('functions/process-ticks.handler');
    expect(ingest.Code.S3Key).toMatch(/ingestQuotes\.zip$/);
    expect(process.Code.S3Key).toMatch(/processTicks\.zip$/);
  });

  it('keeps scheduled polls from overlapping or piling up', () => {
    for (const [, t] of stages()) {
      expect(props(t, 'IngestQuotesLambdaFunction').ReservedConcurrentExecutions).toBe(1);
      const invokeConfig = props(t, 'IngestQuotesLambdaEvConf');
      expect(invokeConfig.MaximumRetryAttempts).toBe(0);
      expect(invokeConfig.MaximumEventAgeInSeconds).toBe(60);
    }
  });

  /** The schedule rule whose target is the given function. */
  const ruleOf = (t: CloudFormationTemplate, functionId: string) => {
    const rules = resourcesOfType(t, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties).includes(`"${functionId}"`),
    );
    expect(rules).toHaveLength(1);
    return rules[0]![1].Properties as { ScheduleExpression: string; State: string };
  };

  it('schedules ingestion every minute, off in dev and on in prod by default', () => {
    expect(ruleOf(dev, 'IngestQuotesLambdaFunction').ScheduleExpression).toBe('rate(1 minute)');
    expect(ruleOf(dev, 'IngestQuotesLambdaFunction').State).toBe('DISABLED');
    expect(ruleOf(prod, 'IngestQuotesLambdaFunction').State).toBe('ENABLED');
  });

  it('compacts the lake once a night after midnight UTC in every stage, retried twice if it fails', () => {
    for (const [, t] of stages()) {
      const rule = ruleOf(t, 'CompactLakeLambdaFunction');
      expect(rule.ScheduleExpression).toBe('cron(30 0 * * ? *)');
      expect(rule.State).toBe('ENABLED');
      const fn = props(t, 'CompactLakeLambdaFunction');
      expect(fn.Handler).toBe('functions/compact-lake.handler');
      expect(fn.Environment.Variables.LAKE_BUCKET_NAME).toEqual({ Ref: 'LakeBucket' });
      for (const key of Object.keys(CompactionEnvSchema.shape))
        expect(fn.Environment.Variables).toHaveProperty(key);
      expect(fn.Timeout).toBe(900);
      expect(props(t, 'CompactLakeLambdaEvConf').MaximumRetryAttempts).toBe(2);
      expect(fn.ReservedConcurrentExecutions).toBe(1);
    }
  });

  it('gives the processor exactly the environment contract the code reads, wired to the resources', () => {
    const env = props(dev, 'ProcessTicksLambdaFunction').Environment.Variables;
    // The mapping hands it its records: it never reads the stream's name (src/config/processor.ts).
    expect(env.TICKS_STREAM_NAME).toBeUndefined();
    expect(env.MARKET_TABLE_NAME).toEqual({ Ref: 'MarketTable' });
    expect(env.LAKE_BUCKET_NAME).toEqual({ Ref: 'LakeBucket' });
    expect(env.DEAD_LETTER_QUEUE_URL).toEqual({ Ref: 'ProcessorDeadLetterQueue' }); // Ref of a queue is its URL
    expect(env.ALERTS_TOPIC_ARN).toEqual({ Ref: 'AlertsTopic' }); // Ref of a topic is its ARN
    expect(env.TIMESTREAM_ENABLED).toBe('false');
    expect(env.TIMESTREAM_DATABASE).toBe('tickstream-dev');
    expect(env.TIMESTREAM_TABLE).toBe('ticks');
    expect(env.METRICS_TTL_DAYS).toMatch(/^[1-9]\d*$/);
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('tickstream');
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('tickstream/dev'); // one namespace per stage
    expect(['DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(env.POWERTOOLS_LOG_LEVEL);
  });

  it('gives the poller its symbols, mode, poll interval, stream and cursor table', () => {
    const env = props(prod, 'IngestQuotesLambdaFunction').Environment.Variables;
    expect(env.SYMBOLS.split(',').length).toBeGreaterThan(0);
    for (const symbol of env.SYMBOLS.split(',')) expect(symbol).toMatch(/^[A-Z0-9^=.-]+$/);
    expect(['quotes', 'bars', 'both']).toContain(env.INGEST_MODE);
    expect(env.POLL_INTERVAL_SECONDS).toBe('30');
    expect(env.TICKS_STREAM_NAME).toEqual({ Ref: 'TicksStream' });
    expect(env.MARKET_TABLE_NAME).toEqual({ Ref: 'MarketTable' });
    // Every environment value is a string (Lambda rejects other types).
    for (const value of Object.values(env))
      expect(typeof value === 'string' || typeof value === 'object').toBe(true);
  });

  it('retains logs per stage', () => {
    const retention = (t: CloudFormationTemplate) =>
      resourcesOfType(t, 'AWS::Logs::LogGroup').map(
        ([, r]) => (r.Properties as { RetentionInDays: number }).RetentionInDays,
      );
    expect(new Set(retention(dev))).toEqual(new Set([7]));
    expect(new Set(retention(prod))).toEqual(new Set([90]));
  });
});

describe('Kinesis event source mapping of the processor', () => {
  const mapping = (t: CloudFormationTemplate) => {
    const all = resourcesOfType(t, 'AWS::Lambda::EventSourceMapping');
    expect(all).toHaveLength(1);
    return (all[0]?.[1].Properties ?? {}) as Record<string, unknown>;
  };

  it('isolates failures: bisect, bounded retries and age, partial batch responses, SQS on-failure', () => {
    for (const [, t] of stages()) {
      const m = mapping(t);
      expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': ['TicksStream', 'Arn'] });
      expect(m.FunctionName).toEqual({ 'Fn::GetAtt': ['ProcessTicksLambdaFunction', 'Arn'] });
      expect(m.BisectBatchOnFunctionError).toBe(true);
      expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(m.MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
      expect(m.MaximumRetryAttempts).toBeLessThanOrEqual(10); // bounded (-1 would mean forever)
      expect(m.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
      // Records must go to the DLQ before the stream drops them.
      const retentionHours = props(t, 'TicksStream').RetentionPeriodHours as number;
      expect(m.MaximumRecordAgeInSeconds).toBeLessThan(retentionHours * 3600);
      expect(m.DestinationConfig).toEqual({
        OnFailure: { Destination: { 'Fn::GetAtt': ['ProcessorDeadLetterQueue', 'Arn'] } },
      });
      expect(m.StartingPosition).toBe('TRIM_HORIZON');
      expect(m.BatchSize).toBeGreaterThanOrEqual(1);
      expect(m.BatchSize).toBeLessThanOrEqual(10000);
      expect(m.MaximumBatchingWindowInSeconds).toBeLessThanOrEqual(300);
      expect(m.ParallelizationFactor).toBeGreaterThanOrEqual(1);
      expect(m.ParallelizationFactor).toBeLessThanOrEqual(10);
    }
  });

  it('uses the stage params: zero batching window in dev, more retries, age and parallelism in prod', () => {
    expect(mapping(dev).MaximumBatchingWindowInSeconds).toBe(0);
    expect(mapping(prod).MaximumRetryAttempts as number).toBeGreaterThan(
      mapping(dev).MaximumRetryAttempts as number,
    );
    expect(mapping(prod).MaximumRecordAgeInSeconds as number).toBeGreaterThan(
      mapping(dev).MaximumRecordAgeInSeconds as number,
    );
    expect(mapping(prod).ParallelizationFactor).toBe(2);
  });

  it("is what the local event source mapping reads: each stage's parallelization factor", () => {
    expect(kinesisMappings(dev).map((m) => m.parallelizationFactor)).toEqual([1]);
    expect(kinesisMappings(prod).map((m) => m.parallelizationFactor)).toEqual([2]);
  });
});

describe('TicksStream', () => {
  it('is KMS-encrypted with the AWS managed key and named per stage', () => {
    for (const [stage, t] of stages()) {
      const p = props(t, 'TicksStream');
      expect(resource(t, 'TicksStream').Type).toBe('AWS::Kinesis::Stream');
      expect(p.StreamEncryption).toEqual({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
      expect(p.Name).toBe(`tickstream-${stage}-ticks`);
      expect(p.RetentionPeriodHours).toBeGreaterThanOrEqual(KINESIS_MIN_RETENTION_HOURS);
      expect(p.RetentionPeriodHours).toBeLessThanOrEqual(KINESIS_MAX_RETENTION_HOURS);
    }
  });

  it('is on-demand without a shard count in dev, provisioned with shards in prod', () => {
    expect(props(dev, 'TicksStream').StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
    expect(resolveIf(dev, props(dev, 'TicksStream').ShardCount)).toEqual({ Ref: 'AWS::NoValue' });
    expect(props(prod, 'TicksStream').StreamModeDetails).toEqual({ StreamMode: 'PROVISIONED' });
    expect(resolveIf(prod, props(prod, 'TicksStream').ShardCount)).toBe(2);
    expect(props(prod, 'TicksStream').RetentionPeriodHours).toBe(168);
    expect(props(dev, 'TicksStream').RetentionPeriodHours).toBe(24);
  });
});

describe('MarketTable', () => {
  it('is on demand outside prod (provisioned there), encrypted, point-in-time recoverable, with the expiresAt TTL and pk/sk keys', () => {
    for (const [stage, t] of stages()) {
      const p = props(t, 'MarketTable');
      expect(p.TableName).toBe(`tickstream-${stage}-market`);
      expect(p.BillingMode).toBe(stage === 'prod' ? 'PROVISIONED' : 'PAY_PER_REQUEST');
      expect(p.SSESpecification).toEqual({ SSEEnabled: true });
      expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
      expect(p.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(p.AttributeDefinitions).toEqual([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]);
    }
  });

  it('has a resource policy denying every request not made over TLS, as the lake bucket and the queue do', () => {
    // DynamoDB's endpoints answer plain HTTP too (AWS General Reference, "Amazon DynamoDB endpoints
    // and quotas"); the bucket and the queue refuse it by their policies, the table by its own.
    for (const [stage, t] of stages()) {
      const policy = props(t, 'MarketTable').ResourcePolicy?.PolicyDocument;
      expect(policy?.Statement).toEqual([
        {
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: '*',
          Action: 'dynamodb:*',
          // The table's own ARN (a resource policy applies only where its Resource matches the
          // table it is attached to); GetAtt cannot name the resource it is a property of.
          Resource: {
            'Fn::Sub': `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/tickstream-${stage}-market`,
          },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ]);
    }
  });

  it('is protected and retained in prod, disposable in dev', () => {
    expect(props(prod, 'MarketTable').DeletionProtectionEnabled).toBe(true);
    expect(resource(prod, 'MarketTable').DeletionPolicy).toBe('Retain');
    expect(resource(prod, 'MarketTable').UpdateReplacePolicy).toBe('Retain');
    expect(props(dev, 'MarketTable').DeletionProtectionEnabled).toBe(false);
    expect(resource(dev, 'MarketTable').DeletionPolicy).toBe('Delete');
  });
});

describe('LakeBucket', () => {
  it('is encrypted, versioned, fully private, owner-enforced and named from account and region', () => {
    for (const [stage, t] of stages()) {
      const p = props(t, 'LakeBucket');
      expect(p.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(p.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(p.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      expect(p.BucketName).toEqual({
        'Fn::Sub': `tickstream-\${AWS::AccountId}-\${AWS::Region}-${stage}-lake`,
      });
    }
  });

  it('tiers to STANDARD_IA then GLACIER_IR, expires old versions and aborts stale multipart uploads', () => {
    for (const [, t] of stages()) {
      const rules = props(t, 'LakeBucket').LifecycleConfiguration.Rules as Record<string, unknown>[];
      const tiering = rules.find((r) => r.Id === 'tiering') as {
        Status: string;
        Transitions: { StorageClass: string; TransitionInDays: number }[];
        NoncurrentVersionExpiration: { NoncurrentDays: number };
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: number };
      };
      expect(tiering.Status).toBe('Enabled');
      const [ia, glacier] = tiering.Transitions;
      expect(ia?.StorageClass).toBe('STANDARD_IA');
      expect(glacier?.StorageClass).toBe('GLACIER_IR');
      expect(ia?.TransitionInDays).toBeGreaterThanOrEqual(S3_STANDARD_IA_MIN_DAYS);
      expect((glacier?.TransitionInDays ?? 0) - (ia?.TransitionInDays ?? 0)).toBeGreaterThanOrEqual(30);
      expect(tiering.NoncurrentVersionExpiration.NoncurrentDays).toBeGreaterThan(0);
      expect(tiering.AbortIncompleteMultipartUpload.DaysAfterInitiation).toBeGreaterThan(0);
    }
  });

  it("removes the late-day marks' delete markers and old versions: the bucket is versioned, each removed mark leaves both", () => {
    for (const [, t] of stages()) {
      const p = props(t, 'LakeBucket');
      expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      const rules = p.LifecycleConfiguration.Rules as Record<string, unknown>[];
      // Without it every mark the compaction deletes stays as a delete marker for good, and the
      // nightly listing of the prefix walks all of them (a backfill leaves one per raw object).
      expect(rules).toContainEqual({
        Id: 'compaction-pending-marks',
        Status: 'Enabled',
        Prefix: DEFAULT_PENDING_PREFIX,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        ExpiredObjectDeleteMarker: true,
      });
    }
  });

  it('has a bucket policy denying every request not made over TLS', () => {
    for (const [, t] of stages()) {
      const p = props(t, 'LakeBucketPolicy');
      expect(p.Bucket).toEqual({ Ref: 'LakeBucket' });
      expect(p.PolicyDocument.Statement).toContainEqual({
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [{ 'Fn::GetAtt': ['LakeBucket', 'Arn'] }, { 'Fn::Sub': `\${LakeBucket.Arn}/*` }],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    }
  });

  it('is retained in prod', () => {
    expect(resource(prod, 'LakeBucket').DeletionPolicy).toBe('Retain');
    expect(resource(dev, 'LakeBucket').DeletionPolicy).toBe('Delete');
  });
});

describe('ProcessorDeadLetterQueue and AlertsTopic', () => {
  it('keeps dead letters 14 days with SQS-managed encryption and TLS only', () => {
    for (const [stage, t] of stages()) {
      const q = props(t, 'ProcessorDeadLetterQueue');
      expect(q.QueueName).toBe(`tickstream-${stage}-processor-dlq`);
      expect(q.SqsManagedSseEnabled).toBe(true);
      expect(q.MessageRetentionPeriod).toBe(SQS_MAX_RETENTION_SECONDS);
      const policy = props(t, 'ProcessorDeadLetterQueuePolicy');
      expect(policy.Queues).toEqual([{ Ref: 'ProcessorDeadLetterQueue' }]);
      expect(policy.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('encrypts the alerts topic with the AWS managed SNS key and enforces TLS for publishers', () => {
    for (const [stage, t] of stages()) {
      const topic = props(t, 'AlertsTopic');
      expect(topic.TopicName).toBe(`tickstream-${stage}-alerts`);
      expect(topic.KmsMasterKeyId).toBe('alias/aws/sns');
      const policy = props(t, 'AlertsTopicPolicy');
      expect(policy.Topics).toEqual([{ Ref: 'AlertsTopic' }]);
      expect(policy.PolicyDocument.Statement).toContainEqual({
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: { Ref: 'AlertsTopic' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    }
  });

  it('signs what every topic delivers with SHA256 (SignatureVersion 2), not the SHA1 SNS uses by default', () => {
    // HTTPS webhooks and chat or incident tools subscribed to the alerts and ops topics check the
    // signature of each message and subscription confirmation. SNS signs with SHA1 unless the topic
    // says '2' (SNS Developer Guide, "Verifying the signatures of Amazon SNS messages": SHA256 is
    // "the recommended option").
    for (const [stage, t] of stages()) {
      const topics = resourcesOfType(t, 'AWS::SNS::Topic');
      expect(topics.map(([id]) => id).sort()).toEqual(['AlertsTopic', 'OpsTopic']);
      for (const [id, r] of topics) {
        expect([stage, id, r.Properties?.SignatureVersion]).toEqual([stage, id, '2']);
      }
    }
  });

  it('subscribes nobody when no alert e-mail is configured', () => {
    for (const [, t] of stages()) expect(resourcesOfType(t, 'AWS::SNS::Subscription')).toEqual([]);
  });
});

describe('Timestream (closed to new AWS customers: off by default)', () => {
  const timestreamIds = ['TimestreamDatabase', 'TimestreamTable', 'ProcessTicksTimestreamPolicy'];

  it('exists only under the TimestreamEnabled condition, which is false by default in every stage', () => {
    for (const [, t] of stages()) {
      for (const id of timestreamIds) expect(resource(t, id).Condition).toBe('TimestreamEnabled');
      expect(evaluateCondition(t, 'TimestreamEnabled')).toBe(false);
      for (const [id, r] of Object.entries(t.Resources)) {
        if (r.Type.startsWith('AWS::Timestream::')) expect(timestreamIds).toContain(id);
      }
      for (const output of ['TimestreamDatabaseName', 'TimestreamTableArn']) {
        expect(t.Outputs?.[output]?.Condition).toBe('TimestreamEnabled');
      }
    }
  });

  it('updates the processor, whose flag turns its Timestream writes on, only once its Timestream policy exists', async () => {
    // Unordered, a deploy turning the flag on could run the function with it before its role had the
    // grants: every write denied, the symbols retried and then dead-lettered. DependsOn takes no
    // condition; a reference under the flag in the function's Metadata orders them.
    const on = await synthesizeTemplate('dev', { params: { timestreamEnabled: 'true' } });
    for (const t of [on, dev, prod]) {
      const fn = resource(t, 'ProcessTicksLambdaFunction');
      expect(props(t, 'ProcessTicksLambdaFunction').Environment.Variables.TIMESTREAM_ENABLED).toBe(
        t === on ? 'true' : 'false',
      );
      expect(fn.Metadata?.TimestreamPolicy).toEqual({
        'Fn::If': ['TimestreamEnabled', { Ref: 'ProcessTicksTimestreamPolicy' }, { Ref: 'AWS::NoValue' }],
      });
    }
    expect(evaluateCondition(on, 'TimestreamEnabled')).toBe(true);
  });

  it('keeps memory and magnetic retention and enables magnetic store writes', () => {
    const p = props(prod, 'TimestreamTable');
    expect(p.DatabaseName).toEqual({ Ref: 'TimestreamDatabase' });
    expect(p.MagneticStoreWriteProperties.EnableMagneticStoreWrites).toBe(true);
    // The registry types these as strings; CloudFormation accepts JSON numbers for them.
    expect(Number(p.RetentionProperties.MemoryStoreRetentionPeriodInHours)).toBe(24);
    expect(Number(p.RetentionProperties.MagneticStoreRetentionPeriodInDays)).toBe(730);
    expect(Number(props(dev, 'TimestreamTable').RetentionProperties.MagneticStoreRetentionPeriodInDays)).toBe(
      365,
    );
  });

  it("sends the magnetic store's asynchronous rejections to the lake, SSE-S3, under a prefix nothing reads as lake data", async () => {
    // AWS (Timestream developer guide, "Handling rejected records"): a magnetic store write whose
    // version is at most the stored one is rejected after WriteRecords answered, and reported only
    // to the table's MagneticStoreRejectedDataLocation; without one it is lost without a trace.
    const on = await synthesizeTemplate('prod', { params: { timestreamEnabled: 'true' } });
    const location = props(on, 'TimestreamTable').MagneticStoreWriteProperties
      .MagneticStoreRejectedDataLocation;
    expect(location).toEqual({
      S3Configuration: {
        BucketName: { Ref: 'LakeBucket' },
        ObjectKeyPrefix: 'timestream-rejected',
        EncryptionOption: 'SSE_S3',
      },
    });
    const prefix = location.S3Configuration.ObjectKeyPrefix as string;
    // CloudFormation, AWS::Timestream::Table S3Configuration: ObjectKeyPrefix 1..928 characters of
    // this pattern; EncryptionOption SSE_S3 | SSE_KMS (SSE-S3 as the bucket's own default: no key).
    expect(prefix).toMatch(/^[a-zA-Z0-9|!\-_*'()]([a-zA-Z0-9]|[!\-_*'()/.])+$/);
    expect(prefix.length).toBeLessThanOrEqual(928);
    expect(props(on, 'LakeBucket').BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    // No Glue table, no Athena output and no function grant reaches a report's key (the bucket
    // policy only denies).
    const lakePrefixes: string[] = [];
    const walk = (node: unknown): void => {
      if (typeof node === 'string') {
        const m = /^(?:s3:\/\/\$\{LakeBucket\}|\$\{LakeBucket\.Arn\})\/(.*)$/.exec(node);
        if (m) lakePrefixes.push(m[1]!.replace(/(\*|dt=\$\{!dt\}\/)$/, ''));
      } else if (node && typeof node === 'object') for (const v of Object.values(node)) walk(v);
    };
    for (const r of Object.values(on.Resources)) if (r.Type !== 'AWS::S3::BucketPolicy') walk(r);
    expect(new Set(lakePrefixes)).toEqual(
      new Set(['raw/', 'compacted/', 'compaction-pending/', 'athena-results/']),
    );
    for (const used of lakePrefixes) {
      expect(prefix.startsWith(used) || used.startsWith(prefix), `lake location ${used}`).toBe(false);
    }
    for (const rule of props(on, 'LakeBucket').LifecycleConfiguration.Rules as { Prefix?: string }[]) {
      if (rule.Prefix) expect(prefix.startsWith(rule.Prefix) || rule.Prefix.startsWith(prefix)).toBe(false);
    }
  });

  it('turns on with the flag', async () => {
    const on = await synthesizeTemplate('dev', { params: { timestreamEnabled: 'true' } });
    expect(evaluateCondition(on, 'TimestreamEnabled')).toBe(true);
    expect(props(on, 'ProcessTicksLambdaFunction').Environment.Variables.TIMESTREAM_ENABLED).toBe('true');
  });
});

describe('Outputs', () => {
  it.each([
    ['TicksStreamName', { Ref: 'TicksStream' }],
    ['TicksStreamArn', { 'Fn::GetAtt': ['TicksStream', 'Arn'] }],
    ['MarketTableName', { Ref: 'MarketTable' }],
    ['MarketTableArn', { 'Fn::GetAtt': ['MarketTable', 'Arn'] }],
    ['LakeBucketName', { Ref: 'LakeBucket' }],
    ['LakeBucketArn', { 'Fn::GetAtt': ['LakeBucket', 'Arn'] }],
    ['ProcessorDeadLetterQueueUrl', { Ref: 'ProcessorDeadLetterQueue' }],
    ['ProcessorDeadLetterQueueArn', { 'Fn::GetAtt': ['ProcessorDeadLetterQueue', 'Arn'] }],
    ['AlertsTopicArn', { Ref: 'AlertsTopic' }],
    ['GlueDatabaseName', { Ref: 'GlueDatabase' }],
    ['RawEventsTableName', { Ref: 'RawEventsTable' }],
    ['CompactedEventsTableName', { Ref: 'CompactedEventsTable' }],
    ['EventsViewName', { Ref: 'EventsView' }],
    ['AthenaWorkGroupName', { Ref: 'AthenaWorkGroup' }],
  ])('exports %s per stage', (name, value) => {
    for (const [stage, t] of stages()) {
      expect(t.Outputs?.[name]?.Value).toEqual(value);
      expect(t.Outputs?.[name]?.Export?.Name).toBe(`tickstream-${stage}-${name}`);
    }
  });
});

describe('analytics: Glue table over the raw zone and the Athena workgroup', () => {
  it('projects dt=YYYY-MM-DD partitions over raw/ (Athena partition projection settings)', () => {
    for (const [stage, t] of stages()) {
      expect(props(t, 'GlueDatabase').DatabaseInput.Name).toBe(`tickstream_${stage}`);
      const input = props(t, 'RawEventsTable').TableInput;
      expect(props(t, 'RawEventsTable').DatabaseName).toEqual({ Ref: 'GlueDatabase' });
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(input.PartitionKeys).toEqual([{ Name: 'dt', Type: 'string' }]);
      expect(input.Parameters).toMatchObject({
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
        'projection.dt.interval.unit': 'DAYS',
      });
      expect(input.Parameters['projection.dt.range']).toMatch(/^\d{4}-\d{2}-\d{2},NOW$/);
      // `${!dt}` is Fn::Sub's escape: CloudFormation writes a literal ${dt} for Athena to fill in.
      expect(input.Parameters['storage.location.template']).toEqual({
        'Fn::Sub': `s3://\${LakeBucket}/raw/dt=\${!dt}/`,
      });
      expect(input.StorageDescriptor.Location).toEqual({ 'Fn::Sub': `s3://\${LakeBucket}/raw/` });
      expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.openx.data.jsonserde.JsonSerDe',
      );
      const columns = (input.StorageDescriptor.Columns as { Name: string; Type: string }[]).map((c) => [
        c.Name,
        c.Type,
      ]);
      // The fields the lake writer puts on each NDJSON line, lower-cased as Glue stores them, with
      // the types the local SQL view (npm run query) gives them too.
      expect(columns).toEqual([
        ['symbol', 'string'],
        ['time', 'bigint'],
        ['kind', 'string'],
        ['shardid', 'string'],
        ['sequencenumber', 'string'],
        ['arrivaltime', 'bigint'],
        ['event', glueEventType()],
      ]);
      expect(columns.slice(0, -1)).toEqual(LAKE_LINE_FIELDS.map(([n, t]) => [n.toLowerCase(), t]));
    }
  });

  it("defines the view `events` as Athena stores a view: the shared deduplicating SQL over the table, with the table's columns and dt", () => {
    // Hive types (the Glue table's) as Presto/Trino name them in a view's stored columns.
    const PRESTO: Record<string, string> = { string: 'varchar', bigint: 'bigint', double: 'double' };
    const presto = (hive: string): string => {
      const struct = /^struct<(.*)>$/.exec(hive);
      if (!struct) return PRESTO[hive] ?? `unmapped ${hive}`;
      const fields = struct[1]!.split(',').map((f) => f.split(':') as [string, string]);
      return `row(${fields.map(([name, type]) => `${name} ${presto(type)}`).join(', ')})`;
    };
    for (const [stage, t] of stages()) {
      const view = props(t, 'EventsView');
      expect(view.DatabaseName).toEqual({ Ref: 'GlueDatabase' });
      expect(resource(t, 'EventsView').DependsOn).toEqual(['RawEventsTable']);
      const input = view.TableInput;
      expect(input.Name).toBe(EVENTS_VIEW);
      expect(props(t, 'RawEventsTable').TableInput.Name).toBe(RAW_EVENTS_TABLE);
      expect(input.TableType).toBe('VIRTUAL_VIEW');
      expect(input.Parameters).toEqual({ presto_view: 'true', comment: 'Presto View' });
      expect(input.ViewExpandedText).toBe('/* Presto View */');
      // '/* Presto View: ' + base64(JSON) + ' */', the base64 left to CloudFormation's Fn::Base64.
      const [separator, [open, encoded, close]] = input.ViewOriginalText['Fn::Join'];
      expect([separator, open, close]).toEqual(['', '/* Presto View: ', ' */']);
      const presto_view = JSON.parse(encoded['Fn::Base64']);
      expect(presto_view.catalog).toBe('awsdatacatalog');
      expect(presto_view.schema).toBe(`tickstream_${stage}`); // where `raw_events` resolves
      expect(presto_view.originalSql).toBe(eventsViewSql());
      // The view's columns are the table's and its partition key, by name and type.
      const table = props(t, 'RawEventsTable').TableInput;
      const tableColumns = [...table.StorageDescriptor.Columns, ...table.PartitionKeys].map(
        (c: { Name: string; Type: string }): [string, string] => [c.Name, c.Type],
      );
      expect(
        input.StorageDescriptor.Columns.map((c: { Name: string; Type: string }) => [c.Name, c.Type]),
      ).toEqual(tableColumns);
      expect(presto_view.columns).toEqual(tableColumns.map(([name, type]) => ({ name, type: presto(type) })));
      expect(presto_view.columns.find((c: { name: string }) => c.name === 'event').type).toMatch(
        /^row\(symbol varchar, time bigint, price double, .*, source varchar\)$/,
      );
    }
  });

  it("reads the compacted zone as Parquet with the raw table's columns, partitions projected over compacted/", () => {
    for (const [, t] of stages()) {
      const raw = props(t, 'RawEventsTable').TableInput;
      const input = props(t, 'CompactedEventsTable').TableInput;
      expect(props(t, 'CompactedEventsTable').DatabaseName).toEqual({ Ref: 'GlueDatabase' });
      expect(input.Name).toBe('compacted_events');
      expect(input.PartitionKeys).toEqual(raw.PartitionKeys);
      const { 'storage.location.template': location, classification, ...projection } = input.Parameters;
      const {
        'storage.location.template': _,
        classification: __,
        compressionType: ___,
        ...rawProjection
      } = raw.Parameters;
      expect(projection).toEqual(rawProjection);
      expect(classification).toBe('parquet');
      expect(location).toEqual({ 'Fn::Sub': `s3://\${LakeBucket}/compacted/dt=\${!dt}/` });
      expect(input.StorageDescriptor.Location).toEqual({ 'Fn::Sub': `s3://\${LakeBucket}/compacted/` });
      expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      );
      expect(input.StorageDescriptor.InputFormat).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      );
      expect(input.StorageDescriptor.Columns).toEqual(raw.StorageDescriptor.Columns);
    }
  });

  it("types every field of a tick and of a bar in the table's event struct", () => {
    const fields = LAKE_EVENT_FIELDS.map(([n]) => n);
    expect(new Set(fields).size).toBe(fields.length);
    expect(new Set(fields)).toEqual(
      new Set([...Object.keys(TickSchema.shape), ...Object.keys(BarSchema.shape)]),
    );
    expect(glueEventType()).toMatch(
      /^struct<symbol:string,time:bigint,price:double,dayopen:double,.*,source:string>$/,
    );
  });

  it('encrypts and enforces Athena results inside the lake, where the lifecycle expires them', () => {
    for (const [, t] of stages()) {
      const config = props(t, 'AthenaWorkGroup').WorkGroupConfiguration;
      expect(config.EnforceWorkGroupConfiguration).toBe(true);
      expect(config.ResultConfiguration).toEqual({
        OutputLocation: { 'Fn::Sub': `s3://\${LakeBucket}/athena-results/` },
        EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
      });
      expect(config.BytesScannedCutoffPerQuery).toBeGreaterThanOrEqual(10_000_000); // Athena's minimum
      const rules = props(t, 'LakeBucket').LifecycleConfiguration.Rules as {
        Prefix?: string;
        ExpirationInDays?: number;
      }[];
      expect(rules).toContainEqual(
        expect.objectContaining({ Prefix: 'athena-results/', ExpirationInDays: 7 }),
      );
      // Versioned bucket: the expired results' delete markers are removed once alone.
      expect(rules).toContainEqual(
        expect.objectContaining({ Prefix: 'athena-results/', ExpiredObjectDeleteMarker: true }),
      );
    }
  });
});

describe('ServerlessDeploymentBucket (the code artifacts)', () => {
  it('is encrypted, private and TLS-only', () => {
    for (const [, t] of stages()) {
      const p = props(t, 'ServerlessDeploymentBucket');
      expect(
        p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
      ).toBe('AES256');
      expect(p.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const statements = props(t, 'ServerlessDeploymentBucketPolicy').PolicyDocument.Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': false } } }),
      );
    }
  });
});
