import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.ts';
import { type AwsClientConfig, type AwsService, LOCAL_CREDENTIALS } from '../../src/config/aws.ts';
import { synthesizeTemplate } from '../template/synthesize.ts';
import { startEmulators } from './emulators.ts';
import {
  countBucketObjects,
  countStreamRecords,
  countTableItems,
  type LocalBucket,
  type LocalQueue,
  type LocalStream,
  type LocalTable,
  provisionAll,
} from './provision.ts';
import { type LocalSns, startLocalSns } from './sns.ts';
import type { HeldMessage } from './sqs.ts';
import {
  acquireLock,
  EPHEMERAL_PREFIX,
  META_FILE,
  readStateMeta,
  type StateMeta,
  sweepStaleEphemeralDirs,
} from './state-dir.ts';
import {
  type CloudFormationTemplate,
  functionEnvironment,
  LOCAL_ACCOUNT_ID,
  planLocalResources,
  type SkippedResource,
  type TemplateContext,
} from './template.ts';

/** The local cloud: in-process emulators with the synthesized template's resources in them. */

export interface StartLocalCloudOptions {
  /** Persistent state directory (`npm start` uses `.local/`); undefined = ephemeral temp dir, deleted on stop. */
  readonly stateDir?: string;
  /** Stage whose template is synthesized when `template` is not given (default `dev`). */
  readonly stage?: string;
  /** The CloudFormation template to provision; default: `synthesizeTemplate(stage)`. */
  readonly template?: CloudFormationTemplate;
  /**
   * Where an ephemeral cloud keeps its streams and tables: in memory (the default, the fastest, for
   * tests and benchmarks), or in LevelDB files in its temp directory, deleted with it, as a kept
   * state is. In memory they grow with every record and item stored: several KB each, gigabytes in
   * minutes for an endless feed (`npm start -- --synthetic`, which keeps them on disk).
   */
  readonly ephemeralStore?: 'memory' | 'disk';
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Region for ARNs and clients (default AWS_REGION or us-east-1). */
  readonly region?: string;
  /** Count what earlier runs left (records, items, objects, messages) for `state.counts` (default true). */
  readonly countState?: boolean;
  /**
   * Aborts the boot (Ctrl-C): what was started is stopped, an ephemeral directory removed, and the
   * call rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

export interface LocalResources {
  readonly streams: Record<string, LocalStream>;
  readonly tables: Record<string, LocalTable>;
  readonly buckets: Record<string, LocalBucket>;
  readonly queues: Record<string, LocalQueue>;
  /** Template resources not created locally, with the reason (false condition, SNS, unresolvable). */
  readonly skipped: SkippedResource[];
  /** Resource types with no local counterpart (IAM, Lambda, alarms…) and how many of each. */
  readonly notEmulated: Record<string, number>;
}

export interface StateCount {
  readonly count: number;
  /** False when counting stopped at its deadline (the count is a lower bound). */
  readonly complete: boolean;
}

export interface LocalState {
  /** The state directory in use (a temp dir when ephemeral). */
  readonly dir: string;
  readonly persistent: boolean;
  /** True when the directory held state from an earlier run. */
  readonly foundEarlierState: boolean;
  /** How the earlier run ended: 'clean', 'unclean' (crash or kill: LevelDB recovers its log, SQS restores its last snapshot), or 'none'. */
  readonly previousRun: 'clean' | 'unclean' | 'none';
  /** What the resources held at start, by logical id (records, items, objects, messages). */
  readonly counts: {
    readonly streams: Record<string, StateCount>;
    readonly tables: Record<string, StateCount>;
    readonly buckets: Record<string, StateCount>;
    readonly queues: Record<string, StateCount>;
  };
}

export interface LocalCloud {
  readonly stage: string;
  readonly region: string;
  readonly endpoints: Partial<Record<AwsService, string>>;
  /** TICKSTREAM_ENDPOINT_*, AWS_REGION and the resource names the functions read. */
  readonly env: Record<string, string>;
  readonly resources: LocalResources;
  readonly state: LocalState;
  /** Clients from the project's factory, pointed at the emulators. */
  readonly clients: AwsClients;
  /** The local SNS (fauxqs): the template's topics, and an inbox queue per subscription. */
  readonly sns: LocalSns;
  /** Client configuration for `createAwsClients` (e.g. for another set of clients). */
  readonly clientConfig: AwsClientConfig;
  readonly template: CloudFormationTemplate;
  /** True when s3rver's continuation tokens run through the 3DES shim (no --openssl-legacy-provider). */
  readonly desShim: boolean;
  /** Milliseconds from the call to ready. */
  readonly bootMs: number;
  /** A Lambda function's environment from the template, resolved against the local resources, plus `env`. */
  functionEnv(functionLogicalId: string): Record<string, string>;
  /**
   * The messages the queue at `queueUrl` holds, read from the local SQS without receiving them
   * (none hidden, no receive counted: what `npm run dead-letters` will find is left as it was).
   */
  queueMessages(queueUrl: string): HeldMessage[];
  /** Stops the emulators, writes the SQS snapshot, releases the lock (idempotent). */
  stop(): Promise<void>;
}

