/**
 * Runs the template's stream-triggered functions locally: for every Kinesis event source mapping of
 * the synthesized template, the function's real handler module is loaded with its environment from
 * the template (resolved against the local cloud) and driven by a local event source mapping with
 * the settings the template gives the mapping: BatchSize, MaximumBatchingWindowInSeconds,
 * StartingPosition, ParallelizationFactor (1..10, default 1), BisectBatchOnFunctionError, MaximumRetryAttempts, MaximumRecordAgeInSeconds,
 * FunctionResponseTypes (ReportBatchItemFailures) and the on-failure destination; and the function's
 * Timeout: an invocation running longer fails, as on Lambda (the context's remaining time counts
 * down from it too). A value Lambda would refuse (a BatchSize, window, factor, retry count or record
 * age out of its range) is refused here. A mapping with Enabled false is not run; one with a setting it does not
 * implement (an AT_TIMESTAMP start, FilterCriteria, a tumbling window) is refused at start-up.
 *
 * Each concurrent invocation (one per shard, and with a ParallelizationFactor above 1 one per lane of
 * a shard) runs in an execution environment of its own, as on Lambda: a separate instance of the
 * handler's module (`HandlerEnvironments`), with its own configuration, Powertools logger, metrics
 * buffer and tracer, AWS clients and engine cache; an idle environment is reused warm by the next
 * invocation, and a new one is created (a cold start, logged) only when every one is busy. The first
 * environment of each function is created at start-up, so a handler that fails to load fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import writeFileAtomic from 'write-file-atomic';
import type { LocalCloud } from '../local/local-cloud.ts';
import type { CloudFormationTemplate } from '../local/template.ts';
import {
  type BatchOutcome,
  type CheckpointStore,
  type EventSourceMappingSettings,
  KinesisEventSourcePoller,
} from './event-source-mapping.ts';
import { HandlerEnvironments } from './handler-environments.ts';

export interface MappingPlan {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  /** `functions/process-ticks.handler` → the module path and its export. */
  readonly handlerModule: string;
  readonly handlerExport: string;
  readonly streamLogicalId: string;
  readonly onFailureQueueLogicalId?: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  /** Concurrent batches per shard (1..10), records of one partition key always in one lane. */
  readonly parallelizationFactor: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectOnError: boolean;
  readonly maxRetryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
}

type Json = Record<string, unknown>;

/** Where serverless.yml is: the template's handler paths (`functions/process-ticks.handler`) are relative to it. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function getAttTarget(value: unknown): string | undefined {
  const att = (value as Json | undefined)?.['Fn::GetAtt'];
  if (Array.isArray(att)) return att[0] as string;
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

/**
 * A whole-number setting as Lambda accepts it for a Kinesis mapping: an integer from `min` to `max`
 * (or -1, "infinite", where `infinite` says so); absent means `fallback`. A value Lambda would
 * refuse is refused here rather than applied (a MaximumRecordAgeInSeconds of 0 would discard every
 * record locally; a BatchSize of 0 would read nothing).
 */
