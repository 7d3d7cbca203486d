/**
 * Bench part "processor" (issue 5, item 6): the stream processor's throughput, its local end-to-end
 * latency and its AWS bill per million records. Three sections, each bounded:
 *
 * 1. throughput — records/s through `processBatch` on one core with the in-memory sinks (real gzip
 *    NDJSON lake bodies), in batches of the template's size (500, one shard each), BESIDE bare
 *    base64 decode + JSON.parse of the same records in the same run. Records: the bundled real
 *    AAPL 1-minute bars (data/samples/aapl-2024-10-02.csv) cycled over many symbols (per-symbol
 *    price/volume scale) and over consecutive full NYSE trading days (times shifted on the
 *    calendar, so DST is right). Also a sweep over the number of symbols per batch, since per-symbol
 *    state is loaded and saved once per batch. And, each in a child process of its own beside that
 *    process's bare decode: the floor under any pipeline (bare decode plus the raw zone's NDJSON
 *    line and gzip per record), and the pipeline with a lake that builds no gzip bodies. Targets
 *    (printed, never asserted): ≥ 100,000 records/s and ≥ 1/3 of bare decode.
 * 2. latency — an ephemeral local cloud from the real template, the template's processor on the
 *    local event source mapping with a ZERO batching window, the project's Kinesis producer at a
 *    fixed rate (default 1,000 records/s) for a bounded time, after a warm-up at the same rate
 *    (default 3 s: every symbol's first state item, the JIT) and a wait until the processor has
 *    caught up; the warm-up's records are reported apart, not counted in the percentiles. Per record: from the start of the
 *    PutRecords call that carried it to the end of the handler invocation that processed it (the
 *    metric rows are written before the handler returns), matched by shard and sequence number;
 *    plus a direct probe (1 record in PROBE_EVERY: GetItem on its metric row until it is visible)
 *    and a read-back of a sample of rows after the run. Target: p99 < 250 ms.
 * 3. cost — AWS API calls per 1,000,000 records per sink, counted by a middleware on the SDK
 *    clients of the real AWS adapters (DynamoDB, S3, SNS, SQS) against the local cloud's emulators,
 *    in full batches of 500, with write/read units from the marshalled item sizes; priced at
 *    us-east-1 list prices (printed) beside the per-record design (one S3 object and one PutItem
 *    per record), twice: on demand (dev, staging, the default) and on prod's provisioned capacity
 *    (DynamoDB at the prod template's target utilisation, Kinesis shards at an assumed 70 %).
 *    Target: ≥ 10× cheaper. The latency run's own handler calls (small batches, zero
 *    window) are counted too, by instrumenting the SDK's Client.send, as a cross-check.
 *
 * Environment (for quick runs): BENCH_PROCESSOR_RECORDS (throughput records, default 100000),
 * BENCH_PROCESSOR_SYMBOLS (throughput and cost, default 200), BENCH_PROCESSOR_LATENCY_SECONDS
 * (measured seconds, default 15), BENCH_PROCESSOR_LATENCY_WARMUP_SECONDS (default 3), BENCH_PROCESSOR_RATE (records/s, default 1000), BENCH_PROCESSOR_LATENCY_SYMBOLS
 * (comma list, one latency run each, default 20,200), BENCH_PROCESSOR_COST_RECORDS (counted records
 * per cost run, default one sample day = 389 bars per symbol), BENCH_PROCESSOR_SECTIONS (comma list
 * of throughput,latency,cost; default all), BENCH_PROCESSOR_CLOUD (process = the emulators in a
 * child process of their own, the default, as the AWS services are not in the Lambda's process;
 * inprocess = in the bench's process, sharing its one thread).
 *
 *   npm run bench -- processor
 *   BENCH_PROCESSOR_SECTIONS=throughput BENCH_PROCESSOR_RECORDS=20000 npm run bench -- processor
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.ts';
import { DynamoDbAlertLedger } from '../../src/adapters/aws/dynamodb-alert-ledger.ts';
import { DynamoDbMetricsStore } from '../../src/adapters/aws/dynamodb-metrics-store.ts';
import { DynamoDbStateStore } from '../../src/adapters/aws/dynamodb-state-store.ts';
import { KinesisPublisher } from '../../src/adapters/aws/kinesis-publisher.ts';
import { metricKey } from '../../src/adapters/aws/market-table.ts';
import { encodeLakeObject, S3LakeWriter } from '../../src/adapters/aws/s3-lake-writer.ts';
import { SnsAlertNotifier } from '../../src/adapters/aws/sns-alert-notifier.ts';
import { SqsRejectedRecordSink } from '../../src/adapters/aws/sqs-rejected-record-sink.ts';
import { createMemorySinks, MemoryLakeWriter, MemoryMetricsStore } from '../../src/adapters/memory/index.ts';
import { UsEquityCalendar } from '../../src/domain/calendar/calendar.ts';
import { type Bar, encodeMarketEvent } from '../../src/domain/market/index.ts';
import { analyticsEngines } from '../../src/pipeline/process/analytics-engine.ts';
import {
  EngineCache,
  type ProcessDeps,
  processBatch,
  type StreamRecord,
} from '../../src/pipeline/process/process-batch.ts';
import { compareSequenceNumbers } from '../../src/pipeline/process/sequence.ts';
import type { LakeRecord } from '../../src/ports/processor.ts';
import { keepBatchObjectsYoung } from '../../src/runtime/v8-heap.ts';
import type { BatchOutcome } from '../pipeline/event-source-mapping.ts';

// ---------------------------------------------------------------------------------------------
// Settings

/** The template's processorBatchSize (serverless.yml) and the 4 shards an on-demand stream starts with. */
const BATCH_SIZE = 500;
const SHARDS = 4;
const TARGET_RECORDS_PER_SECOND = 100_000;
const TARGET_SHARE_OF_BARE_DECODE = 1 / 3;
const TARGET_P99_MS = 250;
const TARGET_COST_FACTOR = 10;
/** One record in this many gets a live GetItem probe in the latency section. */
const PROBE_EVERY = 200;
const PROBE_INTERVAL_MS = 20;
const READBACK_SAMPLE = 200;
/** Bars of history each symbol has before the cost run is counted (the longest window is 200). */
const WARM_BARS = 250;

/** us-east-1 list prices used by the cost model (printed with the figures so they can be checked). */
export const PRICES_USD = {
  dynamodbPerMillionWriteRequestUnits: 0.625,
  dynamodbPerMillionReadRequestUnits: 0.125,
  s3PerThousandPutRequests: 0.005,
  s3PerThousandGetRequests: 0.0004,
  snsPerMillionPublishes: 0.5,
  sqsPerMillionRequests: 0.4,
  lambdaArm64PerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  kinesisOnDemandPerGbIngested: 0.08,
  // An on-demand stream also bills what its consumers read (the processor's event source mapping
  // reads every record once); its $0.04 per stream-hour is a fixed cost, not per record.
  kinesisOnDemandPerGbRetrieved: 0.04,
  kinesisOnDemandPerStreamHour: 0.04,
  // Provisioned capacity (prod): paid per capacity-hour, whatever is used of it.
  dynamodbPerWcuHour: 0.00065,
  dynamodbPerRcuHour: 0.00013,
  kinesisPerShardHour: 0.015,
  kinesisPerMillionPutPayloadUnits: 0.014,
} as const;

/** What 1,000,000 records used, as a cost run counted it (the per-record design's own items apart). */
export interface CostUsage {
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly s3Puts: number;
  readonly snsPublishes: number;
  readonly sqsRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  /** Σ bytes rounded up to whole KB (on-demand ingest billing, and the processor's reads priced alike), in KB. */
  readonly kinesisKb: number;
  /** Σ bytes (a provisioned shard takes 1 MiB/s). */
  readonly kinesisBytes: number;
  /** Σ 25 KB PUT payload units (provisioned billing). */
  readonly kinesisPayloadUnits: number;
  /** The per-record design: its write units (one PutItem per row, and the alert ledger's). */
  readonly perRecordWriteUnits: number;
}

/**
 * How capacity is paid for. On demand: per request unit and per GB ingested (dev, staging and the
 * default). Provisioned (prod): per capacity-hour, so a unit costs the hourly price over what an hour
 * of capacity serves at the utilisation kept: the table's target-tracking value for DynamoDB, and an
 * assumed one for the stream's fixed shards (1,000 records/s or 1 MiB/s each).
 */
export type CapacityModel =
  | { readonly mode: 'on-demand' }
  | {
      readonly mode: 'provisioned';
      readonly dynamodbWriteUtilization: number;
      readonly dynamodbReadUtilization: number;
      readonly kinesisShardUtilization: number;
    };

/** USD per 1,000,000 records by what is billed. */
export interface CostBreakdown {
  readonly dynamodbWrites: number;
  readonly dynamodbReads: number;
  readonly s3Puts: number;
  readonly sns: number;
  readonly sqs: number;
  readonly lambdaRequests: number;
  readonly lambdaCompute: number;
  readonly kinesis: number;
}

export interface PricedDesigns {
  readonly batched: CostBreakdown;
  readonly perRecord: CostBreakdown;
  readonly batchedTotal: number;
  readonly perRecordTotal: number;
  /** perRecordTotal / batchedTotal */
  readonly factor: number;
  /**
   * The most any batched design could reach against this per-record design: it writes the same
   * metric row per record and shares the rest, so at best it saves every S3 PUT and nothing else.
   */
  readonly ceiling: number;
}

