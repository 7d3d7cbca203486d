import {
  CreateTableCommand,
  DescribeTableCommand,
  type GlobalSecondaryIndex,
  type LocalSecondaryIndex,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/adapters/aws/clients.ts';
import type { BucketPlan, LocalPlan, QueuePlan, StreamPlan, TablePlan } from './template.ts';

/**
 * Creates the plan's resources in the emulators through the project's AWS clients, idempotently:
 * what already exists (state from an earlier run) is kept and checked against the template.
 */

export interface LocalStream {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly mode: 'PROVISIONED' | 'ON_DEMAND';
  readonly shardIds: string[];
  readonly retentionHours: number;
  /** True when the stream was there already (state from an earlier run). */
  readonly existed: boolean;
}

export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly keySchema: TablePlan['keySchema'];
  readonly indexes: string[];
  readonly ttlAttribute?: string;
  readonly existed: boolean;
}

export interface LocalBucket {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly existed: boolean;
}

export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly attributes: Record<string, string>;
  readonly existed: boolean;
}

function errorName(e: unknown): string {
  return (e as { name?: string }).name ?? '';
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export async function provisionStream(
  clients: AwsClients,
  plan: StreamPlan,
  log: (line: string) => void,
): Promise<LocalStream> {
  const k = clients.kinesis;
  const describe = async () => {
    try {
      return (await k.send(new DescribeStreamSummaryCommand({ StreamName: plan.name })))
        .StreamDescriptionSummary;
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
  let summary = await describe();
  const existed = summary !== undefined;
  if (!summary) {
    await k.send(new CreateStreamCommand({ StreamName: plan.name, ShardCount: plan.shardCount }));
  }
  summary = await until(`stream ${plan.name} to become ACTIVE`, async () => {
    const s = await describe();
    return s?.StreamStatus === 'ACTIVE' ? s : undefined;
  });
  if (existed && summary.OpenShardCount !== plan.shardCount)
    log(
      `warning: stream ${plan.name} has ${summary.OpenShardCount} open shards from an earlier run, the template asks ` +
        `for ${plan.shardCount}; run \`npm run local:reset\` to recreate it`,
    );
  let retentionHours = summary.RetentionPeriodHours ?? 24;
  if (plan.retentionHours !== undefined && plan.retentionHours > retentionHours) {
    await k.send(
      new IncreaseStreamRetentionPeriodCommand({
        StreamName: plan.name,
        RetentionPeriodHours: plan.retentionHours,
      }),
    );
    retentionHours = plan.retentionHours;
    await until(`stream ${plan.name} to become ACTIVE after the retention change`, async () =>
      (await describe())?.StreamStatus === 'ACTIVE' ? true : undefined,
    );
  }
  const shardIds: string[] = [];
  let token: string | undefined;
  do {
    const page = await k.send(
      new ListShardsCommand(token ? { NextToken: token } : { StreamName: plan.name }),
    );
    for (const s of page.Shards ?? []) if (s.ShardId) shardIds.push(s.ShardId);
    token = page.NextToken;
  } while (token);
  return {
    logicalId: plan.logicalId,
    name: plan.name,
    arn: summary.StreamARN ?? plan.arn,
    mode: plan.mode,
    shardIds,
    retentionHours,
    existed,
  };
}

export async function provisionTable(clients: AwsClients, plan: TablePlan): Promise<LocalTable> {
  const d = clients.dynamodb;
  const describe = async () => {
    try {
      return (await d.send(new DescribeTableCommand({ TableName: plan.name }))).Table;
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
  let table = await describe();
  const existed = table !== undefined;
  if (!table) {
    const gsis: GlobalSecondaryIndex[] = plan.globalSecondaryIndexes.map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    }));
    const lsis: LocalSecondaryIndex[] = plan.localSecondaryIndexes.map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    }));
    try {
      await d.send(
        new CreateTableCommand({
          TableName: plan.name,
          KeySchema: plan.keySchema,
          AttributeDefinitions: plan.attributeDefinitions,
          // Always on demand locally, also for a PROVISIONED template table: dynalite does not
          // meter capacity, and its auto scaling is skipped (SKIPPED_LOCALLY).
          BillingMode: 'PAY_PER_REQUEST',
          ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
          ...(lsis.length ? { LocalSecondaryIndexes: lsis } : {}),
        }),
      );
    } catch (e) {
      if (errorName(e) !== 'ResourceInUseException') throw e;
    }
  }
  table = await until(`table ${plan.name} to become ACTIVE`, async () => {
    const t = await describe();
    return t?.TableStatus === 'ACTIVE' ? t : undefined;
  });
  const key = (ks: readonly { AttributeName?: string; KeyType?: string }[] | undefined) =>
    JSON.stringify((ks ?? []).map((k) => [k.AttributeName, k.KeyType]));
  if (key(table.KeySchema) !== key(plan.keySchema))
    throw new Error(
      `table ${plan.name} exists from an earlier run with key schema ${key(table.KeySchema)}, but the template ` +
        `defines ${key(plan.keySchema)}; run \`npm run local:reset\` to recreate the local state`,
    );
  return {
    logicalId: plan.logicalId,
    name: plan.name,
    arn: table.TableArn ?? plan.arn,
    keySchema: plan.keySchema,
    indexes: [...(table.GlobalSecondaryIndexes ?? []), ...(table.LocalSecondaryIndexes ?? [])].map(
      (i) => i.IndexName ?? '',
    ),
    ...(plan.ttlAttribute ? { ttlAttribute: plan.ttlAttribute } : {}),
    existed,
  };
}

