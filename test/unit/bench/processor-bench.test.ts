/**
 * Smoke test of the processor bench part (`npm run bench -- processor`) with tiny sizes: it checks
 * the output contract — human lines, then ONE JSON object as the last line — and the figures that
 * follow from the workload and from AWS's published limits and prices, never speeds.
 *
 * Workload here: 10 symbols (3, 3, 2, 2 on the 4 shards), 1,000 counted records = 100 one-minute
 * bars per symbol, all inside one trading day (bars 250–349 of the 389-bar AAPL sample day).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  addCompletion,
  type Completion,
  type CostUsage,
  latencyTargetMet,
  matchCompletions,
  priceDesigns,
  type SentRecord,
} from '../../../scripts/bench/processor.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function bench(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['scripts/bench/index.ts', 'processor'], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { status: r.status, lines: r.stdout.trim().split('\n'), stderr: r.stderr };
}

const SMALL = {
  BENCH_PROCESSOR_RECORDS: '1000',
  BENCH_PROCESSOR_SYMBOLS: '10',
  BENCH_PROCESSOR_LATENCY_SECONDS: '2',
  BENCH_PROCESSOR_LATENCY_WARMUP_SECONDS: '1',
  BENCH_PROCESSOR_RATE: '200',
  BENCH_PROCESSOR_LATENCY_SYMBOLS: '5',
  BENCH_PROCESSOR_COST_RECORDS: '1000',
};

describe('npm run bench -- processor', () => {
  it('runs the three sections and ends with one JSON object of their figures', { timeout: 180_000 }, () => {
    const { status, lines, stderr } = bench(SMALL);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const last = JSON.parse(lines.at(-1)!);
    expect(Object.keys(last)).toEqual(['processor']);
    const { throughput, latency, cost } = last.processor;
    expect(lines.slice(0, -1).every((l) => !l.startsWith('{'))).toBe(true);

    // 1. throughput: every bar is processed into exactly one metric row; the ratio is pipeline/bare.
    expect(throughput.records).toBe(1000);
    expect(throughput.rows).toBe(1000);
    expect(throughput.batches).toBe(4); // 300, 300, 200, 200 records: one batch per shard
    // Rates per CPU-second (one core's worth) are what the targets read; wall-clock ones beside.
    expect(throughput.pipelineRecordsPerCpuSecond).toBeGreaterThan(0);
    expect(throughput.bareDecodeRecordsPerCpuSecond).toBeGreaterThan(0);
    expect(throughput.pipelineRecordsPerSecondWall).toBeGreaterThan(0);
    expect(throughput.shareOfBareDecode).toBeCloseTo(
      throughput.pipelineRecordsPerCpuSecond / throughput.bareDecodeRecordsPerCpuSecond,
      3,
    );
    expect(throughput.targetRecordsPerSecondMet).toBe(throughput.pipelineRecordsPerCpuSecond >= 100_000);
    // The floor (decode plus the lake's line and gzip alone) and the pipeline without the lake's
    // encoding, each measured in a child process of its own against that process's bare decode.
    for (const f of [throughput.floor, throughput.withoutLakeEncoding]) {
      expect(f.recordsPerCpuSecond).toBeGreaterThan(0);
      expect(f.bareDecodeRecordsPerCpuSecond).toBeGreaterThan(0);
      expect(f.shareOfBareDecode).toBeCloseTo(f.recordsPerCpuSecond / f.bareDecodeRecordsPerCpuSecond, 2);
    }
    expect(lines.some((l) => l.includes("floor, in a process of its own: bare decode + the lake's"))).toBe(
      true,
    );
    expect(lines.some((l) => l.includes("in a process of its own, without the lake's encoding"))).toBe(true);
    expect(throughput.bySymbolCount.map((r: { symbols: number }) => r.symbols)).toEqual([20, 2000]);
    expect(lines.some((l) => l.includes('bare base64 + JSON.parse'))).toBe(true);

    // 2. latency: every record sent is matched to the batch that processed it and its row is stored.
    const run = latency.bySymbolCount[0];
    expect(run.symbols).toBe(5);
    // 200 records/s for a 1 s warm-up, then 2 measured seconds; warm-up records are counted apart.
    expect(run.records).toBe(600);
    expect(run.warmup.seconds).toBe(1);
    expect(run.warmup.records).toBeGreaterThan(0);
    expect(run.measuredRecords).toBeGreaterThan(0);
    expect(run.warmup.records + run.measuredRecords).toBe(600);
    expect(run.unmatchedRecords).toBe(0);
    expect(run.discardedRecords).toBe(0);
    expect(run.batchesNotOk).toBe(0);
    expect(run.readBack.sampled).toBeGreaterThan(0);
    expect(run.readBack.found).toBe(run.readBack.sampled);
    expect(run.p50Ms).toBeGreaterThan(0);
    expect(run.p50Ms).toBeLessThanOrEqual(run.p99Ms);
    expect(run.p99Ms).toBeLessThanOrEqual(run.maxMs);
    expect(run.batchingWindowSeconds).toBe(0);
    expect(latency.targetP99Ms).toBe(250);

    // 3. cost: calls follow from the batch shapes and DynamoDB's 25-item BatchWriteItem limit.
    expect(cost.records).toBe(1000);
    expect(cost.batches).toBe(4);
    expect(cost.rows).toBe(1000);
    const perMillion = 1_000_000 / 1000;
    // Rows and each symbol's LATEST item share the batch writes of 25:
    // ⌈(300+3)/25⌉ + ⌈(300+3)/25⌉ + ⌈(200+2)/25⌉ + ⌈(200+2)/25⌉ = 44 BatchWriteItem calls per 1,000 records
    expect(cost.callsPerMillionRecords.BatchWriteItem).toBe(44 * perMillion);
    // one state BatchGetItem and one lake object per batch (one shard, one day each)
    expect(cost.callsPerMillionRecords.BatchGetItem).toBe(4 * perMillion);
    expect(cost.callsPerMillionRecords.PutObject).toBe(4 * perMillion);
    // one conditional state put per symbol per batch; its LATEST item rides in the batch writes
    expect(cost.putItemsPerMillionRecords.state).toBe(10 * perMillion);
    expect(cost.putItemsPerMillionRecords.latest).toBe(0);
    expect(cost.putItemsPerMillionRecords.latestInBatchWrites).toBe(10 * perMillion);
    // prices: $0.005 per 1,000 PUTs → one PUT per record costs $5 per million records
    expect(cost.pricesUsd.s3PerThousandPutRequests).toBe(0.005);
    expect(cost.usdPerMillionRecords.perRecordDesign.s3Puts).toBeCloseTo(5, 6);
    expect(cost.usdPerMillionRecords.batched.s3Puts).toBeCloseTo((4 * perMillion * 0.005) / 1000, 6);
    expect(cost.lambda.invocationsPerMillionRecords).toBe(4 * perMillion);
    expect(cost.cheaperFactor).toBeCloseTo(
      cost.usdPerMillionRecords.perRecordDesignTotal / cost.usdPerMillionRecords.batchedTotal,
      1,
    );
    expect(lines.some((l) => l.includes('per-record design'))).toBe(true);
    // prod is priced on its provisioned table, at the template's 70 % target utilisation.
    expect(cost.prodProvisioned.model).toMatchObject({
      mode: 'provisioned',
      dynamodbWriteUtilization: 0.7,
      dynamodbReadUtilization: 0.7,
    });
    expect(cost.prodProvisioned.usdPerMillionRecords.perRecordDesign.s3Puts).toBeCloseTo(5, 6);
    expect(lines.some((l) => l.startsWith('[processor] prod, provisioned capacity'))).toBe(true);
  });

  it('rejects a malformed setting naming it, and still ends with the JSON line', () => {
    const { status, lines } = bench({ BENCH_PROCESSOR_SECTIONS: 'throughput,speed' });
    expect(status).toBe(1);
    expect(JSON.parse(lines.at(-1)!).processor.error).toContain('BENCH_PROCESSOR_SECTIONS');
  });
});

describe('priceDesigns: both designs at AWS list prices (us-east-1)', () => {
  // One million records that used: 1M WRU and 200k RRU, 2,000 lake PUTs and Lambda invocations,
  // 100 GB-s, 1M KB on the stream (500 MB of payload, one 25 KB unit per record); the per-record
  // design writes 1M WRU (one PutItem per record).
  const usage: CostUsage = {
    writeUnits: 1e6,
    readUnits: 2e5,
    s3Puts: 2000,
    snsPublishes: 1000,
    sqsRequests: 10,
    lambdaInvocations: 2000,
    lambdaGbSeconds: 100,
    kinesisKb: 1e6,
    kinesisBytes: 5e8,
    kinesisPayloadUnits: 1e6,
    perRecordWriteUnits: 1e6,
  };
  // Shared by both designs: SNS $0.50/M, SQS $0.40/M, Lambda $0.20/M requests + $0.0000133334/GB-s.
  const shared = (1000 * 0.5) / 1e6 + (10 * 0.4) / 1e6 + (2000 * 0.2) / 1e6 + 100 * 0.0000133334;

  it('on demand: per request unit, per GB ingested and per GB retrieved', () => {
    // 1M KB = 0.954 GB at $0.08/GB ingested, and read once by the processor at $0.04/GB retrieved
    // (an on-demand stream bills the GetRecords data the Lambda event source mapping reads).
    const kinesis = (1e6 / 1024 ** 2) * (0.08 + 0.04);
    const r = priceDesigns(usage, { mode: 'on-demand' });
    expect(r.batched.kinesis).toBeCloseTo(kinesis, 9);
    expect(r.perRecord.kinesis).toBeCloseTo(kinesis, 9);
    expect(r.batched.dynamodbWrites).toBeCloseTo(0.625, 9); // $0.625 per million WRU
    expect(r.batched.dynamodbReads).toBeCloseTo(0.025, 9); // $0.125 per million RRU
    expect(r.batched.s3Puts).toBeCloseTo(0.01, 9); // $0.005 per 1,000 PUTs
    expect(r.batchedTotal).toBeCloseTo(0.625 + 0.025 + 0.01 + shared + kinesis, 9);
    expect(r.perRecordTotal).toBeCloseTo(0.625 + 5 + shared + kinesis, 9);
    expect(r.factor).toBeCloseTo(r.perRecordTotal / r.batchedTotal, 12);
    // Both write the metric rows ($0.625) and share the rest: only the $5 of PUTs can be saved.
    expect(r.ceiling).toBeCloseTo((0.625 + 5 + shared + kinesis) / (0.625 + shared + kinesis), 9);
    expect(r.ceiling).toBeLessThan(10);
  });

  it('provisioned: per capacity-hour at the utilisation kept', () => {
    const model = {
      mode: 'provisioned',
      dynamodbWriteUtilization: 0.7,
      dynamodbReadUtilization: 0.5,
      kinesisShardUtilization: 0.7,
    } as const;
    // A WCU serves 3,600 writes an hour; at 70 % it serves 2,520 for $0.00065.
    const writes = (1e6 / 2520) * 0.00065;
    const reads = (2e5 / 1800) * 0.00013;
    // 1M records at 1,000/s per shard (500 MB is under the 1 MiB/s limit) = 1,000 shard-seconds,
    // at 70 % = 1,000 / 2,520 shard-hours at $0.015, plus 1M payload units at $0.014/M.
    const kinesis = (1000 / 2520) * 0.015 + 0.014;
    const r = priceDesigns(usage, model);
    expect(r.batched.dynamodbWrites).toBeCloseTo(writes, 9);
    expect(r.batched.dynamodbReads).toBeCloseTo(reads, 9);
    expect(r.batched.kinesis).toBeCloseTo(kinesis, 9);
    expect(r.batchedTotal).toBeCloseTo(writes + reads + 0.01 + shared + kinesis, 9);
    expect(r.perRecordTotal).toBeCloseTo(writes + 5 + shared + kinesis, 9);
    // A stream carrying more than 1 MiB/s per 1,000 records needs shards by bytes instead.
    const heavy = priceDesigns({ ...usage, kinesisBytes: 2 * 1024 ** 3 }, model);
    expect(heavy.batched.kinesis).toBeCloseTo(((2 * 1024) / 2520) * 0.015 + 0.014, 9);
  });
});

describe('matchCompletions: each sent record to the batch that finished it', () => {
  // Sequence numbers out of order on purpose: matching goes by sequence, not by send order.
  const sent: SentRecord[] = [
    { shardId: 'a', sequenceNumber: '300', sentAt: 30 },
    { shardId: 'a', sequenceNumber: '100', sentAt: 10 },
    { shardId: 'a', sequenceNumber: '200', sentAt: 20 },
    { shardId: 'a', sequenceNumber: '400', sentAt: 40 },
    { shardId: 'b', sequenceNumber: '100', sentAt: 16 },
  ];
  const done = (...c: Completion[]) => c;

  it('measures from the send to the end of the batch holding the record, warm-up apart', () => {
    const completions = new Map([
      ['a', done({ cum: 2, at: 50, discarded: false }, { cum: 4, at: 90, discarded: false })],
      ['b', done({ cum: 1, at: 18, discarded: false })],
    ]);
    const r = matchCompletions(sent, completions, 15);
    // 100 (sent at 10, before the warm-up ended) is warm; 200 ends at 50; 300 and 400 at 90.
    expect(r.warmLatencies).toEqual([40]);
    expect(r.latencies.sort((x, y) => x - y)).toEqual([2, 30, 50, 60]);
    expect(r.unmatched).toBe(0);
    expect(r.discarded).toBe(0);
  });

  it('counts the records of a discarded batch apart, never as latencies', () => {
    const completions = new Map([
      ['a', done({ cum: 1, at: 50, discarded: false }, { cum: 3, at: 60, discarded: true })],
      ['b', done({ cum: 1, at: 18, discarded: false })],
    ]);
    const r = matchCompletions(sent, completions, 0);
    // 200 and 300 were discarded; 400 no batch reached.
    expect(r.latencies.sort((x, y) => x - y)).toEqual([2, 40]);
    expect(r.discarded).toBe(2);
    expect(r.unmatched).toBe(1);
  });

  it("counts the records a partially failed batch finished: its retry's records are matched to the retry", () => {
    const completions = new Map<string, Completion[]>();
    const batch = { shardId: 'a', attempt: 0, durationMs: 1, newestArrival: 0 };
    // The handler reported 200 failed: 100 is done at 50; 200, 300 and 400 are done by the retry at 90.
    addCompletion(completions, { ...batch, size: 4, succeeded: 1, status: 'partial' }, 50);
    addCompletion(completions, { ...batch, size: 3, succeeded: 3, status: 'ok', attempt: 1 }, 90);
    addCompletion(completions, { ...batch, shardId: 'b', size: 1, succeeded: 1, status: 'ok' }, 18);
    const r = matchCompletions(sent, completions, 0);
    expect(r.latencies.sort((x, y) => x - y)).toEqual([2, 40, 50, 60, 70]);
    expect(r.unmatched).toBe(0);
    expect(r.discarded).toBe(0);
  });
});

describe('latencyTargetMet: p99 < 250 ms at the asked rate', () => {
  const run = {
    p99Ms: 120,
    unmatched: 0,
    discarded: 0,
    achievedRecordsPerSecond: 997,
    askedRecordsPerSecond: 1000,
  };

  it('is met with a p99 under 250 ms, every record processed, at the asked rate', () => {
    expect(latencyTargetMet(run)).toBe(true);
    expect(latencyTargetMet({ ...run, p99Ms: 250 })).toBe(false);
    expect(latencyTargetMet({ ...run, unmatched: 1 })).toBe(false);
    expect(latencyTargetMet({ ...run, discarded: 1 })).toBe(false);
  });

  it('is not met when the producer fell behind the asked rate: the p99 was measured at a lighter load', () => {
    expect(latencyTargetMet({ ...run, achievedRecordsPerSecond: 700 })).toBe(false);
  });
});

describe("the README's throughput runs", () => {
  it('counts, in its target line, the runs its table lists since the lake is gzipped on the calling thread, and those that met it', () => {
    const readme = readFileSync(new URL('README.md', `file://${root}`), 'utf8');
    const table = readme.slice(readme.indexOf('| release | runs |')).split('\n\n')[0]!.split('\n');
    const since = table.findIndex((row) => row.includes('gzipped on the calling thread'));
    expect(since).toBeGreaterThan(0);
    const runs = table.slice(since).flatMap((row) =>
      (
        row
          .split('|')
          .at(-2)
          ?.match(/\d{2,3},\d{3}/g) ?? []
      ).map((n) => Number(n.replace(',', ''))),
    );
    const words = [
      'zero',
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
      'seven',
      'eight',
      'nine',
      'ten',
      'eleven',
      'twelve',
      'thirteen',
      'fourteen',
      'fifteen',
      'sixteen',
      'seventeen',
      'eighteen',
    ];
    const stated =
      /met at 200 symbols in (\w+) of (\w+) runs since the lake is\s+gzipped on the calling thread/.exec(
        readme,
      );
    expect(stated?.[1]).toBe(words[runs.filter((r) => r >= 100_000).length]);
    expect(stated?.[2]).toBe(words[runs.length]);
  });
});
