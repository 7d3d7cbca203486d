/**
 * A batch the local event source mapping gave up on is given up once, across a restart of the
 * mapping: with a parallelization factor of 2, one lane gives up on its batch while the other lane
 * has not finished an earlier record, so the shard's checkpoint stays before the given-up records.
 * The next start reads them again, but does not retry them and send a second on-failure message for
 * them (which `npm run dead-letters` would list as a second, identical given-up batch).
 */
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  type BatchOutcome,
  type EventSourceMappingSettings,
  KinesisEventSourcePoller,
  laneOf,
} from '../../../scripts/pipeline/event-source-mapping.ts';
import { FileCheckpointStore } from '../../../scripts/pipeline/local-pipeline.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();

describe('local event source mapping: a given-up batch across a restart', () => {
  it('sends one on-failure message for a batch given up before the stop, none after the restart', async () => {
    const c = cloud();
    const stream = c.resources.streams.TicksStream!;
    const queueUrl = c.env.DEAD_LETTER_QUEUE_URL!;
    // Two symbols in two lanes, one record each, on one shard: AAPL's first, then NVDA's.
    expect([laneOf('AAPL', 2), laneOf('NVDA', 2)]).toEqual([0, 1]);
    const put = await c.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: stream.name,
        Records: ['AAPL', 'NVDA'].map((symbol) => ({
          PartitionKey: symbol,
          ExplicitHashKey: '0',
          Data: Buffer.from(JSON.stringify({ symbol })),
        })),
      }),
    );
    expect(put.FailedRecordCount ?? 0).toBe(0);
    const shardId = put.Records![0]!.ShardId!;

    // Every SendMessage attempt the mappings make (after the SDK's retry middleware: each try).
    let sendAttempts = 0;
    c.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageCommand') sendAttempts++;
        return next(args);
      },
      { step: 'finalizeRequest', name: 'countSendMessageAttempts', priority: 'low' },
    );
    const settings: EventSourceMappingSettings = {
      streamName: stream.name,
      streamArn: stream.arn,
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
      batchSize: 1,
      batchingWindowSeconds: 0,
      parallelizationFactor: 2,
      startingPosition: 'TRIM_HORIZON',
      bisectOnError: true,
      maxRetryAttempts: 3,
      maxRecordAgeSeconds: -1,
      reportBatchItemFailures: true,
      onFailureQueueUrl: queueUrl,
      region: c.region,
    };
    const file = `${c.state.dir}/checkpoints-restart-test.json`;
    const symbolsOf = (event: KinesisStreamEvent) => event.Records.map((r) => r.kinesis.partitionKey);

    // First run: NVDA's lane fails every attempt and gives up; AAPL's first attempt is held until
    // then, fails, and is not retried since the mapping is stopping.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first: BatchOutcome[] = [];
    let stopping: Promise<void> | undefined;
    const checkpoints1 = new FileCheckpointStore(file);
    const poller1: KinesisEventSourcePoller = new KinesisEventSourcePoller({
      kinesis: c.clients.kinesis,
      sqs: c.clients.sqs,
      settings,
      checkpoints: checkpoints1,
      idlePollMs: 10,
      retryBackoffMs: 1,
      handler: async (event) => {
        if (symbolsOf(event).includes('AAPL')) await held;
        throw new Error(`${symbolsOf(event).join(',')} failed`);
      },
      onBatch: (o) => {
        first.push(o);
        if (o.status === 'discarded') {
          stopping ??= poller1.stop();
          release();
        }
      },
    });
    await poller1.start();
    await held;
    await stopping;
    await checkpoints1.flush();
    expect(first.filter((o) => o.status === 'discarded').map((o) => o.size)).toEqual([1]);
    // The premise: the checkpoint stays before AAPL's record, which no lane finished.
    expect(checkpoints1.get(shardId)).toBeUndefined();

    // The restart: everything succeeds now but NVDA, whose state is still unreadable.
    const second: BatchOutcome[] = [];
    const invoked: string[] = [];
    const poller2 = new KinesisEventSourcePoller({
      kinesis: c.clients.kinesis,
      sqs: c.clients.sqs,
      settings,
      checkpoints: new FileCheckpointStore(file),
      idlePollMs: 10,
      retryBackoffMs: 1,
      handler: async (event) => {
        invoked.push(...symbolsOf(event));
        if (symbolsOf(event).includes('NVDA')) throw new Error('NVDA failed');
        return { batchItemFailures: [] };
      },
      onBatch: (o) => second.push(o),
    });
    await poller2.start();
    try {
      await poller2.idle();
    } finally {
      await poller2.stop();
    }
    expect(invoked).toEqual(['AAPL']);
    expect(second.map((o) => [o.status, o.size])).toEqual([['ok', 1]]);

    // One SendMessage, one message on the queue: NVDA's batch, given up once.
    const letters = c
      .queueMessages(queueUrl)
      .map((m) => JSON.parse(m.body) as { requestContext: { requestId: string }; KinesisBatchInfo: unknown });
    expect(sendAttempts).toBe(1);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.KinesisBatchInfo).toMatchObject({
      shardId,
      startSequenceNumber: put.Records![1]!.SequenceNumber,
      endSequenceNumber: put.Records![1]!.SequenceNumber,
      batchSize: 1,
    });
  }, 60_000);
});