/** Env var → logical id of the resource whose name (or queue URL) it carries. */
export const RESOURCE_ENV: Record<
  string,
  { logicalId: string; kind: 'streams' | 'tables' | 'buckets' | 'queues' }
> = {
  TICKS_STREAM_NAME: { logicalId: 'TicksStream', kind: 'streams' },
  MARKET_TABLE_NAME: { logicalId: 'MarketTable', kind: 'tables' },
  LAKE_BUCKET_NAME: { logicalId: 'LakeBucket', kind: 'buckets' },
  DEAD_LETTER_QUEUE_URL: { logicalId: 'ProcessorDeadLetterQueue', kind: 'queues' },
};

const ENV_NAMES: Record<AwsService, string> = {
  kinesis: 'TICKSTREAM_ENDPOINT_KINESIS',
  dynamodb: 'TICKSTREAM_ENDPOINT_DYNAMODB',
  s3: 'TICKSTREAM_ENDPOINT_S3',
  sqs: 'TICKSTREAM_ENDPOINT_SQS',
  sns: 'TICKSTREAM_ENDPOINT_SNS',
  timestream: 'TICKSTREAM_ENDPOINT_TIMESTREAM',
};

/** The service name the template's stack would have: `tickstream-<stage>`. */
export function stackNameFor(stage: string): string {
  return `tickstream-${stage}`;
}