function wholeSetting(
  logicalId: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  infinite = false,
): number {
  if (value === undefined) return fallback;
  const n =
    typeof value === 'number' || (typeof value === 'string' && value !== '') ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || ((n < min || n > max) && !(infinite && n === -1))) {
    throw new Error(
      `event source mapping ${logicalId}: ${name} must be an integer from ${min} to ${max}${infinite ? ' or -1' : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * Refuses the settings Lambda honours that the local event source mapping does not implement, so a
 * template that uses one fails at start-up rather than running locally as if it were absent: an
 * AT_TIMESTAMP starting position (read here as TRIM_HORIZON it would deliver records Lambda never
 * sends), FilterCriteria (Lambda drops the records no filter matches; here the handler would get
 * them all) and a tumbling window (Lambda passes state between invocations of a window).
 */
function unsupported(logicalId: string, p: Json) {
  const refuse = (what: string) => {
    throw new Error(
      `event source mapping ${logicalId}: ${what} is not supported by the local event source mapping`,
    );
  };
  if (
    p.StartingPosition !== undefined &&
    p.StartingPosition !== 'TRIM_HORIZON' &&
    p.StartingPosition !== 'LATEST'
  ) {
    refuse(`StartingPosition ${JSON.stringify(p.StartingPosition)}`);
  }
  if (p.FilterCriteria !== undefined) refuse('FilterCriteria');
  if (p.TumblingWindowInSeconds !== undefined && Number(p.TumblingWindowInSeconds) !== 0) {
    refuse('TumblingWindowInSeconds');
  }
}

/** Reads every Kinesis event source mapping of the template, with the settings Lambda would apply. */
export function kinesisMappings(template: CloudFormationTemplate): MappingPlan[] {
  const plans: MappingPlan[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = (resource.Properties ?? {}) as Json;
    const streamLogicalId = getAttTarget(p.EventSourceArn);
    if (!streamLogicalId || template.Resources[streamLogicalId]?.Type !== 'AWS::Kinesis::Stream') continue;
    const functionLogicalId = getAttTarget(p.FunctionName);
    const fn = functionLogicalId ? template.Resources[functionLogicalId] : undefined;
    const handler = (fn?.Properties as Json | undefined)?.Handler;
    if (!functionLogicalId || typeof handler !== 'string') {
      throw new Error(`event source mapping ${logicalId} names no function with a Handler in the template`);
    }
    // A mapping the template disables (serverless.yml `enabled: false`) is not polled on Lambda:
    // its records wait in the stream. Locally it is not run either.
    if (p.Enabled === false || p.Enabled === 'false') continue;
    unsupported(logicalId, p);
    const dot = handler.lastIndexOf('.');
    const onFailure = getAttTarget(
      ((p.DestinationConfig as Json | undefined)?.OnFailure as Json | undefined)?.Destination,
    );
    plans.push({
      logicalId,
      functionLogicalId,
      handlerModule: handler.slice(0, dot),
      handlerExport: handler.slice(dot + 1),
      streamLogicalId,
      ...(onFailure ? { onFailureQueueLogicalId: onFailure } : {}),
      batchSize: wholeSetting(logicalId, 'BatchSize', p.BatchSize, 100, 1, 10_000),
      batchingWindowSeconds: wholeSetting(
        logicalId,
        'MaximumBatchingWindowInSeconds',
        p.MaximumBatchingWindowInSeconds,
        0,
        0,
        300,
      ),
      parallelizationFactor: wholeSetting(
        logicalId,
        'ParallelizationFactor',
        p.ParallelizationFactor,
        1,
        1,
        10,
      ),
      startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
      bisectOnError: p.BisectBatchOnFunctionError === true,
      maxRetryAttempts: wholeSetting(
        logicalId,
        'MaximumRetryAttempts',
        p.MaximumRetryAttempts,
        -1,
        0,
        10_000,
        true,
      ),
      maxRecordAgeSeconds: wholeSetting(
        logicalId,
        'MaximumRecordAgeInSeconds',
        p.MaximumRecordAgeInSeconds,
        -1,
        60,
        604_800,
        true,
      ),
      reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes(
        'ReportBatchItemFailures',
      ),
    });
  }
  return plans;
}

/**
 * Per-shard checkpoints in a JSON file, written atomically behind the poller: `set` returns at once
 * and the file follows on the libuv pool, one write at a time, always with the newest positions (a
 * burst of batches is one write). A checkpoint only says where a restart resumes; resuming from an
 * older one replays records whose effects are already stored, which the processor skips. `flush`
 * waits for the file to hold the newest positions; a failed write is thrown by the next call. The
 * records given up on past a shard's checkpoint are kept in the same file (`givenUp:<shardId>`, in
 * the same write as the position), so that a restart does not give them up a second time.
 */
export class FileCheckpointStore implements CheckpointStore {
  readonly #file: string;
  readonly #data: Record<string, string | string[]>;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #error: unknown;

  constructor(file: string) {
    this.#file = file;
    this.#data = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string | string[]>)
      : {};
  }
  get(shardId: string) {
    const position = this.#data[shardId];
    return typeof position === 'string' ? position : undefined;
  }
  givenUp(shardId: string): readonly string[] {
    const kept = this.#data[`givenUp:${shardId}`];
    return Array.isArray(kept) ? kept : [];
  }
  setGivenUp(shardId: string, sequenceNumbers: readonly string[]) {
    this.#throwIfFailed();
    if (sequenceNumbers.length > 0) this.#data[`givenUp:${shardId}`] = [...sequenceNumbers];
    else delete this.#data[`givenUp:${shardId}`];
    this.#dirty = true;
    this.#writing ??= this.#drain();
  }
  set(shardId: string, sequenceNumber: string) {
    this.#throwIfFailed();
    this.#data[shardId] = sequenceNumber;
    this.#dirty = true;
    this.#writing ??= this.#drain();
  }
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    this.#throwIfFailed();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        await writeFileAtomic(this.#file, JSON.stringify(this.#data));
      }
    } catch (e) {
      this.#error = e;
    } finally {
      this.#writing = undefined;
    }
  }

  #throwIfFailed() {
    if (this.#error === undefined) return;
    const e = this.#error;
    this.#error = undefined;
    throw new Error(`writing checkpoints to ${this.#file} failed: ${(e as Error).message ?? String(e)}`, {
      cause: e,
    });
  }
}

export interface LocalPipelineOptions {
  readonly cloud: LocalCloud;
  /** Project root the handler paths are relative to (default: this project's, whatever the current directory). */
  readonly root?: string;
  /** Overrides of the template's mapping settings (the latency bench uses a zero batching window). */
  readonly overrides?: Partial<
    Pick<MappingPlan, 'batchSize' | 'batchingWindowSeconds' | 'parallelizationFactor'>
  >;
  readonly idlePollMs?: number;
  readonly onBatch?: (outcome: BatchOutcome) => void;
  readonly log?: (line: string) => void;
}