export async function provisionBucket(clients: AwsClients, plan: BucketPlan): Promise<LocalBucket> {
  let existed = true;
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: plan.name }));
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404 && errorName(e) !== 'NotFound') throw e;
    existed = false;
    try {
      await clients.s3.send(new CreateBucketCommand({ Bucket: plan.name }));
    } catch (err) {
      if (errorName(err) !== 'BucketAlreadyOwnedByYou') throw err;
    }
  }
  return { logicalId: plan.logicalId, name: plan.name, arn: plan.arn, existed };
}

export async function provisionQueue(clients: AwsClients, plan: QueuePlan): Promise<LocalQueue> {
  const sqs = clients.sqs;
  let url: string | undefined;
  try {
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: plan.name }))).QueueUrl;
  } catch (e) {
    if (!/NonExistentQueue|QueueDoesNotExist/.test(errorName(e))) throw e;
  }
  const existed = url !== undefined;
  if (url) {
    // Bring an existing queue's attributes in line with the template (FifoQueue cannot change).
    const { FifoQueue: _fifo, ...settable } = plan.attributes;
    if (Object.keys(settable).length)
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: settable }));
  } else {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: plan.name, Attributes: plan.attributes })))
      .QueueUrl;
  }
  if (!url) throw new Error(`queue ${plan.name}: the emulator returned no URL`);
  return {
    logicalId: plan.logicalId,
    name: plan.name,
    arn: plan.arn,
    url,
    attributes: plan.attributes,
    existed,
  };
}

/**
 * Types a template may declare that the local cloud deliberately does not create, with the reason
 * logged once per run (they also stay counted in the plan's `notEmulated`).
 */
export const SKIPPED_LOCALLY: Readonly<Record<string, string>> = {
  'AWS::ApplicationAutoScaling::ScalableTarget':
    'no Application Auto Scaling emulator; the local table is on demand and dynalite never throttles',
  'AWS::ApplicationAutoScaling::ScalingPolicy':
    'no Application Auto Scaling emulator; the local table is on demand and dynalite never throttles',
  'AWS::CloudWatch::Alarm':
    "no CloudWatch emulator; the functions' metrics are EMF lines in the state directory's logs/functions.log",
  'AWS::CloudWatch::Dashboard': 'no CloudWatch emulator',
  'AWS::KMS::Key': 'no KMS emulator; the local SNS does not encrypt, so the ops topic needs no key',
  'AWS::KMS::Alias': 'no KMS emulator',
};

/** Creates everything in the plan; streams, tables, buckets in parallel, queues dead-letter first. */
export async function provisionAll(clients: AwsClients, plan: LocalPlan, log: (line: string) => void) {
  for (const [type, reason] of Object.entries(SKIPPED_LOCALLY)) {
    const count = plan.notEmulated[type];
    if (count) log(`skipped ${count} ${type}: ${reason}`);
  }
  const [streams, tables, buckets] = await Promise.all([
    Promise.all(plan.streams.map((s) => provisionStream(clients, s, log))),
    Promise.all(plan.tables.map((t) => provisionTable(clients, t))),
    Promise.all(plan.buckets.map((b) => provisionBucket(clients, b))),
  ]);
  const queues: LocalQueue[] = [];
  for (const q of plan.queues) queues.push(await provisionQueue(clients, q));
  return { streams, tables, buckets, queues };
}

/** Counts what a stream holds (all shards from TRIM_HORIZON), up to a cap and a deadline. */
export async function countStreamRecords(
  clients: AwsClients,
  stream: LocalStream,
  opts: { cap?: number; deadline?: number } = {},
): Promise<{ count: number; complete: boolean }> {
  const cap = opts.cap ?? 1_000_000;
  const deadline = opts.deadline ?? Date.now() + 2000;
  let count = 0;
  for (const ShardId of stream.shardIds) {
    let it = (
      await clients.kinesis.send(
        new GetShardIteratorCommand({ StreamName: stream.name, ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    while (it) {
      const page = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      const n = page.Records?.length ?? 0;
      count += n;
      // The tip is an empty page: kinesalite answers MillisBehindLatest 0 to every read, a full
      // page of 10,000 records included, so a 0 with records does not mean the shard is read.
      // Checked before the deadline: a shard read to its tip is counted whenever that was.
      if (n === 0 && !((page.MillisBehindLatest ?? 0) > 0)) break;
      if (count >= cap || Date.now() > deadline) return { count, complete: false };
      it = page.NextShardIterator;
    }
  }
  return { count, complete: true };
}

export async function countTableItems(
  clients: AwsClients,
  table: LocalTable,
  opts: { deadline?: number } = {},
): Promise<{ count: number; complete: boolean }> {
  const deadline = opts.deadline ?? Date.now() + 2000;
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({
        TableName: table.name,
        Select: 'COUNT',
        // biome-ignore lint/suspicious/noExplicitAny: the key is passed back verbatim
        ...(start ? { ExclusiveStartKey: start as any } : {}),
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
    if (start && Date.now() > deadline) return { count, complete: false };
  } while (start);
  return { count, complete: true };
}

export async function countBucketObjects(
  clients: AwsClients,
  bucket: LocalBucket,
  opts: { deadline?: number; prefix?: string } = {},
): Promise<{ count: number; complete: boolean }> {
  const deadline = opts.deadline ?? Date.now() + 2000;
  let count = 0;
  let token: string | undefined;
  do {
    const page = await clients.s3.send(
      new ListObjectsV2Command({
        Bucket: bucket.name,
        ...(opts.prefix ? { Prefix: opts.prefix } : {}),
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    count += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (token && Date.now() > deadline) return { count, complete: false };
  } while (token);
  return { count, complete: true };
}
