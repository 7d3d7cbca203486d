/**
 * Lake compaction benchmark: the nightly compaction step (src/pipeline/compact) over the raw zone the
 * stream processor writes — 100,000 real AAPL bars cycled over 200 symbols, processed in batches of
 * 500 with the in-memory sinks, the lake keeping each object's gzip NDJSON body — beside the named
 * baseline measured in the same run: bare gunzip + JSON.parse of the same objects' lines.
 * Prints events per CPU-second of both, the compacted Parquet's bytes per event beside the raw
 * gzip NDJSON's, and what compacting 1,000,000 records costs on AWS (S3 GETs of the raw objects,
 * Lambda time at the function's memory, at the list prices of the processor bench).
 * BENCH_COMPACTION_RECORDS (default 100000) sets the size.
 */
import { gunzipSync } from 'node:zlib';
import { encodeCompactedDay } from '../../src/adapters/aws/s3-lake-compaction.ts';
import { createMemorySinks, MemoryLakeWriter, MemoryMetricsStore } from '../../src/adapters/memory/index.ts';
import { compactDay } from '../../src/pipeline/compact/compact-day.ts';
import { analyticsEngines } from '../../src/pipeline/process/analytics-engine.ts';
import { EngineCache, processBatch } from '../../src/pipeline/process/process-batch.ts';
import { PRICES_USD, RealBarMarket, streamBatches, symbolNames } from './processor.ts';

const SYMBOLS = 200;
/** serverless.yml's compactionMemoryMb default. */
const MEMORY_GB = 2;
const quiet = { info() {}, warn() {}, error() {} };

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
};

export async function run(log: (line: string) => void): Promise<Record<string, unknown>> {
  const records = Number(process.env.BENCH_COMPACTION_RECORDS ?? 100_000);
  if (!(records >= 1000)) throw new Error('BENCH_COMPACTION_RECORDS must be ≥ 1000');
  const market = new RealBarMarket(symbolNames('T', SYMBOLS), Math.ceil(records / SYMBOLS) + 1);
  const lake = new MemoryLakeWriter({ encode: true });
  const deps = {
    engines: analyticsEngines(),
    engineCache: new EngineCache(),
    ...createMemorySinks(),
    lake,
    timeseries: undefined,
    clock: () => Date.now(),
    log: quiet,
  };
  for (const batch of streamBatches(market, records)) {
    const r = await processBatch(batch, { ...deps, metrics: new MemoryMetricsStore() });
    if (r.failures.length > 0 || r.rejected.length > 0) throw new Error('the raw zone could not be built');
  }
  const objects = lake.objects();
  const bodies = new Map(objects.map((o) => [o.key, o.body!]));
  const rawBytes = objects.reduce((n, o) => n + o.body!.byteLength, 0);
  const days = [...new Set(objects.map((o) => /\/dt=([^/]+)\//.exec(o.key)![1]!))].sort();

  // Baseline: every line of every object gunzipped and parsed, nothing else.
  let t = process.cpuUsage();
  let parsed = 0;
  for (const body of bodies.values()) {
    for (const line of gunzipSync(body).toString('utf8').split('\n'))
      if (line) parsed += JSON.parse(line) ? 1 : 0;
  }
  const baselineCpu = cpuSeconds(t);

  // The compaction step over the same objects, day by day, to the Parquet body.
  let parquetBytes = 0;
  let events = 0;
  t = process.cpuUsage();
  for (const day of days) {
    const report = await compactDay(day, {
      raw: {
        listDay: async (d) => [...bodies.keys()].filter((k) => k.includes(`/dt=${d}/`)),
        read: async (key) => gunzipSync(bodies.get(key)!).toString('utf8'),
      },
      compacted: {
        existing: async () => undefined,
        writeDay: async (d, list) => {
          const bytes = encodeCompactedDay(list).byteLength;
          parquetBytes += bytes;
          return { key: d, bytes };
        },
      },
      log: quiet,
    });
    if (report.rejected.length > 0) throw new Error(`compaction rejected ${report.rejected.length} lines`);
    events += report.events;
  }
  const compactionCpu = cpuSeconds(t);
  if (events !== parsed) throw new Error(`compacted ${events} events of ${parsed} lines`);

  const perMillion = 1_000_000 / records;
  const gets = objects.length * perMillion;
  const gbSeconds = compactionCpu * perMillion * MEMORY_GB;
  const p = PRICES_USD;
  const usd = {
    s3Gets: (gets * p.s3PerThousandGetRequests) / 1000,
    s3ListsAndPuts: ((gets / 1000 + days.length * perMillion) * p.s3PerThousandPutRequests) / 1000,
    lambdaCompute: gbSeconds * p.lambdaArm64PerGbSecond,
  };
  const total = usd.s3Gets + usd.s3ListsAndPuts + usd.lambdaCompute;
  const rate = events / compactionCpu;
  const baselineRate = parsed / baselineCpu;
  log(
    `compaction: ${events.toLocaleString('en-US')} events in ${objects.length} raw objects over ${days.length} UTC days ` +
      `(${SYMBOLS} symbols, the processor's own raw zone): ${Math.round(rate).toLocaleString('en-US')} events per CPU-second; ` +
      `bare gunzip + JSON.parse of the same lines: ${Math.round(baselineRate).toLocaleString('en-US')}; ratio ${(rate / baselineRate).toFixed(3)}`,
  );
  log(
    `size: ${(parquetBytes / events).toFixed(1)} bytes per event in Parquet, ${(rawBytes / events).toFixed(1)} in the raw gzip NDJSON`,
  );
  log(
    `per 1,000,000 records on AWS: ${Math.round(gets).toLocaleString('en-US')} S3 GETs $${usd.s3Gets.toFixed(4)}, ` +
      `LIST + PUT $${usd.s3ListsAndPuts.toFixed(5)}, ≈ ${gbSeconds.toFixed(1)} GB-s at ${MEMORY_GB} GB (CPU time here, S3 waits not included) ` +
      `$${usd.lambdaCompute.toFixed(4)}: ≈ $${total.toFixed(4)}`,
  );
  return {
    records,
    rawObjects: objects.length,
    days: days.length,
    eventsPerCpuSecond: Math.round(rate),
    baselineParsePerCpuSecond: Math.round(baselineRate),
    ratioToBaseline: Number((rate / baselineRate).toFixed(3)),
    parquetBytesPerEvent: Number((parquetBytes / events).toFixed(1)),
    rawGzipBytesPerEvent: Number((rawBytes / events).toFixed(1)),
    usdPerMillionRecords: { ...usd, total },
  };
}