export interface LocalPipeline {
  readonly mappings: readonly MappingPlan[];
  /** Resolves when every mapping has processed everything in its stream. */
  idle(): Promise<void>;
  /** Whether every mapping's last reads found nothing left to process (nothing behind). */
  caughtUp(): boolean;
  stop(): Promise<void>;
}

/**
 * A Lambda context for one invocation; its remaining time counts down from `timeoutSeconds`, and it
 * reports the function's memory size (the template's MemorySize; Lambda's default 128 MB).
 */
export function lambdaContext(functionName: string, timeoutSeconds = 60, memoryMb = 128): Context {
  const deadline = performance.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, Math.round(deadline - performance.now())),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * A function's execution environments, the first one created now: the handler loaded, or its error
 * thrown, before any polling.
 */
function startEnvironments(
  m: MappingPlan,
  modulePath: string,
  functionName: string,
  { cloud, log }: LocalPipelineOptions,
): Promise<HandlerEnvironments<KinesisStreamEvent, KinesisStreamBatchResponse>> {
  const env = cloud.functionEnv(m.functionLogicalId);
  return HandlerEnvironments.start({
    modulePath,
    exportName: m.handlerExport,
    // The handler reads its configuration at import: give each environment the template's first,
    // and the initialization type Lambda gives an on-demand environment, by which Powertools reports
    // each environment's first invocation as a cold start (`cold_start` in its logs, a ColdStart metric).
    beforeInit: () => Object.assign(process.env, env, { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' }),
    ...(log ? { log: (line: string) => log(`${functionName}: ${line}`) } : {}),
  });
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const { cloud } = options;
  const root = options.root ?? PROJECT_ROOT;
  const mappings = kinesisMappings(cloud.template);
  const pollers: KinesisEventSourcePoller[] = [];
  const checkpointStores: FileCheckpointStore[] = [];
  /** Each function's execution environments, whichever of its mappings invokes it. */
  const functions = new Map<string, HandlerEnvironments<KinesisStreamEvent, KinesisStreamBatchResponse>>();
  for (const m of mappings) {
    const stream = cloud.resources.streams[m.streamLogicalId];
    if (!stream)
      throw new Error(`stream ${m.streamLogicalId} of mapping ${m.logicalId} was not created locally`);
    const queue = m.onFailureQueueLogicalId ? cloud.resources.queues[m.onFailureQueueLogicalId] : undefined;
    const fnProps = cloud.template.Resources[m.functionLogicalId]?.Properties as Json | undefined;
    const functionName = String(fnProps?.FunctionName ?? m.functionLogicalId);
    // Lambda's defaults when the template gives none.
    const timeoutSeconds = Number(fnProps?.Timeout ?? 3);
    const memoryMb = Number(fnProps?.MemorySize ?? 128);
    const environments =
      functions.get(m.functionLogicalId) ??
      (await startEnvironments(m, resolve(root, `${m.handlerModule}.ts`), functionName, options));
    functions.set(m.functionLogicalId, environments);
    const settings: EventSourceMappingSettings = {
      streamName: stream.name,
      streamArn: stream.arn,
      functionArn: `arn:aws:lambda:${cloud.region}:000000000000:function:${functionName}`,
      batchSize: options.overrides?.batchSize ?? m.batchSize,
      batchingWindowSeconds: options.overrides?.batchingWindowSeconds ?? m.batchingWindowSeconds,
      parallelizationFactor: options.overrides?.parallelizationFactor ?? m.parallelizationFactor,
      startingPosition: m.startingPosition,
      bisectOnError: m.bisectOnError,
      maxRetryAttempts: m.maxRetryAttempts,
      maxRecordAgeSeconds: m.maxRecordAgeSeconds,
      reportBatchItemFailures: m.reportBatchItemFailures,
      ...(queue ? { onFailureQueueUrl: queue.url } : {}),
      functionTimeoutSeconds: timeoutSeconds,
      region: cloud.region,
    };
    const checkpoints = new FileCheckpointStore(join(cloud.state.dir, `checkpoints-${m.logicalId}.json`));
    checkpointStores.push(checkpoints);
    const poller = new KinesisEventSourcePoller({
      kinesis: cloud.clients.kinesis,
      sqs: cloud.clients.sqs,
      settings,
      handler: (event) => environments.invoke(event, lambdaContext(functionName, timeoutSeconds, memoryMb)),
      checkpoints,
      ...(options.idlePollMs !== undefined ? { idlePollMs: options.idlePollMs } : {}),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    await poller.start();
    pollers.push(poller);
  }
  return {
    mappings,
    async idle() {
      await Promise.all(pollers.map((p) => p.idle()));
    },
    caughtUp: () => pollers.every((p) => p.caughtUp),
    async stop() {
      await Promise.all(pollers.map((p) => p.stop()));
      await Promise.all(checkpointStores.map((c) => c.flush()));
    },
  };
}
