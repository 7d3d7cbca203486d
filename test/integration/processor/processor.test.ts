/**
 * The stream processor against the emulators: the template's real handler on the local event
 * source mapping (poison records), and the pipeline on the real AWS adapters with a crash injected
 * right after each sink's write (retries change nothing twice).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { startLocalPipeline } from '../../../scripts/pipeline/local-pipeline.ts';
import { DynamoDbAlertLedger } from '../../../src/adapters/aws/dynamodb-alert-ledger.ts';
import { countMetricRows } from '../../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { DynamoDbMetricsStore } from '../../../src/adapters/aws/dynamodb-metrics-store.ts';
import { DynamoDbStateStore } from '../../../src/adapters/aws/dynamodb-state-store.ts';
import { stateKey } from '../../../src/adapters/aws/market-table.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { SnsAlertNotifier } from '../../../src/adapters/aws/sns-alert-notifier.ts';
import { SqsRejectedRecordSink } from '../../../src/adapters/aws/sqs-rejected-record-sink.ts';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import {
  type ProcessDeps,
  processBatch,
  type StreamRecord,
} from '../../../src/pipeline/process/process-batch.ts';
import { readStoredState, restoreEngine } from '../../../src/pipeline/process/stored-state.ts';
import { InvalidStoredStateError } from '../../../src/ports/processor.ts';
import { captureJsonLines } from '../../support/json-output.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const aaplBars = aaplSampleBars;

describe('processTicks on the local event source mapping', () => {
  const cloud = useLocalCloud();
  it('reports a poison record mid-batch with its reason, stores every other record, and moves on', async () => {
    const c = cloud();
    const stream = c.env.TICKS_STREAM_NAME!;
    const bars = aaplBars('AAPL').slice(0, 30);
    const payloads = bars.map((bar) => encodeMarketEvent({ kind: 'bar', bar }));
    payloads.splice(12, 0, '{"v":1,"kind":"bar","data":{"symbol":"AAPL","start":"yesterday"}}');
    payloads.splice(20, 0, 'definitely not json');
    let lastSequenceNumber = '';
    for (const p of payloads) {
      const put = await c.clients.kinesis.send(
        new PutRecordCommand({ StreamName: stream, PartitionKey: 'AAPL', Data: Buffer.from(p) }),
      );
      lastSequenceNumber = put.SequenceNumber!;
    }
    const outcomes: string[] = [];
    // The handler's Powertools logger and metrics write JSON lines to stdout and stderr, as in Lambda.
    const { result: mappingId, lines: entries } = await captureJsonLines(async () => {
      const pipeline = await startLocalPipeline({ cloud: c, onBatch: (b) => outcomes.push(b.status) });
      try {
        await pipeline.idle();
      } finally {
        await pipeline.stop();
      }
      return pipeline.mappings[0]!.logicalId;
    });
    // Every batch succeeded: the bad records did not block the shard.
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.every((s) => s === 'ok')).toBe(true);
    expect(await countMetricRows(c.clients.documents, c.env.MARKET_TABLE_NAME!, 'AAPL', 'bar')).toBe(30);

    const dlq = await c.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: c.env.DEAD_LETTER_QUEUE_URL!, MaxNumberOfMessages: 10 }),
    );
    const reasons = (dlq.Messages ?? [])
      .map((m) => (JSON.parse(m.Body!) as { reason: string }).reason)
      .sort();
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/^\(record\): not JSON/);
    expect(reasons[1]).toMatch(/^start: start must be a finite number, got string/);

    // EMF: the batch's counts as metrics, and the rejections logged with their reasons.
    const sum = (name: string) =>
      entries.filter((e) => '_aws' in e).reduce((n, e) => n + ((e[name] as number | undefined) ?? 0), 0);
    expect(sum('RecordsReceived')).toBe(32);
    expect(sum('RecordsProcessed')).toBe(30);
    expect(sum('RecordsRejected')).toBe(2);
    expect(sum('BatchItemFailures')).toBe(0);
    const emf = entries.find((e) => 'RecordsReceived' in e) as { _aws: { CloudWatchMetrics: unknown } };
    expect(JSON.stringify(emf._aws.CloudWatchMetrics)).toContain('"Namespace":"tickstream/dev"');
    expect(entries.some((e) => e.SinkLatency !== undefined && e.sink === 'metrics')).toBe(true);
    const rejectedLogs = entries.filter((e) => e.message === 'record rejected');
    expect(rejectedLogs.map((e) => [e.level, e.partitionKey, typeof e.sequenceNumber])).toEqual([
      ['WARN', 'AAPL', 'string'],
      ['WARN', 'AAPL', 'string'],
    ]);
    expect(rejectedLogs.map((e) => e.reason).sort()).toEqual(reasons);

    // The checkpoint is past the last record: a restart does not read them again.
    const checkpoints = JSON.parse(
      readFileSync(join(c.state.dir, `checkpoints-${mappingId}.json`), 'utf8'),
    ) as Record<string, string>;
    expect(Object.values(checkpoints)).toEqual([lastSequenceNumber]);
  });
});

describe('the pipeline on the AWS adapters against the emulators', () => {
  const cloud = useLocalCloud();
  const NOW = Date.parse('2024-10-03T00:00:00Z');
  const JUMP_AT = 300;
  let seq = 10n ** 20n;

  /** The AAPL day with a +8 % jump at bar 300 (a return z-score alert in that batch). */
  function jumpRecords(symbol: string): StreamRecord[] {
    return aaplBars(symbol).map((b, i) => {
      const f = i < JUMP_AT ? 1 : 1.08;
      const bar = { ...b, open: b.open * f, high: b.high * f, low: b.low * f, close: b.close * f };
      seq += 1000n;
      return {
        shardId: 'shardId-000000000000',
        sequenceNumber: seq.toString(),
        partitionKey: symbol,
        data: Buffer.from(encodeMarketEvent({ kind: 'bar', bar })).toString('base64'),
        arrivalTime: NOW,
      };
    });
  }

  /** Calls through to the real adapter, then fails once right after its effect landed (a crash). */
  function crashOnceAfter<T extends object>(target: T, method: keyof T, armed: { on: boolean }): T {
    return new Proxy(target, {
      get(t, p, r) {
        const v = Reflect.get(t, p, r);
        if (p !== method || typeof v !== 'function') return typeof v === 'function' ? v.bind(t) : v;
        return async (...args: unknown[]) => {
          const result = await v.apply(t, args);
          if (armed.on) {
            armed.on = false;
            throw new Error(`injected crash after ${String(p)}`);
          }
          return result;
        };
      },
    });
  }

  function deps(crash?: 'metrics' | 'lake' | 'notifier' | 'state', armed = { on: false }): ProcessDeps {
    const c = cloud();
    const table = c.env.MARKET_TABLE_NAME!;
    const base = {
      state: new DynamoDbStateStore({ documents: c.clients.documents, tableName: table }),
      metrics: new DynamoDbMetricsStore({ documents: c.clients.documents, tableName: table, ttlDays: 30 }),
      lake: new S3LakeWriter({ s3: c.clients.s3, bucket: c.env.LAKE_BUCKET_NAME! }),
      notifier: new SnsAlertNotifier({ sns: c.clients.sns, topicArn: c.env.ALERTS_TOPIC_ARN! }),
    };
    const methods = { metrics: 'write', lake: 'writeBatch', notifier: 'publish', state: 'save' } as const;
    const wrapped = { ...base };
    if (crash) {
      // biome-ignore lint/suspicious/noExplicitAny: the proxy keeps the adapter's own type
      (wrapped as any)[crash] = crashOnceAfter(base[crash] as any, methods[crash], armed);
    }
    return {
      ...wrapped,
      engines: analyticsEngines(),
      ledger: new DynamoDbAlertLedger({ documents: c.clients.documents, tableName: table }),
      rejects: new SqsRejectedRecordSink({ sqs: c.clients.sqs, queueUrl: c.env.DEAD_LETTER_QUEUE_URL! }),
      clock: () => NOW,
      log: { info() {}, warn() {}, error() {} },
    };
  }

  async function run(records: readonly StreamRecord[], d: ProcessDeps, size = 50) {
    const failures: string[] = [];
    for (let i = 0; i < records.length; i += size) {
      failures.push(...(await processBatch(records.slice(i, i + size), d)).failures);
    }
    return failures;
  }

  async function alertsBySymbol(): Promise<Map<string, string[]>> {
    const c = cloud();
    const inbox = c.sns.allInboxes.AlertsTopic!;
    const out = new Map<string, string[]>();
    for (;;) {
      const got = await c.sns.receive(inbox, { max: 10 });
      if (got.length === 0) return out;
      for (const m of got) {
        const a = JSON.parse((JSON.parse(m.body) as { Message: string }).Message) as {
          symbol: string;
          kind: string;
          at: number;
        };
        out.set(a.symbol, [...(out.get(a.symbol) ?? []), `${a.kind}@${a.at}`]);
      }
    }
  }

  /** Sequence numbers of the raw zone's lines, by symbol (every object, every line). */
  async function lakeLinesBySymbol(): Promise<Map<string, string[]>> {
    const c = cloud();
    const bucket = c.env.LAKE_BUCKET_NAME!;
    const out = new Map<string, string[]>();
    let token: string | undefined;
    do {
      const page = await c.clients.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: 'raw/', ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const got = await c.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
        for (const line of text.trimEnd().split('\n')) {
          const r = JSON.parse(line) as { symbol: string; sequenceNumber: string };
          out.set(r.symbol, [...(out.get(r.symbol) ?? []), r.sequenceNumber]);
        }
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  it('after a crash right after each sink write, the retry leaves one row per (symbol, event time), the state advanced once and no second alert', async () => {
    const c = cloud();
    const table = c.env.MARKET_TABLE_NAME!;
    expect(await run(jumpRecords('REF'), deps())).toEqual([]);

    const symbols = { metrics: 'CMETRICS', lake: 'CLAKE', notifier: 'CNOTIFY', state: 'CSTATE' } as const;
    for (const [sink, symbol] of Object.entries(symbols) as [keyof typeof symbols, string][]) {
      const records = jumpRecords(symbol);
      expect(await run(records.slice(0, JUMP_AT), deps())).toEqual([]);
      const batch = records.slice(JUMP_AT, JUMP_AT + 50);
      const armed = { on: true };
      const crashed = await processBatch(batch, deps(sink, armed));
      expect(armed.on, `${sink}: the crash fired`).toBe(false);
      expect(crashed.failures, sink).toEqual([batch[0]!.sequenceNumber]);
      // Lambda retries the batch from the reported record.
      expect(await run(batch, deps())).toEqual([]);
      expect(await run(records.slice(JUMP_AT + 50), deps())).toEqual([]);

      expect(await countMetricRows(c.clients.documents, table, symbol, 'bar'), sink).toBe(389);
      const state = await new DynamoDbStateStore({
        documents: c.clients.documents,
        tableName: table,
      }).loadMany([symbol, 'REF']);
      const readable = (s: string) => {
        const r = state.get(s);
        if (!r || r instanceof InvalidStoredStateError)
          throw new Error(`state of ${s}: ${r?.message ?? 'none'}`);
        return r;
      };
      expect(readable(symbol).lastSequenceNumber, sink).toBe(records.at(-1)!.sequenceNumber);
      // Stored as a binary attribute; restored, the crashed symbol's state is the reference's.
      const snapshotOf = (s: string) => {
        const stored = readStoredState(readable(s));
        const engine = restoreEngine(s, stored, analyticsEngines()).snapshot();
        return JSON.stringify({ watermarks: stored.watermarks, latestRowTime: stored.latestRowTime, engine });
      };
      expect(snapshotOf(symbol).replaceAll(symbol, 'REF'), sink).toBe(snapshotOf('REF'));
    }

    // The retried batch rewrote its lake object under the same key: each record is in the raw
    // zone once, whichever sink the crash followed.
    const lake = await lakeLinesBySymbol();
    for (const symbol of ['REF', ...Object.values(symbols)]) {
      const lines = lake.get(symbol) ?? [];
      expect(lines, symbol).toHaveLength(389);
      expect(new Set(lines).size, symbol).toBe(389);
    }

    const alerts = await alertsBySymbol();
    const reference = alerts.get('REF')!;
    expect(reference.some((a) => a.startsWith('return-zscore@'))).toBe(true);
    for (const symbol of Object.values(symbols)) {
      expect(alerts.get(symbol), symbol).toEqual(reference);
    }
  });

  it("fails only the symbol whose stored state cannot be read; the others' records are stored", async () => {
    const c = cloud();
    const table = c.env.MARKET_TABLE_NAME!;
    // An item this release cannot read (no sequence number), as a hand edit might leave it.
    await c.clients.documents.send(
      new PutCommand({ TableName: table, Item: { ...stateKey('UNREADABLE'), lastEventTime: NOW } }),
    );
    const good = jumpRecords('READABLE').slice(0, 40);
    const bad = jumpRecords('UNREADABLE').slice(0, 40);
    const batch = good.flatMap((r, i) => [r, bad[i]!]);

    const report = await processBatch(batch, deps());

    expect(report.failures).toEqual([bad[0]!.sequenceNumber]);
    expect(report.rejected).toEqual([]);
    expect(report.processed).toBe(40);
    expect(await countMetricRows(c.clients.documents, table, 'READABLE', 'bar')).toBe(40);
    expect(await countMetricRows(c.clients.documents, table, 'UNREADABLE', 'bar')).toBe(0);
    const store = new DynamoDbStateStore({ documents: c.clients.documents, tableName: table });
    const states = await store.loadMany(['READABLE', 'UNREADABLE']);
    expect(states.get('READABLE')).toMatchObject({ lastSequenceNumber: good.at(-1)!.sequenceNumber });
    expect(states.get('UNREADABLE')).toBeInstanceOf(InvalidStoredStateError);

    // Once the item is repaired (here: removed), the retry from the reported record completes it.
    await c.clients.documents.send(new DeleteCommand({ TableName: table, Key: stateKey('UNREADABLE') }));
    const retry = await processBatch(
      batch.filter((r) => r.partitionKey === 'UNREADABLE'),
      deps(),
    );
    expect(retry.failures).toEqual([]);
    expect(await countMetricRows(c.clients.documents, table, 'UNREADABLE', 'bar')).toBe(40);
  });
});
