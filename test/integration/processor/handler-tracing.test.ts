/**
 * The processTicks handler's X-Ray trace as Lambda would send it: the X-Ray SDK in its Lambda mode
 * (a facade segment from `_X_AMZN_TRACE_ID`), its documents caught on a UDP socket standing in for
 * the daemon, the handler's real adapters pointed at the emulators.
 */
import { createSocket } from 'node:dgram';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { kinesisEvent } from '../../support/kinesis-events.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars, sessionBar } from '../../support/samples.ts';

type Handler = (e: KinesisStreamEvent, c: Context) => Promise<KinesisStreamBatchResponse>;

const context = { functionName: 'tickstream-dev-processTicks', awsRequestId: 'test' } as unknown as Context;
const HANDLER = 'functions/process-ticks.handler';
/** Four symbols: their rows and the lake go out side by side, then their four state saves. */
const symbols = ['AAPL', 'MSFT', 'IBM', 'TSLA'];

const bar = (symbol: string, minute: number) =>
  encodeMarketEvent({ kind: 'bar', bar: sessionBar(symbol, minute, 100.5) });
/**
 * The AAPL sample's first 301 minutes as JUMP's, the last one 8 % up: a one-minute return far
 * beyond 4 standard deviations of the 200-bar window, an anomaly, so the alerts sink is called.
 */
const jumpBars = aaplSampleBars('JUMP')
  .slice(0, 301)
  .map((b, i) =>
    i < 300
      ? b
      : { ...b, open: b.open * 1.08, high: b.high * 1.08, low: b.low * 1.08, close: b.close * 1.08 },
  );

interface Traced {
  readonly name: string;
  readonly id: string;
  readonly parent: string | undefined;
}

describe('processTicks handler traced by X-Ray', () => {
  const cloud = useLocalCloud();

  it('puts each sink call under the handler and each AWS call under its sink call, however many run at once', async () => {
    const documents: Record<string, unknown>[] = [];
    const daemon = createSocket('udp4');
    // Each datagram: a JSON header line, then the segment or subsegment document.
    daemon.on('message', (m) => {
      const text = m.toString('utf8');
      documents.push(JSON.parse(text.slice(text.indexOf('\n') + 1)) as Record<string, unknown>);
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    try {
      const env: Record<string, string> = {
        ...cloud().functionEnv('ProcessTicksLambdaFunction'),
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        LAMBDA_TASK_ROOT: '/var/task',
        _HANDLER: HANDLER,
        _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
        AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      };
      // The SDK's automatic mode, as in Lambda (the local cloud asks for manual mode).
      delete env.AWS_XRAY_MANUAL_MODE;
      delete process.env.AWS_XRAY_MANUAL_MODE;
      Object.assign(process.env, env);
      const { handler } = (await import('../../../functions/process-ticks.ts')) as { handler: Handler };

      let seq = 100;
      const records = [0, 1, 2].flatMap((m) =>
        symbols.map((s) => ({ partitionKey: s, payload: bar(s, m), sequenceNumber: String(seq++) })),
      );
      // A record that is not an event (the rejects sink: SQS) and a symbol with an anomaly (the
      // alerts sink: the ledger in DynamoDB, SNS).
      records.push({ partitionKey: 'AAPL', payload: '{"kind":"bar"}', sequenceNumber: String(seq++) });
      for (const b of jumpBars)
        records.push({
          partitionKey: 'JUMP',
          payload: encodeMarketEvent({ kind: 'bar', bar: b }),
          sequenceNumber: String(seq++),
        });
      expect(await handler(kinesisEvent(records), context)).toEqual({ batchItemFailures: [] });
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      daemon.close();
    }

    const traced: Traced[] = [];
    const walk = (d: Record<string, unknown>, parent?: string) => {
      traced.push({ name: String(d.name), id: String(d.id), parent: (d.parent_id as string) ?? parent });
      for (const s of (d.subsegments as Record<string, unknown>[] | undefined) ?? []) walk(s, String(d.id));
    };
    for (const d of documents) walk(d);
    const byId = new Map(traced.map((t) => [t.id, t]));
    const parentName = (t: Traced) => (t.parent === undefined ? undefined : byId.get(t.parent)?.name);

    const sinkCalls = traced.filter((t) => t.name.startsWith('### sink '));
    const calls = (name: string) => sinkCalls.filter((t) => t.name === `### sink ${name}`).length;
    expect(new Set(sinkCalls.map((t) => t.name))).toEqual(
      new Set(['lake', 'metrics', 'state', 'rejects', 'alerts'].map((s) => `### sink ${s}`)),
    );
    // The batch's state load, then each of the five symbols' state save.
    expect(['lake', 'metrics', 'rejects', 'state'].map(calls)).toEqual([1, 1, 1, 1 + symbols.length + 1]);
    expect(calls('alerts')).toBeGreaterThan(0);
    expect(sinkCalls.map((t) => `${t.name} in ${parentName(t)}`)).toEqual(
      sinkCalls.map((t) => `${t.name} in ## ${HANDLER}`),
    );
    const awsCalls = traced.filter((t) => ['DynamoDB', 'S3', 'SQS', 'SNS'].includes(t.name));
    expect(awsCalls.length).toBeGreaterThanOrEqual(7);
    for (const call of awsCalls) expect(parentName(call), call.name).toMatch(/^### sink /);
    // The S3 calls (the object, and the compaction's mark of a late day) are the lake's; the one
    // SQS call (the rejected record) the rejects sink's; each alert's SNS publish its alerts call's.
    const parents = (service: string) => awsCalls.filter((t) => t.name === service).map(parentName);
    expect(new Set(parents('S3'))).toEqual(new Set(['### sink lake']));
    expect(parents('SQS')).toEqual(['### sink rejects']);
    expect(parents('SNS')).toEqual(Array.from({ length: calls('alerts') }, () => '### sink alerts'));
  });
});
