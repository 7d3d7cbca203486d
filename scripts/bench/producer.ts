/**
 * Producer benchmark: records/s the Kinesis publisher writes into a local stream (kinesalite, in
 * process, 127.0.0.1 only) and records per PutRecords call, beside the 1,000 records/s write
 * limit of one shard. Bounded: a fixed number of records per case; the emulator stops afterwards.
 *
 * Cases:
 * - many symbols (synthetic, 200 symbols): calls fill up to one record per symbol, ≤ 500;
 * - one symbol (synthetic): one record per call, the price of never letting a failed record be
 *   overtaken by its successors (see kinesis-publisher.ts).
 */
import type { AddressInfo } from 'node:net';
import { CreateStreamCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import kinesalite from 'kinesalite';
import { createAwsClients } from '../../src/adapters/aws/clients.ts';
import { KINESIS_LIMITS, KinesisPublisher } from '../../src/adapters/aws/kinesis-publisher.ts';
import { SyntheticMarket } from '../../src/adapters/synthetic/synthetic-source.ts';
import { LOCAL_CREDENTIALS } from '../../src/config/aws.ts';

const SHARDS = 4;

async function runCase(
  endpoint: string,
  stream: string,
  symbols: string[],
  records: number,
): Promise<{ recordsPerSecond: number; recordsPerCall: number; calls: number; seconds: number }> {
  const clients = createAwsClients({
    region: 'us-east-1',
    endpoints: { kinesis: endpoint },
    credentials: LOCAL_CREDENTIALS,
  });
  const perCall: number[] = [];
  const publisher = new KinesisPublisher({
    streamName: stream,
    kinesis: clients.kinesis,
    onCall: (c) => perCall.push(c.records),
  });
  const t0 = performance.now();
  for await (const e of new SyntheticMarket({ symbols, seed: 42, count: records }).events())
    await publisher.publish(e);
  const report = await publisher.flush();
  const seconds = (performance.now() - t0) / 1000;
  clients.destroy();
  if (report.failed.length > 0)
    throw new Error(`${report.failed.length} records not delivered: ${report.failed[0]?.reason}`);
  return {
    recordsPerSecond: Math.round(report.delivered / seconds),
    recordsPerCall: Math.round((perCall.reduce((a, b) => a + b, 0) / perCall.length) * 10) / 10,
    calls: perCall.length,
    seconds: Math.round(seconds * 100) / 100,
  };
}

export async function run(log: (line: string) => void): Promise<Record<string, unknown>> {
  const server = kinesalite({ createStreamMs: 0, shardLimit: 50 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const clients = createAwsClients({
      region: 'us-east-1',
      endpoints: { kinesis: endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    const stream = 'bench-ticks';
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: SHARDS }));
    for (let i = 0; i < 50; i++) {
      const s = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    clients.destroy();
    const limit = KINESIS_LIMITS.recordsPerSecondPerShard * SHARDS;
    log(
      `local stream: ${SHARDS} shards (AWS write limit ${KINESIS_LIMITS.recordsPerSecondPerShard} records/s per shard = ${limit} records/s)`,
    );
    const many = await runCase(
      endpoint,
      stream,
      Array.from({ length: 200 }, (_, i) => `SYM${i}`),
      20_000,
    );
    log(
      `200 symbols: ${many.recordsPerSecond} records/s, ${many.recordsPerCall} records/PutRecords call (${many.calls} calls, ${many.seconds} s)`,
    );
    const one = await runCase(endpoint, stream, ['AAPL'], 2_000);
    log(
      `1 symbol:    ${one.recordsPerSecond} records/s, ${one.recordsPerCall} records/PutRecords call (${one.calls} calls, ${one.seconds} s)`,
    );
    log(
      `one shard takes ${KINESIS_LIMITS.recordsPerSecondPerShard} records/s in AWS: the 200-symbol rate is ${(many.recordsPerSecond / KINESIS_LIMITS.recordsPerSecondPerShard).toFixed(1)} shards' worth`,
    );
    return {
      shards: SHARDS,
      shardWriteLimitRecordsPerSecond: KINESIS_LIMITS.recordsPerSecondPerShard,
      manySymbols: { symbols: 200, records: 20_000, ...many },
      oneSymbol: { symbols: 1, records: 2_000, ...one },
    };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