export async function startLocalCloud(options: StartLocalCloudOptions = {}): Promise<LocalCloud> {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  const stage = options.stage ?? 'dev';
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const persistent = options.stateDir !== undefined;
  if (!persistent) {
    const swept = sweepStaleEphemeralDirs(tmpdir());
    if (swept.length > 0)
      log(
        `removed ${swept.length} ephemeral state director${swept.length === 1 ? 'y' : 'ies'} of local clouds that did not stop: ${swept.join(', ')}`,
      );
  }
  const dir = persistent ? resolve(options.stateDir!) : mkdtempSync(join(tmpdir(), EPHEMERAL_PREFIX));
  mkdirSync(dir, { recursive: true });

  const release = acquireLock(dir);
  const previous = readStateMeta(dir);
  const previousRun: LocalState['previousRun'] = previous
    ? previous.stoppedAt
      ? 'clean'
      : 'unclean'
    : 'none';
  if (previousRun === 'unclean')
    log(
      `note: the previous local cloud in ${dir} did not stop cleanly (pid ${previous?.pid}); recovering its state`,
    );
  if (previous && previous.stage !== stage)
    log(`warning: ${dir} holds state of stage ${previous.stage}, starting stage ${stage} on it`);
  // The table, stream and queues keep their names in any region, but the lake bucket's name carries
  // it: the run's lake objects go to a bucket of their own, beside the earlier region's.
  if (previous?.region && previous.region !== region)
    log(
      `warning: ${dir} holds state of region ${previous.region}, starting region ${region} on it: ` +
        "the lake is a bucket of its own, beside the other region's (npm run query reads AWS_REGION's, or the last start's)",
    );

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`warning: ${(e as Error).message}`);
      }
    }
    cleanups.length = 0;
  };
  cleanups.push(() => release());
  if (!persistent) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const signal = options.signal;
  try {
    signal?.throwIfAborted();
    const template = options.template ?? (await synthesizeTemplate(stage, signal ? { signal } : {}));
    signal?.throwIfAborted();
    const baseCtx: TemplateContext = {
      region,
      accountId: LOCAL_ACCOUNT_ID,
      stackName: stackNameFor(stage),
      partition: 'aws',
    };
    // A first plan sizes kinesalite's shard limit (queue URLs need the SQS port: planned again below).
    const shardLimit = planLocalResources(template, baseCtx).streams.reduce((n, s) => n + s.shardCount, 0);
    const emulators = await startEmulators({
      ...(persistent || options.ephemeralStore === 'disk' ? { stateDir: dir } : {}),
      s3Directory: join(dir, 's3'),
      region,
      accountId: LOCAL_ACCOUNT_ID,
      shardLimit,
    });
    const meta: StateMeta = { stage, region, startedAt: new Date().toISOString(), pid: process.pid };
    /** Tells the next start this one's emulators closed completely: a clean stop. */
    const recordCleanStop = () => {
      if (persistent)
        writeFileAtomic.sync(
          join(dir, META_FILE),
          JSON.stringify({ ...meta, stoppedAt: new Date().toISOString() }),
        );
    };
    cleanups.push(async () => {
      // A boot stopped part-way (Ctrl-C, a failure) closes its emulators: a clean stop too.
      await emulators.close();
      recordCleanStop();
    });
    signal?.throwIfAborted();
    if (persistent) writeFileAtomic.sync(join(dir, META_FILE), JSON.stringify(meta));

    const sns = await startLocalSns({
      template,
      ...(persistent ? { stateDir: dir } : {}),
      log,
      region,
      stackName: stackNameFor(stage),
    });
    cleanups.push(() => sns.stop());
    signal?.throwIfAborted();
    const endpoints: Partial<Record<AwsService, string>> = {
      kinesis: emulators.kinesis.endpoint,
      dynamodb: emulators.dynamodb.endpoint,
      s3: emulators.s3.endpoint,
      sqs: emulators.sqs.endpoint,
      sns: sns.endpoint,
    };
    const clientConfig: AwsClientConfig = { region, endpoints, credentials: LOCAL_CREDENTIALS };
    const clients = createAwsClients(clientConfig);
    cleanups.push(() => clients.destroy());

    const ctx: TemplateContext = {
      ...baseCtx,
      sqsEndpoint: emulators.sqs.endpoint,
    };
    const plan = planLocalResources(template, ctx);
    const created = await provisionAll(clients, plan, log);
    signal?.throwIfAborted();
    const byId = <T extends { logicalId: string }>(list: T[]) =>
      Object.fromEntries(list.map((x) => [x.logicalId, x])) as Record<string, T>;
    const resources: LocalResources = {
      streams: byId(created.streams),
      tables: byId(created.tables),
      buckets: byId(created.buckets),
      queues: byId(created.queues),
      skipped: plan.skipped,
      notEmulated: plan.notEmulated,
    };

    const env: Record<string, string> = { AWS_REGION: region };
    for (const [service, url] of Object.entries(endpoints)) env[ENV_NAMES[service as AwsService]] = url;
    for (const [name, { logicalId, kind }] of Object.entries(RESOURCE_ENV)) {
      const r = resources[kind][logicalId] as { name: string; url?: string } | undefined;
      if (r) env[name] = kind === 'queues' ? r.url! : r.name;
    }
    if (sns.topics.AlertsTopic) env.ALERTS_TOPIC_ARN = sns.topics.AlertsTopic;

    const existedAny = [...created.streams, ...created.tables, ...created.buckets, ...created.queues].some(
      (r) => r.existed,
    );
    const counts: { -readonly [K in keyof LocalState['counts']]: Record<string, StateCount> } = {
      streams: {},
      tables: {},
      buckets: {},
      queues: {},
    };
    if (options.countState !== false && existedAny) {
      const deadline = Date.now() + 1500;
      await Promise.all([
        ...created.streams.map(async (s) => {
          counts.streams[s.logicalId] = await countStreamRecords(clients, s, { deadline });
        }),
        ...created.tables.map(async (t) => {
          counts.tables[t.logicalId] = await countTableItems(clients, t, { deadline });
        }),
        ...created.buckets.map(async (b) => {
          counts.buckets[b.logicalId] = await countBucketObjects(clients, b, { deadline });
        }),
      ]);
      const held = emulators.sqs.local.messageCounts();
      for (const q of created.queues)
        counts.queues[q.logicalId] = { count: held[q.name] ?? 0, complete: true };
    }
    const state: LocalState = {
      dir,
      persistent,
      foundEarlierState: existedAny,
      previousRun,
      counts,
    };

    let stopping: Promise<void> | undefined;
    const cloud: LocalCloud = {
      stage,
      region,
      endpoints,
      env,
      resources,
      state,
      clients,
      sns,
      clientConfig,
      template,
      desShim: emulators.desShim,
      bootMs: Math.round(performance.now() - t0),
      functionEnv(functionLogicalId) {
        return {
          ...functionEnvironment(template, ctx, functionLogicalId),
          ...env,
          // No X-Ray here (the Powertools tracer turns itself off outside Lambda), yet the X-Ray
          // SDK's default automatic mode installs async hooks at import that tax every promise of
          // the process (about 10 % of its CPU in the processor bench). Manual mode installs none.
          AWS_XRAY_MANUAL_MODE: process.env.AWS_XRAY_MANUAL_MODE ?? 'true',
        };
      },
      queueMessages(queueUrl) {
        const queue = Object.values(resources.queues).find((q) => q.url === queueUrl);
        if (!queue) throw new Error(`the local cloud has no queue ${queueUrl}`);
        return emulators.sqs.local.messages(queue.name);
      },
      stop() {
        stopping ??= (async () => {
          clients.destroy();
          try {
            await sns.stop();
            await emulators.close();
            // Only a complete close counts as a clean stop for the next run.
            recordCleanStop();
          } finally {
            release();
            if (!persistent) rmSync(dir, { recursive: true, force: true });
          }
        })();
        return stopping;
      },
    };
    return cloud;
  } catch (e) {
    await cleanup();
    throw e;
  }
}
