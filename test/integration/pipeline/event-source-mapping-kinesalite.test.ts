/**
 * The local event source mapping against kinesalite itself (the unit tests use a scripted shard):
 * what kinesalite's positions mean for the records a mapping reads.
 */
import {
  CreateStreamCommand,
  GetRecordsCommand,
  PutRecordCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { KinesisEventSourcePoller } from '../../../scripts/pipeline/event-source-mapping.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';

const cloud = useLocalCloud();

describe('local event source mapping on kinesalite', () => {
  it("reads a fresh stream's first record even when it was stamped before an empty read that did not see it", async () => {
    // kinesalite stamps a record with the time its PutRecords began, but writes it a moment later;
    // an empty GetRecords in between answers with a NextShardIterator stamped with the read's own
    // time. A stream's first record has sequence index 0, as that iterator does, so once a second
    // boundary falls between the two stamps the record sorts before the iterator and following it
    // would never read the record (a loaded machine lost one this way in `npm start --once`). The
    // interleaving is reproduced by stamping the put 2 s early: the empty reads came later by the
    // clock and did not see it.
    const c = cloud();
    const kinesis = c.clients.kinesis;
    const streamName = 'esm-first-record';
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
    await waitUntilStreamExists(
      { client: kinesis, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
      { StreamName: streamName },
    );

    let emptyReads = 0;
    kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === GetRecordsCommand.name) {
          const records = (out.output as { Records?: unknown[] }).Records ?? [];
          if (records.length === 0) emptyReads++;
        }
        return out;
      },
      { step: 'initialize', name: 'countEmptyReads' },
    );
    const realNow = Date.now;
    const delivered: string[] = [];
    const checkpoints = new Map<string, string>();
    const poller = new KinesisEventSourcePoller({
      kinesis,
      settings: {
        streamName,
        streamArn: `arn:aws:kinesis:${c.region}:000000000000:stream/${streamName}`,
        functionArn: `arn:aws:lambda:${c.region}:000000000000:function:f`,
        batchSize: 10,
        batchingWindowSeconds: 0,
        startingPosition: 'TRIM_HORIZON',
        bisectOnError: false,
        maxRetryAttempts: 0,
        maxRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        region: c.region,
      },
      handler: async (event) => {
        delivered.push(...event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString()));
        return { batchItemFailures: [] };
      },
      checkpoints: {
        get: (shard) => checkpoints.get(shard),
        set: (shard, seq) => void checkpoints.set(shard, seq),
      },
      idlePollMs: 20,
      // The mapping's own clock is the real one throughout.
      clock: () => realNow.call(Date),
    });
    try {
      await poller.start();
      const deadline = realNow.call(Date) + 10_000;
      while (emptyReads < 2) {
        if (realNow.call(Date) > deadline) throw new Error('the mapping made no empty read');
        await new Promise((r) => setTimeout(r, 5));
      }
      Date.now = () => realNow.call(Date) - 2_000;
      try {
        await kinesis.send(
          new PutRecordCommand({ StreamName: streamName, PartitionKey: 'AAPL', Data: Buffer.from('first') }),
        );
      } finally {
        Date.now = realNow;
      }
      // Idle: a read begun after the put found nothing left to deliver.
      await poller.idle();
    } finally {
      await poller.stop();
    }
    expect(delivered).toEqual(['first']);
    expect(checkpoints.size).toBe(1);
  });
});