/** USD per 1,000,000 records for both designs under one capacity model, at PRICES_USD. */
export function priceDesigns(u: CostUsage, model: CapacityModel, records = 1_000_000): PricedDesigns {
  const p = PRICES_USD;
  const hour = 3600;
  const perWru =
    model.mode === 'on-demand'
      ? p.dynamodbPerMillionWriteRequestUnits / 1e6
      : p.dynamodbPerWcuHour / (hour * model.dynamodbWriteUtilization);
  const perRru =
    model.mode === 'on-demand'
      ? p.dynamodbPerMillionReadRequestUnits / 1e6
      : p.dynamodbPerRcuHour / (hour * model.dynamodbReadUtilization);
  const kinesis =
    model.mode === 'on-demand'
      ? (u.kinesisKb / 1024 ** 2) * (p.kinesisOnDemandPerGbIngested + p.kinesisOnDemandPerGbRetrieved)
      : (u.kinesisPayloadUnits * p.kinesisPerMillionPutPayloadUnits) / 1e6 +
        (Math.max(records / 1000, u.kinesisBytes / 1024 ** 2) / (hour * model.kinesisShardUtilization)) *
          p.kinesisPerShardHour;
  const shared = {
    sns: (u.snsPublishes * p.snsPerMillionPublishes) / 1e6,
    sqs: (u.sqsRequests * p.sqsPerMillionRequests) / 1e6,
    lambdaRequests: (u.lambdaInvocations * p.lambdaPerMillionRequests) / 1e6,
    lambdaCompute: u.lambdaGbSeconds * p.lambdaArm64PerGbSecond,
    kinesis,
  };
  const batched: CostBreakdown = {
    dynamodbWrites: u.writeUnits * perWru,
    dynamodbReads: u.readUnits * perRru,
    s3Puts: (u.s3Puts * p.s3PerThousandPutRequests) / 1e3,
    ...shared,
  };
  // One S3 object and one PutItem (the same row, the same units) per record; the alert path, Lambda
  // and Kinesis as above; no state or LATEST items at all (in its favour: a per-record design that
  // kept per-symbol state would read and write it per record).
  const perRecord: CostBreakdown = {
    dynamodbWrites: u.perRecordWriteUnits * perWru,
    dynamodbReads: 0,
    s3Puts: (records * p.s3PerThousandPutRequests) / 1e3,
    ...shared,
  };
  const total = (o: CostBreakdown) => Object.values(o).reduce((a, b) => a + b, 0);
  const batchedTotal = total(batched);
  const perRecordTotal = total(perRecord);
  return {
    batched,
    perRecord,
    batchedTotal,
    perRecordTotal,
    factor: perRecordTotal / batchedTotal,
    ceiling: perRecordTotal / (perRecordTotal - perRecord.s3Puts),
  };
}

interface Settings {
  readonly records: number;
  readonly symbols: number;
  readonly latencySymbols: readonly number[];
  readonly latencySeconds: number;
  /** Seconds at the same rate before the measured window (processed, not counted in the percentiles). */
  readonly warmupSeconds: number;
  readonly rate: number;
  /** Counted records per cost run; undefined = one sample trading day (389 bars) per symbol. */
  readonly costRecords: number | undefined;
  readonly sections: ReadonlySet<Section>;
  /** Where the emulators run: their own process (default, as AWS services are elsewhere) or this one. */
  readonly cloud: 'process' | 'inprocess';
}

