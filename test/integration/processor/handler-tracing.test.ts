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
import { sessionBar } from '../../support/samples.ts';

type Handler = (e: KinesisStreamEvent, c: Context) => Promise<KinesisStreamBatchResponse>;

const context = { functionName: 'tickstream-dev-processTicks', awsRequestId: 'test' } as unknown as Context;
const HANDLER = 'functions/process-ticks.handler';
/** Four symbols: their rows and the lake go out side by side, then their four state saves. */
const symbols = ['AAPL', 'MSFT', 'IBM', 'TSLA'];

const bar = (symbol: string, minute: number) =>
  encodeMarketEvent({ kind: 'bar', bar: sessionBar(symbol, minute, 100.5) });

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
    expect(sinkCalls.map((t) => t.name).sort()).toEqual([
      '### sink lake',
      '### sink metrics',
      '### sink state', // the batch's state load
      ...symbols.map(() => '### sink state'),
    ]);
    expect(sinkCalls.map((t) => `${t.name} in ${parentName(t)}`)).toEqual(
      sinkCalls.map((t) => `${t.name} in ## ${HANDLER}`),
    );
    const awsCalls = traced.filter((t) => ['DynamoDB', 'S3', 'SQS', 'SNS'].includes(t.name));
    expect(awsCalls.length).toBeGreaterThanOrEqual(7);
    for (const call of awsCalls) expect(parentName(call), call.name).toMatch(/^### sink /);
    // The S3 calls (the object, and the compaction's mark of a late day) are the lake's.
    expect(new Set(awsCalls.filter((t) => t.name === 'S3').map(parentName))).toEqual(
      new Set(['### sink lake']),
    );
  });
});
