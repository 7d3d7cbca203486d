/**
 * The project's AWS clients against a server on 127.0.0.1 that accepts connections and never
 * answers: each call fails with a timeout after the clients' idle limit (here shortened), the SDK's
 * retries included, instead of waiting for ever. The clients are the real SDK clients from
 * createAwsClients; only the far end is silent.
 */
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { type SilentServer, startSilentServer } from '../../support/silent-server.ts';

describe('AWS clients: a connection that hangs', () => {
  let server: SilentServer;
  let endpoint = '';
  beforeAll(async () => {
    server = await startSilentServer();
    endpoint = server.endpoint;
  });
  afterAll(() => server.close());

  it('fails each call with a timeout, after the SDK retries, instead of waiting for ever', async () => {
    const clients = createAwsClients(
      {
        region: 'us-east-1',
        endpoints: { dynamodb: endpoint, s3: endpoint, sqs: endpoint, kinesis: endpoint },
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      },
      { socketTimeoutMs: 200 },
    );
    try {
      const calls = [
        clients.documents.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } })),
        clients.s3.send(new ListBucketsCommand({})),
        clients.sqs.send(new ListQueuesCommand({})),
        clients.kinesis.send(new ListStreamsCommand({})),
      ];
      const started = Date.now();
      const outcomes = await Promise.allSettled(calls);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toMatchObject({ name: 'TimeoutError' });
      }
      // Three attempts of 200 ms each and the SDK's backoff between them: seconds, not for ever.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      clients.destroy();
    }
  }, 30_000);
});