const SECTIONS = ['throughput', 'latency', 'cost'] as const;
type Section = (typeof SECTIONS)[number];

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function intListFromEnv(name: string, fallback: number[], min: number, max: number): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.split(',').map((part) => {
    const n = Number(part.trim());
    if (part.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new Error(
        `${name} must be a comma list of integers between ${min} and ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    return n;
  });
}

export function settingsFromEnv(): Settings {
  const rawSections = process.env.BENCH_PROCESSOR_SECTIONS;
  const sections = new Set<Section>();
  for (const s of (rawSections === undefined || rawSections === '' ? SECTIONS.join(',') : rawSections).split(
    ',',
  )) {
    const name = s.trim();
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new Error(
        `BENCH_PROCESSOR_SECTIONS must list sections among ${SECTIONS.join(', ')}, got ${JSON.stringify(name)}`,
      );
    }
    sections.add(name as Section);
  }
  return {
    records: intFromEnv('BENCH_PROCESSOR_RECORDS', 100_000, 1_000, 5_000_000),
    symbols: intFromEnv('BENCH_PROCESSOR_SYMBOLS', 200, 1, 10_000),
    latencySymbols: intListFromEnv('BENCH_PROCESSOR_LATENCY_SYMBOLS', [20, 200], 1, 10_000),
    latencySeconds: intFromEnv('BENCH_PROCESSOR_LATENCY_SECONDS', 15, 1, 120),
    warmupSeconds: intFromEnv('BENCH_PROCESSOR_LATENCY_WARMUP_SECONDS', 3, 0, 60),
    rate: intFromEnv('BENCH_PROCESSOR_RATE', 1_000, 10, 10_000),
    costRecords: process.env.BENCH_PROCESSOR_COST_RECORDS
      ? intFromEnv('BENCH_PROCESSOR_COST_RECORDS', 0, 1_000, 2_000_000)
      : undefined,
    sections,
    cloud: cloudModeFromEnv(),
  };
}

function cloudModeFromEnv(): 'process' | 'inprocess' {
  const raw = process.env.BENCH_PROCESSOR_CLOUD;
  if (raw === undefined || raw === '' || raw === 'process') return 'process';
  if (raw === 'inprocess') return 'inprocess';
  throw new Error(`BENCH_PROCESSOR_CLOUD must be process or inprocess, got ${JSON.stringify(raw)}`);
}

// ---------------------------------------------------------------------------------------------
// Workload: the bundled real AAPL bars, cycled over symbols and trading days

interface SampleBar {
  /** Minutes after the regular open. */
  readonly minute: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);
const SAMPLE = 'data/samples/aapl-2024-10-02.csv';

export function loadSampleBars(file = join(ROOT, SAMPLE)): SampleBar[] {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const header = lines[0]?.split(',') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: no column ${name}`);
    return i;
  };
  const [iStart, iO, iH, iL, iC, iV] = ['bar_start_utc', 'open', 'high', 'low', 'close', 'volume'].map(col);
  const open = Date.parse('2024-10-02T13:30:00Z');
  return lines.slice(1).map((line) => {
    const f = line.split(',');
    return {
      minute: (Date.parse(f[iStart!]!) - open) / 60_000,
      open: Number(f[iO!]),
      high: Number(f[iH!]),
      low: Number(f[iL!]),
      close: Number(f[iC!]),
      volume: Number(f[iV!]),
    };
  });
}

/** Regular-session opens (epoch ms) of `count` consecutive full NYSE trading days from 2024-01-02. */
function tradingDayOpens(count: number): number[] {
  const cal = new UsEquityCalendar();
  const opens: number[] = [];
  let t = Date.UTC(2024, 0, 2);
  while (opens.length < count) {
    const d = new Date(t);
    const day = cal.dayOf(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
    if (day.kind === 'full' && day.regularOpen !== undefined) opens.push(day.regularOpen);
    t += 86_400_000;
  }
  return opens;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** A bounded lazy stream of bars, market order: minute by minute, every symbol each minute. */
export class RealBarMarket {
  readonly symbols: readonly string[];
  readonly #sample: readonly SampleBar[];
  readonly #opens: number[];
  readonly #priceScale: number[];
  readonly #volumeScale: number[];

  constructor(symbols: readonly string[], maxBarsPerSymbol: number, sample = loadSampleBars()) {
    this.symbols = symbols;
    this.#sample = sample;
    this.#opens = tradingDayOpens(Math.ceil(maxBarsPerSymbol / sample.length) + 1);
    // Deterministic per-symbol scales (golden-ratio sequence), so symbols differ in level and liquidity.
    this.#priceScale = symbols.map((_, i) => 0.25 + ((i * 0.6180339887) % 1) * 4);
    this.#volumeScale = symbols.map((_, i) => 0.1 + ((i * 0.7548776662) % 1) * 2);
  }

  /** The `n`-th bar (in market order) of symbol `s`. */
  bar(s: number, n: number): Bar {
    const day = Math.floor(n / this.#sample.length);
    const b = this.#sample[n % this.#sample.length]!;
    const k = this.#priceScale[s]!;
    return {
      symbol: this.symbols[s]!,
      start: this.#opens[day]! + b.minute * 60_000,
      interval: '1m',
      open: round4(b.open * k),
      high: round4(b.high * k),
      low: round4(b.low * k),
      close: round4(b.close * k),
      volume: Math.round(b.volume * this.#volumeScale[s]!),
      session: 'regular',
      source: 'replay',
    };
  }

  /** `count` bars in market order. */
  *bars(count: number): Generator<Bar> {
    const n = this.symbols.length;
    for (let i = 0; i < count; i++) yield this.bar(i % n, Math.floor(i / n));
  }
}

export function symbolNames(prefix: string, count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
}

const shardName = (i: number) => `shardId-${String(i).padStart(12, '0')}`;
/** Kinesis-like 56-digit sequence numbers, increasing within a shard. */
const sequenceNumber = (n: number) => `49${String(n).padStart(54, '0')}`;

/**
 * Stream records of `count` bars as Lambda delivers them: symbol i on shard i mod SHARDS, sequence
 * numbers per shard, batches of BATCH_SIZE records of one shard, shards taking turns. With `split`,
 * the bars before that market-order index and those from it are batched apart (same sequence).
 */
export function streamBatches(market: RealBarMarket, count: number): StreamRecord[][] {
  return splitStreamBatches(market, count, 0)[1];
}

export function splitStreamBatches(
  market: RealBarMarket,
  count: number,
  split: number,
): [StreamRecord[][], StreamRecord[][]] {
  const parts = [0, 1].map(() => Array.from({ length: SHARDS }, () => [] as StreamRecord[]));
  const sequences = new Array<number>(SHARDS).fill(0);
  const index = new Map(market.symbols.map((s, i) => [s, i]));
  let i = 0;
  for (const bar of market.bars(count)) {
    const shard = index.get(bar.symbol)! % SHARDS;
    sequences[shard]! += 1;
    parts[i++ < split ? 0 : 1]![shard]!.push({
      shardId: shardName(shard),
      sequenceNumber: sequenceNumber(sequences[shard]!),
      partitionKey: bar.symbol,
      data: Buffer.from(encodeMarketEvent({ kind: 'bar', bar }), 'utf8').toString('base64'),
      arrivalTime: bar.start + 61_000,
    });
  }
  const [before, after] = parts.map((perShard) => {
    const batches: StreamRecord[][] = [];
    for (let offset = 0; perShard.some((l) => offset < l.length); offset += BATCH_SIZE) {
      for (const list of perShard)
        if (offset < list.length) batches.push(list.slice(offset, offset + BATCH_SIZE));
    }
    return batches;
  });
  return [before!, after!];
}

// ---------------------------------------------------------------------------------------------
// Helpers

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const round = (x: number, digits = 2) => Number(x.toFixed(digits));
const quiet = { info() {}, warn() {}, error() {} };

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let latencyRuns = 0;

// ---------------------------------------------------------------------------------------------
// Section 1: throughput

function bareDecode(batches: readonly StreamRecord[][]): number {
  let check = 0;
  for (const batch of batches) {
    for (const r of batch) {
      const o = JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as { v: number };
      check += o.v;
    }
  }
  return check;
}

/**
 * The floor under the pipeline: bare decode plus the raw zone's line and gzip for each record (the
 * lake's own code, `encodeLakeObject`), with no validation, engine, rows or state. Work every record
 * must have done, whatever else the pipeline does.
 */
async function decodeAndLakeFloor(batches: readonly StreamRecord[][]): Promise<number> {
  let encoded = 0;
  for (const batch of batches) {
    const records: LakeRecord[] = batch.map((r) => {
      const o = JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as {
        kind: 'bar';
        data: { symbol: string; start: number };
      };
      return {
        symbol: o.data.symbol,
        time: o.data.start,
        kind: o.kind,
        shardId: r.shardId,
        sequenceNumber: r.sequenceNumber,
        arrivalTime: r.arrivalTime,
        event: o.data,
      };
    });
    if (encodeLakeObject(records).length > 0) encoded += records.length;
  }
  return encoded;
}

/** A variant measured in a child process, beside that process's own bare decode. */
interface ChildFigures {
  readonly bareDecodeRecordsPerCpuSecond: number;
  readonly recordsPerCpuSecond: number;
  readonly shareOfBareDecode: number;
}

/**
 * What a child process measures, each returning the records it handled: the floor (bare decode plus
 * the raw zone's line and gzip), or the pipeline with an in-memory lake that keeps its records and
 * builds no gzip NDJSON body.
 */
const CHILD_VARIANTS = {
  floor: decodeAndLakeFloor,
  'without-lake-encoding': async (batches: readonly StreamRecord[][]) =>
    (await pipelinePass(batches, Date.now(), false)).processed,
} as const;
type ChildVariant = keyof typeof CHILD_VARIANTS;

const VARIANT_FLAG = '--throughput-variant';

/** Bare decode and `variant`, alternately, best of `passes` each after a warm-up pass of each. */
async function measureVariant(
  variant: ChildVariant,
  symbols: number,
  records: number,
  passes: number,
): Promise<ChildFigures> {
  keepBatchObjectsYoung();
  const batches = streamBatches(
    new RealBarMarket(symbolNames('T', symbols), Math.ceil(records / symbols)),
    records,
  );
  const count = batches.reduce((n, b) => n + b.length, 0);
  const run = CHILD_VARIANTS[variant];
  bareDecode(batches);
  await run(batches);
  let bare = Number.POSITIVE_INFINITY;
  let other = Number.POSITIVE_INFINITY;
  for (let p = 0; p < passes; p++) {
    let cpu0 = process.cpuUsage();
    bareDecode(batches);
    bare = Math.min(bare, cpuSecondsSince(cpu0));
    cpu0 = process.cpuUsage();
    const handled = await run(batches);
    other = Math.min(other, cpuSecondsSince(cpu0));
    if (handled !== count) throw new Error(`${variant}: ${handled} of ${count} records handled`);
  }
  return {
    bareDecodeRecordsPerCpuSecond: Math.round(count / bare),
    recordsPerCpuSecond: Math.round(count / other),
    shareOfBareDecode: round(bare / other, 4),
  };
}

/**
 * `measureVariant` in a process of its own. In the bench's process either would change what the
 * pipeline passes measure: lake lines built from parsed JSON rather than validated bars leave type
 * feedback in the lake's code (the pipeline about a tenth slower, A/B), and passes that build no
 * gzip bodies leave a heap that makes the next full pass about a fifth faster (A/B).
 */
async function variantInChild(
  variant: ChildVariant,
  symbols: number,
  records: number,
  passes: number,
): Promise<ChildFigures> {
  const args = [VARIANT_FLAG, variant, String(symbols), String(records), String(passes)];
  const { stdout } = await execFileAsync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...args],
    { cwd: ROOT, timeout: 300_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildFigures;
}

interface PipelinePass extends Timed {
  readonly processed: number;
  readonly rows: number;
  readonly lakeObjects: number;
  readonly anomalies: number;
}

/**
 * One pass of the pipeline over the batches. `encodeLake`: the in-memory lake builds each object's
 * gzip NDJSON body (what the S3 writer sends) rather than only keeping the records.
 */
async function pipelinePass(
  batches: readonly StreamRecord[][],
  now: number,
  encodeLake = true,
): Promise<PipelinePass> {
  const sinks = createMemorySinks();
  const deps: Omit<ProcessDeps, 'metrics' | 'lake'> = {
    engines: analyticsEngines(),
    // As the handler runs it: a warm container keeps engines whose stored state is unchanged.
    engineCache: new EngineCache(),
    state: sinks.state,
    ledger: sinks.ledger,
    notifier: sinks.notifier,
    rejects: sinks.rejects,
    clock: () => now,
    log: quiet,
  };
  let processed = 0;
  let rows = 0;
  let lakeObjects = 0;
  let anomalies = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const batch of batches) {
    // A Lambda's rows and lake object leave with its requests; so here, each batch writes to row and
    // lake sinks of its own (all their per-write work done, gzip included) rather than the bench
    // process holding every row of the pass in its heap. State and the alert ledger persist.
    const r = await processBatch(batch, {
      ...deps,
      metrics: new MemoryMetricsStore(),
      lake: new MemoryLakeWriter({ encode: encodeLake }),
    });
    if (r.failures.length > 0 || r.rejected.length > 0) {
      throw new Error(
        `throughput workload: batch of ${batch[0]?.shardId} had ${r.failures.length} failure(s) and ${r.rejected.length} rejected record(s)${r.rejected[0] ? `: ${r.rejected[0].reason}` : ''}`,
      );
    }
    processed += r.processed;
    rows += r.rows;
    lakeObjects += r.lakeObjects.length;
    anomalies += r.anomalies.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, cpuSeconds: cpuSecondsSince(cpu0), processed, rows, lakeObjects, anomalies };
}

interface Timed {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

const cpuSecondsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
};

/** The pass that took the least CPU. */
function bestOf<T extends Timed>(passes: readonly T[]): T {
  return passes.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
}

async function measureThroughput(
  symbols: number,
  records: number,
  passes: number,
  now: number,
): Promise<Record<string, unknown>> {
  const market = new RealBarMarket(symbolNames('T', symbols), Math.ceil(records / symbols));
  const batches = streamBatches(market, records);
  const count = batches.reduce((n, b) => n + b.length, 0);
  // One whole pass of each to warm up (the JIT settles over tens of thousands of records, as in a
  // long-lived Lambda container), then alternate bare and pipeline passes; best of each is reported.
  bareDecode(batches);
  await pipelinePass(batches, now);
  const bare: Timed[] = [];
  const pipe: PipelinePass[] = [];
  for (let p = 0; p < passes; p++) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    if (bareDecode(batches) !== count) throw new Error('bare decode: unexpected schema versions');
    bare.push({ seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSecondsSince(cpu0) });
    pipe.push(await pipelinePass(batches, now));
  }
  const b = bestOf(bare);
  const p = bestOf(pipe);
  // Each in a process of its own, against that process's bare decode (see `variantInChild`).
  const floor = await variantInChild('floor', symbols, records, Math.max(passes, 3));
  const withoutLakeEncoding = await variantInChild('without-lake-encoding', symbols, records, passes);
  if (p.processed !== count) throw new Error(`pipeline processed ${p.processed} of ${count} records`);
  // One core's worth: records per CPU-second of every thread of the process (the
  // collector's helpers included), which is what one vCPU would do. Wall-clock rates beside them.
  const bareRate = count / b.cpuSeconds;
  const pipeRate = count / p.cpuSeconds;
  const symbolsPerShard = Math.ceil(symbols / SHARDS);
  return {
    symbols,
    records: count,
    batches: batches.length,
    recordsPerSymbolPerBatch: round(BATCH_SIZE / Math.min(BATCH_SIZE, symbolsPerShard), 1),
    pipelineRecordsPerCpuSecond: Math.round(pipeRate),
    pipelineRecordsPerSecondWall: Math.round(count / p.seconds),
    pipelinePassRates: pipe.map((x) => Math.round(count / x.cpuSeconds)),
    bareDecodeRecordsPerCpuSecond: Math.round(bareRate),
    bareDecodeRecordsPerSecondWall: Math.round(count / b.seconds),
    bareDecodePassRates: bare.map((x) => Math.round(count / x.cpuSeconds)),
    shareOfBareDecode: round(pipeRate / bareRate, 4),
    // The pipeline with a lake that keeps its records and builds no gzip NDJSON body (what the
    // in-memory lake does by default): its own work, the raw zone's encoding left to the sink.
    withoutLakeEncoding,
    floor,
    rows: p.rows,
    lakeObjects: p.lakeObjects,
    anomalies: p.anomalies,
  };
}

async function throughputSection(s: Settings, log: (line: string) => void): Promise<Record<string, unknown>> {
  const now = Date.now();
  // As the processor's handler does when it loads (src/runtime/v8-heap.ts).
  keepBatchObjectsYoung();
  log(
    `throughput: ${fmt(s.records)} real AAPL bars cycled over ${s.symbols} symbols on ${SHARDS} shards, ` +
      `batches of ${BATCH_SIZE}, in-memory sinks with gzip lake bodies (rows and lake objects kept per batch, as a Lambda sends and drops them; state kept across batches); best of 3 passes; V8 pretenuring off as the handler sets it; rates per CPU-second of the whole process (one core's worth), wall-clock beside`,
  );
  const main = await measureThroughput(s.symbols, s.records, 3, now);
  const pipeRate = main.pipelineRecordsPerCpuSecond as number;
  const share = main.shareOfBareDecode as number;
  const metRate = pipeRate >= TARGET_RECORDS_PER_SECOND;
  const metShare = share >= TARGET_SHARE_OF_BARE_DECODE;
  log(
    `processBatch: ${fmt(pipeRate)} records per CPU-second (${fmt(main.pipelineRecordsPerSecondWall as number)}/s wall, the collector's threads running beside the main one); ` +
      `bare base64 + JSON.parse: ${fmt(main.bareDecodeRecordsPerCpuSecond as number)} per CPU-second; ratio ${share.toFixed(3)}`,
  );
  log(
    `targets: ≥ ${fmt(TARGET_RECORDS_PER_SECOND)} records/s on one core ${metRate ? 'met' : 'NOT met'}; ` +
      `≥ 1/3 of bare decode ${metShare ? 'met' : 'NOT met'} (${(share * 100).toFixed(1)} %)`,
  );
  const beside = (f: ChildFigures) =>
    `${fmt(f.recordsPerCpuSecond)} per CPU-second, ${(f.shareOfBareDecode * 100).toFixed(1)} % of its bare decode (${fmt(f.bareDecodeRecordsPerCpuSecond)})`;
  log(
    `  in a process of its own, without the lake's encoding (the in-memory lake keeping its records, no gzip NDJSON body): ${beside(main.withoutLakeEncoding as ChildFigures)}`,
  );
  log(
    `  floor, in a process of its own: bare decode + the lake's NDJSON line and gzip alone (no validation, engine, rows or state): ${beside(main.floor as ChildFigures)}`,
  );
  // Per-symbol work (state restore, snapshot, LATEST) is per batch: density matters.
  const sweepRecords = Math.min(s.records, 50_000);
  const sweep: Record<string, unknown>[] = [];
  for (const symbols of [...new Set([20, 2_000])].filter((n) => n !== s.symbols)) {
    const r = await measureThroughput(symbols, sweepRecords, 2, now);
    sweep.push(r);
    log(
      `  ${symbols} symbols (${r.recordsPerSymbolPerBatch} records per symbol per batch): ` +
        `${fmt(r.pipelineRecordsPerCpuSecond as number)} records per CPU-second, ${((r.shareOfBareDecode as number) * 100).toFixed(1)} % of bare decode`,
    );
  }
  return {
    ...main,
    targetRecordsPerSecond: TARGET_RECORDS_PER_SECOND,
    targetShareOfBareDecode: round(TARGET_SHARE_OF_BARE_DECODE, 4),
    targetRecordsPerSecondMet: metRate,
    targetShareMet: metShare,
    bySymbolCount: sweep,
  };
}

// ---------------------------------------------------------------------------------------------
// API call counting

interface CallCounts {
  /** API name (BatchWriteItem, PutObject…) → calls. */
  readonly calls: Record<string, number>;
  writeUnits: number;
  readUnits: number;
  /** Items written by BatchWriteItem (metric rows) and their units. */
  batchWriteItems: number;
  batchWriteUnits: number;
  /** LATEST items written inside BatchWriteItem calls (not metric rows). */
  latestInBatchWrites: number;
  /** Units of the alert ledger's writes (claims, confirms, releases): the same in either design. */
  alertWriteUnits: number;
  s3Bytes: number;
  /** PutItem calls by the item they write (from its sort key). */
  readonly putItems: { state: number; latest: number; alertClaim: number; other: number };
}

const newCounts = (): CallCounts => ({
  calls: {},
  writeUnits: 0,
  readUnits: 0,
  batchWriteItems: 0,
  batchWriteUnits: 0,
  latestInBatchWrites: 0,
  alertWriteUnits: 0,
  s3Bytes: 0,
  putItems: { state: 0, latest: 0, alertClaim: 0, other: 0 },
});

type AttributeValue = Record<string, unknown>;

/** DynamoDB's documented item size: attribute names + values (S utf-8, N digits/2+1, M/L 3 + 1 per element). */
export function attributeSize(v: AttributeValue): number {
  if ('S' in v) return Buffer.byteLength(v.S as string);
  if ('N' in v) {
    const digits = String(v.N).replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    return Math.ceil(Math.max(1, digits.length) / 2) + 1;
  }
  if ('B' in v) return (v.B as Uint8Array).byteLength;
  if ('BOOL' in v || 'NULL' in v) return 1;
  if ('M' in v) {
    let n = 3;
    for (const [k, x] of Object.entries(v.M as Record<string, AttributeValue>))
      n += 1 + Buffer.byteLength(k) + attributeSize(x);
    return n;
  }
  if ('L' in v) {
    let n = 3;
    for (const x of v.L as AttributeValue[]) n += 1 + attributeSize(x);
    return n;
  }
  if ('SS' in v) return (v.SS as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
  if ('NS' in v) return (v.NS as string[]).reduce((n, s) => n + attributeSize({ N: s }), 0);
  return 0;
}

const AV_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

function isAttributeValue(v: unknown): v is AttributeValue {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && AV_TYPES.has(keys[0]!);
}

/** The same size rules for a native JS value (the document client's side of the wire). */
export function nativeSize(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint') return attributeSize({ N: String(v) });
  if (typeof v === 'boolean' || v === null || v === undefined) return 1;
  if (v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + 1 + nativeSize(x), 3);
  if (v instanceof Set) return [...v].reduce((n: number, x) => n + nativeSize(x), 0);
  let n = 3;
  for (const [k, x] of Object.entries(v as Record<string, unknown>))
    n += 1 + Buffer.byteLength(k) + nativeSize(x);
  return n;
}

/** Item size in bytes, whether the item is marshalled (AttributeValues) or native. */
export function itemSize(item: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(item))
    n += Buffer.byteLength(k) + (isAttributeValue(v) ? attributeSize(v) : nativeSize(v));
  return n;
}

const writeUnits = (item: Record<string, AttributeValue>) => Math.max(1, Math.ceil(itemSize(item) / 1024));
/** Strongly consistent read: 1 unit per 4 KB. */
const readUnits = (item: Record<string, AttributeValue>) => Math.max(1, Math.ceil(itemSize(item) / 4096));

type Input = Record<string, unknown>;

/**
 * Counts every call a client makes (by API name) and, for DynamoDB, the write/read request units of
 * the marshalled items. A 'build'-step middleware: it sees the wire-level input (the document
 * client's marshalling has run) and the undecoded output.
 */
function instrument(
  client: AwsClients['dynamodb'] | AwsClients['s3'] | AwsClients['sns'] | AwsClients['sqs'],
  counts: CallCounts,
) {
  const stack = (client as unknown as { middlewareStack: { add: (...a: unknown[]) => void } })
    .middlewareStack;
  stack.add(
    (next: (args: { input: Input }) => Promise<{ output: Input }>, context: { commandName?: string }) =>
      async (args: { input: Input }) => {
        const api = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        counts.calls[api] = (counts.calls[api] ?? 0) + 1;
        const input = args.input;
        if (api === 'BatchWriteItem') {
          for (const reqs of Object.values(input.RequestItems as Record<string, Input[]>))
            for (const r of reqs) {
              const item = (r.PutRequest as Input | undefined)?.Item as Record<string, AttributeValue>;
              const units = item ? writeUnits(item) : 1;
              counts.writeUnits += units;
              const skValue = item?.sk as unknown;
              const sk = isAttributeValue(skValue) ? String(skValue.S ?? '') : String(skValue ?? '');
              if (sk === 'LATEST') {
                counts.latestInBatchWrites += 1;
                continue;
              }
              counts.batchWriteUnits += units;
              counts.batchWriteItems += 1;
            }
        } else if (api === 'PutItem') {
          const item = input.Item as Record<string, AttributeValue>;
          const units = writeUnits(item);
          counts.writeUnits += units;
          const skValue = item.sk as unknown;
          const sk = isAttributeValue(skValue) ? String(skValue.S ?? '') : String(skValue ?? '');
          if (sk === 'STATE') counts.putItems.state++;
          else if (sk === 'LATEST') counts.putItems.latest++;
          else if (sk.startsWith('ALERT#')) {
            counts.putItems.alertClaim++;
            counts.alertWriteUnits += units;
          } else counts.putItems.other++;
        } else if (api === 'UpdateItem' || api === 'DeleteItem') {
          // Alert ledger items are well under 1 KB: one unit each.
          counts.writeUnits += 1;
          counts.alertWriteUnits += 1;
        } else if (api === 'PutObject') {
          const body = input.Body as Uint8Array | undefined;
          counts.s3Bytes += body?.byteLength ?? 0;
        }
        const out = await next(args);
        if (api === 'BatchGetItem') {
          const requested = Object.values(input.RequestItems as Record<string, { Keys: unknown[] }>).reduce(
            (n, r) => n + r.Keys.length,
            0,
          );
          const items = Object.values(
            (out.output.Responses ?? {}) as Record<string, Record<string, AttributeValue>[]>,
          ).flat();
          // Found items by size; keys not found still cost the minimum unit.
          counts.readUnits += items.reduce((n, it) => n + readUnits(it), 0) + (requested - items.length);
        }
        return out;
      },
    { step: 'build', name: 'benchApiCallCounter', override: true },
  );
}

/**
 * Counts calls of every SDK client in this process by patching the shared smithy Client.send (the
 * template's handler builds its own clients inside its module). Returns the undo function.
 */
function countEverySend(anyClient: object, calls: Record<string, number>): () => void {
  let proto = Object.getPrototypeOf(anyClient) as Record<string, unknown> | null;
  while (proto && !Object.hasOwn(proto, 'send')) proto = Object.getPrototypeOf(proto);
  if (!proto) throw new Error('no send() on the SDK client prototype chain');
  const owner = proto;
  const original = owner.send as (this: unknown, command: unknown, ...rest: unknown[]) => unknown;
  owner.send = function send(this: unknown, command: unknown, ...rest: unknown[]) {
    const c = command as { clientCommand?: object; constructor: { name: string } };
    const api = (c.clientCommand ?? c).constructor.name.replace(/Command$/, '');
    calls[api] = (calls[api] ?? 0) + 1;
    return original.call(this, command, ...rest);
  };
  return () => {
    owner.send = original;
  };
}

// ---------------------------------------------------------------------------------------------
// Section 2: local end-to-end latency

type LocalCloudModule = typeof import('../local/local-cloud.ts');
type LocalCloud = Awaited<ReturnType<LocalCloudModule['startLocalCloud']>>;

// ---------------------------------------------------------------------------------------------
// The local cloud, in this process or in a child process of its own

interface BenchCloud {
  readonly cloud: LocalCloud;
  readonly where: string;
  stop(): Promise<void>;
}

/** What the child process reports about the cloud it runs (everything the bench reads from it). */
interface CloudDescription {
  readonly stage: string;
  readonly region: string;
  readonly endpoints: LocalCloud['endpoints'];
  readonly env: Record<string, string>;
  readonly resources: LocalCloud['resources'];
  readonly clientConfig: LocalCloud['clientConfig'];
  readonly functionEnv: Record<string, Record<string, string>>;
  readonly bootMs: number;
}

const CHILD_FLAG = '--serve-local-cloud';

async function describeCloud(cloud: LocalCloud): Promise<CloudDescription> {
  const { kinesisMappings } = await import('../pipeline/local-pipeline.ts');
  const functionEnv: Record<string, Record<string, string>> = {};
  for (const m of kinesisMappings(cloud.template))
    functionEnv[m.functionLogicalId] = cloud.functionEnv(m.functionLogicalId);
  return {
    stage: cloud.stage,
    region: cloud.region,
    endpoints: cloud.endpoints,
    env: cloud.env,
    resources: cloud.resources,
    clientConfig: cloud.clientConfig,
    functionEnv,
    bootMs: cloud.bootMs,
  };
}

/** Child mode: boot the cloud, print its description as one JSON line, stop when stdin closes. */
async function serveLocalCloud(): Promise<void> {
  const { startLocalCloud } = (await import('../local/local-cloud.ts')) as LocalCloudModule;
  const cloud = await startLocalCloud({ stage: 'dev', countState: false });
  process.stdout.write(`${JSON.stringify(await describeCloud(cloud))}\n`);
  const stop = async () => {
    await cloud.stop();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  // Bounded: never outlive a lost parent.
  setTimeout(stop, 15 * 60_000).unref();
}

async function startBenchCloud(mode: Settings['cloud']): Promise<BenchCloud> {
  const { startLocalCloud } = (await import('../local/local-cloud.ts')) as LocalCloudModule;
  if (mode === 'inprocess') {
    const cloud = await startLocalCloud({ stage: 'dev', countState: false });
    return { cloud, where: 'in this process', stop: () => cloud.stop() };
  }
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CHILD_FLAG], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(
      () => reject(new Error('local cloud child did not start within 120 s')),
      120_000,
    );
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local cloud child exited with ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
  const d = JSON.parse(line) as CloudDescription;
  const { synthesizeTemplate } = await import('../template/synthesize.ts');
  const template = await synthesizeTemplate(d.stage);
  const dir = mkdtempSync(join(tmpdir(), 'tickstream-bench-'));
  const clients = createAwsClients(d.clientConfig);
  // The parts of LocalCloud that startLocalPipeline and this bench use, backed by the child's cloud.
  const cloud = {
    stage: d.stage,
    region: d.region,
    endpoints: d.endpoints,
    env: d.env,
    resources: d.resources,
    clientConfig: d.clientConfig,
    clients,
    template,
    bootMs: d.bootMs,
    state: { dir, persistent: false },
    functionEnv: (id: string) => {
      const env = d.functionEnv[id];
      if (!env) throw new Error(`no environment for function ${id} from the local cloud child`);
      return env;
    },
  } as unknown as LocalCloud;
  return {
    cloud,
    where: `in its own process (pid ${child.pid})`,
    async stop() {
      clients.destroy();
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGTERM'), 20_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The functions' own logs (Powertools JSON, EMF metrics) go to a file, as `npm start` does, so the
 * bench output stays readable; returns the undo function.
 */
function routeConsoleTo(file: string): { restore: () => void; stream: WriteStream } {
  const stream = createWriteStream(file, { flags: 'a' });
  const saved = {
    log: console.log,
    info: console.info,
    warn: console.warn,
    error: console.error,
    debug: console.debug,
  };
  const write = (...args: unknown[]) => {
    stream.write(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
  };
  console.log = write;
  console.info = write;
  console.warn = write;
  console.error = write;
  console.debug = write;
  return { restore: () => Object.assign(console, saved), stream };
}

export interface SentRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** performance.now() when the PutRecords call carrying it started. */
  readonly sentAt: number;
}

/** One batch the poller finished on a shard, in delivery order. */
export interface Completion {
  /** Records the shard has finished so far, this batch included. */
  readonly cum: number;
  /** performance.now() when it finished. */
  readonly at: number;
  /** It left the shard for the failure destination: no row was written. */
  readonly discarded: boolean;
}

/**
 * Records what a batch finished on its shard: all of an 'ok' or 'discarded' one, and those before
 * the first reported failure of a 'partial' one (the rest are retried and finished by a later
 * batch; counted from the retry only, every record after them would be matched one batch early).
 */
export function addCompletion(completions: Map<string, Completion[]>, b: BatchOutcome, at: number): void {
  const finished = b.status === 'discarded' ? b.size : b.succeeded;
  if (finished <= 0) return;
  const list = completions.get(b.shardId) ?? [];
  list.push({ cum: (list.at(-1)?.cum ?? 0) + finished, at, discarded: b.status === 'discarded' });
  completions.set(b.shardId, list);
}

/**
 * Matches each sent record to the batch that finished it: per shard, the i-th record in sequence
 * order is in the first batch whose cumulative count exceeds i (one lane per shard: the bench runs
 * the dev template, parallelization factor 1). A record in a discarded batch got no row, so it has no
 * latency and is counted apart; one no batch reached is unmatched. Latencies are not sorted.
 */
export function matchCompletions(
  sent: readonly SentRecord[],
  completions: ReadonlyMap<string, readonly Completion[]>,
  warmEnd: number,
): { latencies: number[]; warmLatencies: number[]; unmatched: number; discarded: number } {
  const latencies: number[] = [];
  const warmLatencies: number[] = [];
  let unmatched = 0;
  let discarded = 0;
  const byShard = new Map<string, SentRecord[]>();
  for (const r of sent) {
    const list = byShard.get(r.shardId) ?? [];
    list.push(r);
    byShard.set(r.shardId, list);
  }
  for (const [shard, list] of byShard) {
    list.sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    const done = completions.get(shard) ?? [];
    let c = 0;
    list.forEach((r, i) => {
      while (c < done.length && done[c]!.cum <= i) c++;
      if (c >= done.length) unmatched++;
      else if (done[c]!.discarded) discarded++;
      else (r.sentAt < warmEnd ? warmLatencies : latencies).push(done[c]!.at - r.sentAt);
    });
  }
  return { latencies, warmLatencies, unmatched, discarded };
}

/** The producer must reach this share of the asked rate for the run to stand for that rate. */
const MIN_SHARE_OF_ASKED_RATE = 0.95;

/**
 * Whether a latency run meets the target: p99 under it, every record processed and none discarded,
 * and the producer at the asked rate (a producer that fell behind measured a lighter load, and
 * its records' wait in its own queue is before their PutRecords call, outside the latencies).
 */
export function latencyTargetMet(r: {
  readonly p99Ms: number;
  readonly unmatched: number;
  readonly discarded: number;
  readonly achievedRecordsPerSecond: number;
  readonly askedRecordsPerSecond: number;
}): boolean {
  return (
    r.p99Ms < TARGET_P99_MS &&
    r.unmatched === 0 &&
    r.discarded === 0 &&
    r.achievedRecordsPerSecond >= MIN_SHARE_OF_ASKED_RATE * r.askedRecordsPerSecond
  );
}

interface Probe {
  readonly symbol: string;
  readonly start: number;
  readonly sentAt: number;
}

async function latencySection(
  s: Settings,
  cloud: LocalCloud,
  log: (line: string) => void,
  symbolCount: number,
): Promise<Record<string, unknown>> {
  const handlerCalls: Record<string, number> = {};
  const { startLocalPipeline } = await import('../pipeline/local-pipeline.ts');
  const streamName = cloud.env.TICKS_STREAM_NAME;
  const tableName = cloud.env.MARKET_TABLE_NAME;
  if (!streamName || !tableName) throw new Error('the local cloud has no ticks stream or market table');

  const completions = new Map<string, Completion[]>();
  const notOk: string[] = [];
  const batchSizes: number[] = [];
  const handlerMs: number[] = [];
  const onBatch = (b: BatchOutcome) => {
    const at = performance.now();
    if (b.status !== 'ok') notOk.push(`${b.shardId} ${b.status}${b.error ? `: ${b.error}` : ''}`);
    addCompletion(completions, b, at);
    if (b.status === 'ok' || b.status === 'discarded') {
      batchSizes.push(b.size);
      handlerMs.push(b.durationMs);
    }
  };

  // The handler module reads its environment and builds its logger at import: route its output first.
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const logFile = join(cloud.state.dir, `functions-${symbolCount}-symbols.log`);
  const route = routeConsoleTo(logFile);
  const undoCount = countEverySend(cloud.clients.dynamodb, handlerCalls);
  const lines: string[] = [];
  const sent: SentRecord[] = [];
  const probes: Probe[] = [];
  const probeLatencies: number[] = [];
  let probeMisses = 0;
  const probing: Promise<void>[] = [];
  const sample: { symbol: string; start: number }[] = [];
  let firstCall = Number.NaN;
  let warmEnd = Number.NaN;
  let lastCallEnd = Number.NaN;
  let calls = 0;
  let pipeline: Awaited<ReturnType<typeof startLocalPipeline>> | undefined;
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let cpu0: NodeJS.CpuUsage | undefined;
  let busy = Number.NaN;
  let cpuShare = Number.NaN;
  try {
    pipeline = await startLocalPipeline({
      cloud,
      root: ROOT,
      overrides: { batchingWindowSeconds: 0 },
      onBatch,
      log: (line) => lines.push(line),
    });
    const mapping = pipeline.mappings[0];
    lines.push(
      `mapping ${mapping?.logicalId}: batch size ${mapping?.batchSize}, template window ${mapping?.batchingWindowSeconds} s → 0 s here`,
    );

    const probe = (p: Probe) =>
      (async () => {
        const key = metricKey(p.symbol, 'bar', p.start);
        const deadline = performance.now() + 10_000;
        while (performance.now() < deadline) {
          const got = await cloud.clients.documents.send(new GetCommand({ TableName: tableName, Key: key }));
          if (got.Item) {
            probeLatencies.push(performance.now() - p.sentAt);
            return;
          }
          await sleep(PROBE_INTERVAL_MS);
        }
        probeMisses++;
      })();

    let seen = 0;
    const sender = {
      send: async (command: PutRecordsCommand): Promise<PutRecordsCommandOutput> => {
        const sentAt = performance.now();
        if (Number.isNaN(firstCall)) firstCall = sentAt;
        calls++;
        const out = await cloud.clients.kinesis.send(command);
        lastCallEnd = performance.now();
        const input = command.input.Records ?? [];
        (out.Records ?? []).forEach((r, i) => {
          if (r.ErrorCode || !r.ShardId || !r.SequenceNumber) return;
          sent.push({ shardId: r.ShardId, sequenceNumber: r.SequenceNumber, sentAt });
          seen++;
          const sampled = seen % PROBE_EVERY === 0;
          const readBack =
            seen % Math.max(1, Math.floor((s.rate * s.latencySeconds) / READBACK_SAMPLE)) === 0;
          if (sampled || readBack) {
            const e = JSON.parse(Buffer.from(input[i]!.Data!).toString('utf8')) as {
              data: { symbol: string; start: number };
            };
            if (readBack) sample.push({ symbol: e.data.symbol, start: e.data.start });
            if (sampled) {
              const p = { symbol: e.data.symbol, start: e.data.start, sentAt };
              probes.push(p);
              probing.push(probe(p));
            }
          }
        });
        return out;
      },
    };
    const publisher = new KinesisPublisher({ streamName, kinesis: sender });
    // Symbols of their own per run: a second run with the same count must not replay the first.
    const symbols = symbolNames(`L${++latencyRuns}N${symbolCount}X`, symbolCount);
    const warmCount = s.rate * s.warmupSeconds;
    const total = warmCount + s.rate * s.latencySeconds;
    const bars = new RealBarMarket(symbols, Math.ceil(total / symbols.length)).bars(total);
    let published = 0;
    // Paced: every 10 ms, publish what is due at the rate (the publisher batches them per call).
    const pace = async (until: number) => {
      const t0 = performance.now();
      const from = published;
      while (published < until) {
        const due = Math.min(until, from + Math.floor(((performance.now() - t0) * s.rate) / 1000));
        for (; published < due; published++)
          await publisher.publish({ kind: 'bar', bar: bars.next().value as Bar });
        await sleep(10);
      }
      const report = await publisher.flush();
      if (report.failed.length > 0)
        throw new Error(`${report.failed.length} records not delivered: ${report.failed[0]?.reason}`);
    };
    // Bounded wait for the processor to catch up.
    const caughtUp = async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        pipeline!.idle(),
        new Promise<void>((r) => {
          timer = setTimeout(r, 30_000);
        }),
      ]);
      clearTimeout(timer);
    };
    // The warm-up ends caught up, so the measured window starts from a steady pipeline, not a backlog.
    if (warmCount > 0) {
      await pace(warmCount);
      await caughtUp();
    }
    warmEnd = performance.now();
    elu0 = performance.eventLoopUtilization();
    cpu0 = process.cpuUsage();
    await pace(total);
    await caughtUp();
    const elu = performance.eventLoopUtilization(elu0);
    busy = elu.utilization;
    cpuShare = (cpuSecondsSince(cpu0) * 1000) / (elu.idle + elu.active);
    await Promise.all(probing);
  } finally {
    await pipeline?.stop();
    undoCount();
    route.restore();
    await new Promise<void>((r) => route.stream.end(r));
  }
  for (const line of lines) log(`  ${line}`);
  for (const line of notOk.slice(0, 5)) log(`  batch not ok: ${line}`);

  const { latencies, warmLatencies, unmatched, discarded } = matchCompletions(sent, completions, warmEnd);
  latencies.sort((a, b) => a - b);
  warmLatencies.sort((a, b) => a - b);
  probeLatencies.sort((a, b) => a - b);

  // Per-sink latency as the handler reported it (EMF SinkLatency lines in the function log).
  const sinkMs = new Map<string, number[]>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('SinkLatency')) continue;
    try {
      const o = JSON.parse(line) as { sink?: string; SinkLatency?: number | number[] };
      if (typeof o.sink !== 'string' || o.SinkLatency === undefined) continue;
      const list = sinkMs.get(o.sink) ?? [];
      list.push(...(Array.isArray(o.SinkLatency) ? o.SinkLatency : [o.SinkLatency]));
      sinkMs.set(o.sink, list);
    } catch {
      // not an EMF line
    }
  }
  const sinks = Object.fromEntries(
    [...sinkMs].map(([sink, list]) => {
      list.sort((a, b) => a - b);
      return [
        sink,
        { calls: list.length, p50Ms: round(percentile(list, 50), 1), p99Ms: round(percentile(list, 99), 1) },
      ];
    }),
  );

  // Read-back: a sample of metric rows must be in the table.
  let found = 0;
  for (const k of sample) {
    const got = await cloud.clients.documents.send(
      new GetCommand({ TableName: tableName, Key: metricKey(k.symbol, 'bar', k.start) }),
    );
    if (got.Item) found++;
  }

  const seconds = (lastCallEnd - Math.max(firstCall, warmEnd)) / 1000;
  const achieved = sent.filter((r) => r.sentAt >= warmEnd).length / seconds;
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const max = latencies.at(-1) ?? Number.NaN;
  const met = latencyTargetMet({
    p99Ms: p99,
    unmatched,
    discarded,
    achievedRecordsPerSecond: achieved,
    askedRecordsPerSecond: s.rate,
  });
  const slowProducer = achieved < MIN_SHARE_OF_ASKED_RATE * s.rate;
  const meanBatch = batchSizes.reduce((a, b) => a + b, 0) / Math.max(1, batchSizes.length);
  log(
    `latency: ${fmt(sent.length)} records at ${fmt(achieved)} records/s achieved (asked ${fmt(s.rate)}, ${calls} PutRecords calls, ${symbolCount} symbols), ` +
      `${batchSizes.length} batches of ${meanBatch.toFixed(1)} records on average; ` +
      (s.warmupSeconds > 0
        ? `first a ${s.warmupSeconds} s warm-up at the same rate (every symbol's first state item, JIT), then a wait until caught up, not counted below: ` +
          `${fmt(warmLatencies.length)} records, p50 ${percentile(warmLatencies, 50).toFixed(1)} ms, p99 ${percentile(warmLatencies, 99).toFixed(1)} ms`
        : 'no warm-up: every record is counted'),
  );
  log(
    `PutRecords → handler done (rows written): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
      `target p99 < ${TARGET_P99_MS} ms: ${met ? 'met' : 'NOT met'}${unmatched > 0 ? ` (${unmatched} records never processed)` : ''}${discarded > 0 ? ` (${discarded} records discarded to the failure destination, not counted)` : ''}${slowProducer ? ` (the producer reached ${fmt(achieved)} of the asked ${fmt(s.rate)} records/s)` : ''}`,
  );
  log(
    `probe (GetItem every ${PROBE_INTERVAL_MS} ms until the row is visible, ${probes.length} records): ` +
      `p50 ${percentile(probeLatencies, 50).toFixed(1)} ms, p99 ${percentile(probeLatencies, 99).toFixed(1)} ms, ` +
      `max ${(probeLatencies.at(-1) ?? Number.NaN).toFixed(1)} ms${probeMisses > 0 ? `, ${probeMisses} never seen` : ''}; ` +
      `read-back after the run: ${found}/${sample.length} sampled rows present`,
  );
  const sortedHandler = [...handlerMs].sort((a, b) => a - b);
  // The template's handler's own API calls (the bench's Kinesis calls and GetItem probes left out).
  const handlerCallsPerMillion = Object.fromEntries(
    Object.entries(handlerCalls)
      .filter(([k]) => !['PutRecords', 'GetRecords', 'GetShardIterator', 'ListShards', 'GetItem'].includes(k))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Math.round(perMillion(v, Math.max(1, sent.length)))]),
  );
  log(
    `handler per batch: p50 ${percentile(sortedHandler, 50).toFixed(1)} ms, p99 ${percentile(sortedHandler, 99).toFixed(1)} ms; ` +
      `per sink call (p50/p99 ms): ${Object.entries(sinks)
        .map(([k, v]) => `${k} ${v.p50Ms}/${v.p99Ms} ×${v.calls}`)
        .join(', ')}`,
  );
  log(
    `bench process (producer + processor${s.cloud === 'inprocess' ? ' + emulators' : '; emulators in their own process'}): ` +
      `event loop ${(busy * 100).toFixed(0)} % busy, ` +
      `CPU ${(cpuShare * 100).toFixed(0)} % of one core; handler API calls per 1,000,000 records at this batch size: ${Object.entries(
        handlerCallsPerMillion,
      )
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}`,
  );
  return {
    records: sent.length,
    askedRecordsPerSecond: s.rate,
    achievedRecordsPerSecond: Math.round(achieved),
    seconds: round(seconds, 2),
    symbols: symbolCount,
    putRecordsCalls: calls,
    batches: batchSizes.length,
    meanBatchSize: round(meanBatch, 1),
    batchingWindowSeconds: 0,
    handlerMsP50: round(
      percentile(
        [...handlerMs].sort((a, b) => a - b),
        50,
      ),
      1,
    ),
    p50Ms: round(p50, 1),
    p99Ms: round(p99, 1),
    maxMs: round(max, 1),
    measuredRecords: latencies.length,
    warmup: {
      seconds: s.warmupSeconds,
      records: warmLatencies.length,
      p50Ms: round(percentile(warmLatencies, 50), 1),
      p99Ms: round(percentile(warmLatencies, 99), 1),
    },
    unmatchedRecords: unmatched,
    discardedRecords: discarded,
    batchesNotOk: notOk.length,
    probe: {
      records: probes.length,
      p50Ms: round(percentile(probeLatencies, 50), 1),
      p99Ms: round(percentile(probeLatencies, 99), 1),
      maxMs: round(probeLatencies.at(-1) ?? Number.NaN, 1),
      neverSeen: probeMisses,
    },
    readBack: { sampled: sample.length, found },
    targetP99Ms: TARGET_P99_MS,
    targetMet: met,
  };
}

// ---------------------------------------------------------------------------------------------
// Section 3: cost model

/** Which sink each counted API call belongs to. */
const SINK_OF: Record<string, string> = {
  BatchWriteItem: 'dynamodb metric rows',
  BatchGetItem: 'dynamodb state reads',
  Publish: 'sns alerts',
  PutObject: 's3 lake',
  SendMessageBatch: 'sqs rejected records',
  SendMessage: 'sqs rejected records',
  UpdateItem: 'dynamodb alert ledger',
  DeleteItem: 'dynamodb alert ledger',
};

function perMillion(n: number, records: number): number {
  return (n * 1_000_000) / records;
}

const pct = (x: number) => `${Math.round(x * 100)} %`;
const usd = (x: number) => `$${x.toFixed(4)}`;
const itemized = (o: CostBreakdown) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${usd(v)}`)
    .join(', ');

/** The JSON figures of one pricing. */
function usdFigures(priced: PricedDesigns) {
  const rounded = (o: CostBreakdown) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v, 5)]));
  return {
    batched: rounded(priced.batched),
    batchedTotal: round(priced.batchedTotal, 4),
    perRecordDesign: rounded(priced.perRecord),
    perRecordDesignTotal: round(priced.perRecordTotal, 4),
  };
}

/** Assumed share of a provisioned shard's capacity in use (the stream has a fixed shard count). */
const KINESIS_SHARD_UTILIZATION = 0.7;

/**
 * The prod stage's capacity model, read from its synthesized template: the table's target-tracking
 * values when it is provisioned (on demand otherwise).
 */
async function prodCapacityModel(): Promise<CapacityModel> {
  const { synthesizeTemplate } = await import('../template/synthesize.ts');
  const t = await synthesizeTemplate('prod');
  const table = t.Resources.MarketTable?.Properties as Record<string, unknown> | undefined;
  if (table?.BillingMode !== 'PROVISIONED') return { mode: 'on-demand' };
  const target = (metric: string) => {
    for (const r of Object.values(t.Resources)) {
      const c = (r.Properties as Record<string, Record<string, unknown>> | undefined)
        ?.TargetTrackingScalingPolicyConfiguration;
      const spec = c?.PredefinedMetricSpecification as Record<string, unknown> | undefined;
      if (r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy' && spec?.PredefinedMetricType === metric)
        return Number(c?.TargetValue) / 100;
    }
    throw new Error(`prod template: the provisioned table has no target-tracking policy on ${metric}`);
  };
  return {
    mode: 'provisioned',
    dynamodbWriteUtilization: target('DynamoDBWriteCapacityUtilization'),
    dynamodbReadUtilization: target('DynamoDBReadCapacityUtilization'),
    kinesisShardUtilization: KINESIS_SHARD_UTILIZATION,
  };
}

async function costSection(
  s: Settings,
  cloud: LocalCloud,
  verboseLog: (line: string) => void,
  symbolCount: number,
  prodModel: CapacityModel,
): Promise<Record<string, unknown>> {
  const log = verboseLog;
  const { kinesisMappings } = await import('../pipeline/local-pipeline.ts');
  const mapping = kinesisMappings(cloud.template)[0];
  if (!mapping) throw new Error('the template has no Kinesis event source mapping');
  const env = cloud.functionEnv(mapping.functionLogicalId);
  const fn = cloud.template.Resources[mapping.functionLogicalId]?.Properties as Record<string, unknown>;
  const memoryMb = Number(fn?.MemorySize ?? 1024);
  const { MARKET_TABLE_NAME: table, LAKE_BUCKET_NAME: bucket, ALERTS_TOPIC_ARN: topic } = env;
  const dlq = env.DEAD_LETTER_QUEUE_URL;
  if (!table || !bucket || !topic || !dlq)
    throw new Error('processor environment incomplete in the local cloud');
  const ttlDays = Number(env.METRICS_TTL_DAYS ?? 30);
  const timestreamOn = env.TIMESTREAM_ENABLED === 'true';

  const counts = newCounts();
  const clients = createAwsClients(cloud.clientConfig);
  for (const c of [clients.dynamodb, clients.s3, clients.sns, clients.sqs]) instrument(c, counts);
  const puts = counts.putItems;
  const errors: string[] = [];
  // The lake writer's wall clock is the stream's: the records, 2024 days, stand for live data,
  // so no day is late and no late-day mark is counted (a backfill adds one empty PUT per object).
  let streamNow = 0;
  const deps: ProcessDeps = {
    engines: analyticsEngines(),
    state: new DynamoDbStateStore({ documents: clients.documents, tableName: table }),
    metrics: new DynamoDbMetricsStore({ documents: clients.documents, tableName: table, ttlDays }),
    lake: new S3LakeWriter({ s3: clients.s3, bucket, now: () => streamNow }),
    ledger: new DynamoDbAlertLedger({ documents: clients.documents, tableName: table }),
    notifier: new SnsAlertNotifier({ sns: clients.sns, topicArn: topic }),
    rejects: new SqsRejectedRecordSink({ sqs: clients.sqs, queueUrl: dlq }),
    clock: Date.now,
    log: {
      ...quiet,
      error: (message, attributes) => errors.push(`${message} ${JSON.stringify(attributes ?? {})}`),
    },
  };

  // Steady state: every symbol starts with a full history (WARM_BARS bars, ≥ the 200-bar windows),
  // computed in memory and stored as its state item, so the counted batches load and save
  // full-size state documents as a long-running stream does.
  const symbols = symbolNames(`C${symbolCount}X`, symbolCount);
  const warmRecords = WARM_BARS * symbolCount;
  const sampleDay = loadSampleBars().length;
  const costRecords = s.costRecords ?? symbolCount * sampleDay;
  const [warmBatches, measured] = splitStreamBatches(
    new RealBarMarket(symbols, WARM_BARS + Math.ceil(costRecords / symbolCount) + 1),
    warmRecords + costRecords,
    warmRecords,
  );
  const memory = createMemorySinks();
  const memoryDeps: ProcessDeps = { ...deps, ...memory, timeseries: undefined, log: deps.log } as ProcessDeps;
  for (const b of warmBatches) {
    const r = await processBatch(b, memoryDeps);
    if (r.failures.length > 0)
      throw new Error(`cost run warm-up: ${r.failures.length} failure(s): ${errors[0] ?? 'no error logged'}`);
  }
  const primer = new DynamoDbStateStore({ documents: cloud.clients.documents, tableName: table });
  let stateBytes = 0;
  for (const symbol of symbols) {
    const state = memory.state.get(symbol);
    if (!state) continue;
    stateBytes += (state.snapshot as Uint8Array).byteLength;
    if ((await primer.save(state, undefined)) !== 'saved')
      throw new Error(`cost run: state of ${symbol} exists`);
  }
  const meanStateBytes = stateBytes / symbols.length;

  let records = 0;
  let rows = 0;
  let alerts = 0;
  let rejected = 0;
  let kinesisKb = 0;
  let kinesisPayloadUnits = 0;
  let kinesisBytes = 0;
  let lambdaMs = 0;
  for (const batch of measured) {
    streamNow = batch.at(-1)!.arrivalTime;
    const t0 = performance.now();
    const r = await processBatch(batch, deps);
    lambdaMs += performance.now() - t0;
    if (r.failures.length > 0)
      throw new Error(
        `cost run: a batch reported ${r.failures.length} failure(s): ${errors[0] ?? 'no error logged'}`,
      );
    records += batch.length;
    rows += r.rows;
    alerts += r.alertsPublished;
    rejected += r.rejected.length;
    for (const rec of batch) {
      const bytes = Buffer.byteLength(rec.data, 'base64') + Buffer.byteLength(rec.partitionKey);
      kinesisBytes += bytes;
      kinesisKb += Math.ceil(bytes / 1024);
      kinesisPayloadUnits += Math.ceil(bytes / (25 * 1024));
    }
  }
  clients.destroy();
  if (records === 0)
    throw new Error('cost run: BENCH_PROCESSOR_COST_RECORDS too small for one measured batch');

  const m = (n: number) => perMillion(n, records);
  const calls = Object.fromEntries(
    Object.entries(counts.calls)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Math.round(m(v))]),
  );
  const invocations = m(measured.length);
  const gbSeconds = (m(lambdaMs) / 1000) * (memoryMb / 1024);
  const kinesisGb = (m(kinesisKb) * 1024) / 1024 ** 3;
  // Average WRUs of one metric row, as BatchWriteItem billed it (for the per-record design's PutItem).
  const rowWriteUnitsPerRow =
    counts.batchWriteItems > 0 ? counts.batchWriteUnits / counts.batchWriteItems : 1;
  const rowsPerRecord = rows / records;
  const usage: CostUsage = {
    writeUnits: m(counts.writeUnits),
    readUnits: m(counts.readUnits),
    s3Puts: m(counts.calls.PutObject ?? 0),
    snsPublishes: m(counts.calls.Publish ?? 0),
    sqsRequests: m((counts.calls.SendMessageBatch ?? 0) + (counts.calls.SendMessage ?? 0)),
    lambdaInvocations: invocations,
    lambdaGbSeconds: gbSeconds,
    kinesisKb: m(kinesisKb),
    kinesisBytes: m(kinesisBytes),
    kinesisPayloadUnits: m(kinesisPayloadUnits),
    perRecordWriteUnits: 1_000_000 * rowsPerRecord * rowWriteUnitsPerRow + m(counts.alertWriteUnits),
  };
  const onDemand = priceDesigns(usage, { mode: 'on-demand' });
  const provisioned = priceDesigns(usage, prodModel);
  const { batched, perRecord, batchedTotal, perRecordTotal, factor } = onDemand;
  const met = factor >= TARGET_COST_FACTOR;
  const prodMet = provisioned.factor >= TARGET_COST_FACTOR;
  const p = PRICES_USD;

  log(
    `cost: ${fmt(records)} records (${symbolCount} symbols, ${SHARDS} shards, batches of ${BATCH_SIZE}, ${measured.length} batches counted; each symbol's state primed with ${WARM_BARS} bars of history, an encoded snapshot of ${fmt(meanStateBytes)} bytes) ` +
      `through the real AWS adapters against the emulators; every default sink on (Timestream ${timestreamOn ? 'ON' : 'off, the default'})`,
  );
  log(
    `API calls per 1,000,000 records: ${Object.entries(calls)
      .map(([k, v]) => `${k} ${fmt(v)}${SINK_OF[k] ? ` (${SINK_OF[k]})` : ''}`)
      .join(
        ', ',
      )}; PutItem by item: state ${fmt(m(puts.state))}, LATEST ${fmt(m(puts.latest))}, alert claims ${fmt(m(puts.alertClaim))}; LATEST items inside the BatchWriteItem calls ${fmt(m(counts.latestInBatchWrites))}`,
  );
  log(
    `units per 1,000,000 records: ${fmt(m(counts.writeUnits))} WRU (${rowWriteUnitsPerRow.toFixed(2)} per metric row, ${rowsPerRecord.toFixed(3)} rows per record), ` +
      `${fmt(m(counts.readUnits))} RRU; S3 ${fmt(m(counts.s3Bytes) / 1024 / 1024)} MiB gzip; Lambda ${fmt(invocations)} invocations, ` +
      `${gbSeconds.toFixed(1)} GB-s at ${memoryMb} MB (batch durations measured here against the local emulators); Kinesis ${kinesisGb.toFixed(3)} GB (1 KB rounding)`,
  );
  log(
    `prices (us-east-1 list): DynamoDB on-demand $${p.dynamodbPerMillionWriteRequestUnits}/M WRU, $${p.dynamodbPerMillionReadRequestUnits}/M RRU; ` +
      `S3 PUT $${p.s3PerThousandPutRequests}/1,000; SNS publish $${p.snsPerMillionPublishes}/M; SQS $${p.sqsPerMillionRequests}/M requests; ` +
      `Lambda arm64 $${p.lambdaArm64PerGbSecond}/GB-s + $${p.lambdaPerMillionRequests}/M requests; Kinesis on-demand $${p.kinesisOnDemandPerGbIngested}/GB ingested + $${p.kinesisOnDemandPerGbRetrieved}/GB retrieved by the processor (GetRecords calls themselves not billed; $${p.kinesisOnDemandPerStreamHour} per stream-hour is fixed, not per record)`,
  );
  log(`per 1,000,000 records: batched design ${usd(batchedTotal)} (${itemized(batched)})`);
  log(
    `per-record design ${usd(perRecordTotal)} (S3 PUTs ${usd(perRecord.s3Puts)}, PutItem ${usd(perRecord.dynamodbWrites)}, rest as above): ` +
      `${factor.toFixed(1)}× the batched cost on demand (dev, staging); target ≥ ${TARGET_COST_FACTOR}×: ${met ? 'met' : 'NOT met'}`,
  );
  log(
    `  ceiling on demand: ${onDemand.ceiling.toFixed(1)}× (${usd(perRecordTotal)} / ${usd(perRecordTotal - perRecord.s3Puts)}): both designs write the same metric row per record ` +
      `(${usd(perRecord.dynamodbWrites)}), so a batched design with free state, LATEST, lake and alerts saves the S3 PUTs and nothing more; provisioned: ${provisioned.ceiling.toFixed(1)}×`,
  );
  if (prodModel.mode === 'provisioned') {
    log(
      `prod, provisioned capacity (DynamoDB $${p.dynamodbPerWcuHour}/WCU-h, $${p.dynamodbPerRcuHour}/RCU-h at the template's ${pct(prodModel.dynamodbWriteUtilization)} / ${pct(prodModel.dynamodbReadUtilization)} target utilisation; ` +
        `Kinesis $${p.kinesisPerShardHour}/shard-h at an assumed ${pct(prodModel.kinesisShardUtilization)} of a shard + $${p.kinesisPerMillionPutPayloadUnits}/M PUT payload units): ` +
        `batched ${usd(provisioned.batchedTotal)} (${itemized(provisioned.batched)}) vs per-record ${usd(provisioned.perRecordTotal)}: ` +
        `${provisioned.factor.toFixed(1)}×; target ≥ ${TARGET_COST_FACTOR}×: ${prodMet ? 'met' : 'NOT met'}`,
    );
  }
  return {
    records,
    symbols: symbolCount,
    shards: SHARDS,
    batchSize: BATCH_SIZE,
    batches: measured.length,
    warmBarsPerSymbol: WARM_BARS,
    meanStateBytes: Math.round(meanStateBytes),
    rows,
    alertsPublished: alerts,
    rejected,
    timestreamEnabled: timestreamOn,
    callsPerMillionRecords: calls,
    putItemsPerMillionRecords: {
      state: Math.round(m(puts.state)),
      latest: Math.round(m(puts.latest)),
      alertClaim: Math.round(m(puts.alertClaim)),
      latestInBatchWrites: Math.round(m(counts.latestInBatchWrites)),
      other: Math.round(m(puts.other)),
    },
    writeUnitsPerMillionRecords: Math.round(m(counts.writeUnits)),
    readUnitsPerMillionRecords: Math.round(m(counts.readUnits)),
    writeUnitsPerMetricRow: round(rowWriteUnitsPerRow, 3),
    s3BytesPerMillionRecords: Math.round(m(counts.s3Bytes)),
    lambda: {
      memoryMb,
      invocationsPerMillionRecords: Math.round(invocations),
      gbSecondsPerMillionRecords: round(gbSeconds, 2),
    },
    kinesisGbPerMillionRecords: round(kinesisGb, 4),
    kinesisMeanRecordBytes: round(kinesisBytes / records, 1),
    pricesUsd: PRICES_USD,
    usdPerMillionRecords: usdFigures(onDemand),
    cheaperFactor: round(factor, 2),
    cheaperFactorCeiling: round(onDemand.ceiling, 2),
    targetFactor: TARGET_COST_FACTOR,
    targetMet: met,
    prodProvisioned: {
      model: prodModel,
      usdPerMillionRecords: usdFigures(provisioned),
      cheaperFactor: round(provisioned.factor, 2),
      cheaperFactorCeiling: round(provisioned.ceiling, 2),
      targetMet: prodMet,
    },
  };
}

// ---------------------------------------------------------------------------------------------

export async function run(log: (line: string) => void): Promise<Record<string, unknown>> {
  const s = settingsFromEnv();
  const figures: Record<string, unknown> = {};
  if (s.sections.has('throughput')) figures.throughput = await throughputSection(s, log);
  if (s.sections.has('latency') || s.sections.has('cost')) {
    const t0 = performance.now();
    const bench = await startBenchCloud(s.cloud);
    const cloud = bench.cloud;
    log(
      `local cloud (ephemeral, template of stage dev) ${bench.where}, up in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    try {
      if (s.sections.has('latency')) {
        const runs: Record<string, unknown>[] = [];
        for (const n of s.latencySymbols) runs.push(await latencySection(s, cloud, log, n));
        figures.latency = {
          targetP99Ms: TARGET_P99_MS,
          targetMet: runs.every((r) => r.targetMet === true),
          bySymbolCount: runs,
        };
      }
      if (s.sections.has('cost')) {
        const prodModel = await prodCapacityModel();
        const main = await costSection(s, cloud, log, s.symbols, prodModel);
        // Denser batches (more records per symbol per batch) spread the per-symbol items thinner.
        const others: Record<string, unknown>[] = [];
        for (const n of [20].filter((x) => x !== s.symbols)) {
          const r = await costSection(s, cloud, () => {}, n, prodModel);
          const dollars = r.usdPerMillionRecords as ReturnType<typeof usdFigures>;
          log(
            `  ${n} symbols (${(r.records as number) / (r.batches as number) / Math.ceil(n / SHARDS)} records per symbol per batch): ` +
              `batched ${usd(dollars.batchedTotal)} vs per-record ${usd(dollars.perRecordDesignTotal)} per million records: ${(r.cheaperFactor as number).toFixed(1)}× on demand, ` +
              `${(r.prodProvisioned as { cheaperFactor: number }).cheaperFactor.toFixed(1)}× on prod's provisioned capacity`,
          );
          others.push(r);
        }
        figures.cost = { ...main, bySymbolCount: others };
      }
    } finally {
      await bench.stop();
    }
  }
  figures.cloud = s.cloud;
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === CHILD_FLAG) await serveLocalCloud();
  if (process.argv[2] === VARIANT_FLAG) {
    const variant = process.argv[3] as ChildVariant;
    if (!(variant in CHILD_VARIANTS)) throw new Error(`unknown throughput variant '${variant}'`);
    const [symbols, records, passes] = process.argv.slice(4).map(Number);
    console.log(JSON.stringify(await measureVariant(variant, symbols!, records!, passes!)));
  }
}
