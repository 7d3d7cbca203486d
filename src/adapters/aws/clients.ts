import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsClientConfig, AwsService } from '../../config/aws.ts';

/**
 * Builds every AWS client the project uses, for AWS or for the local emulators, from one
 * configuration. Clients are created on first use and reused (build them once at module scope).
 */
export interface AwsClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  /**
   * DynamoDB with native JS types (lib-dynamodb), empty values dropped; any finite JS number is
   * written (as its shortest decimal) and every stored number reads back as a JS number.
   */
  readonly documents: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly timestream: TimestreamWriteClient;
  destroy(): void;
}

/** Time limits of every client's HTTP connections. */
export interface AwsHttpTimeouts {
  /** To open a connection (default 5 s). */
  readonly connectionTimeoutMs?: number;
  /**
   * A connection with nothing sent or received for this long is dropped, and the SDK retries the
   * call on another (default 30 s: above SQS's longest long poll, 20 s; a transfer under way is never
   * cut). The SDK's HTTP handler has no limit of its own: a connection that hangs held a call, and
   * the invocation or tool waiting on it, for ever.
   */
  readonly socketTimeoutMs?: number;
}

function base(config: AwsClientConfig, service: AwsService, http: AwsHttpTimeouts) {
  const endpoint = config.endpoints[service];
  return {
    region: config.region,
    ...(endpoint ? { endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: http.connectionTimeoutMs ?? 5_000,
      socketTimeout: http.socketTimeoutMs ?? 30_000,
    }),
  };
}

export function createAwsClients(config: AwsClientConfig, http: AwsHttpTimeouts = {}): AwsClients {
  const made = new Map<string, { destroy(): void }>();
  const lazy = <T extends { destroy(): void }>(key: string, make: () => T): T => {
    let c = made.get(key) as T | undefined;
    if (!c) {
      c = make();
      made.set(key, c);
    }
    return c;
  };
  const clients: AwsClients = {
    get kinesis() {
      // Kinesis over HTTP/1.1 (base's handler): the default HTTP/2 handler is only needed for
      // SubscribeToShard, and kinesalite speaks HTTP/1.1 only.
      return lazy('kinesis', () => new KinesisClient(base(config, 'kinesis', http)));
    },
    get dynamodb() {
      return lazy('dynamodb', () => new DynamoDBClient(base(config, 'dynamodb', http)));
    },
    get documents() {
      return lazy('documents', () =>
        DynamoDBDocumentClient.from(clients.dynamodb, {
          marshallOptions: {
            removeUndefinedValues: true,
            convertClassInstanceToMap: false,
            // Write numbers beyond ±2^53 (e.g. volume 1e16) instead of throwing: the shortest
            // decimal string of a JS double loses nothing JS had. (Range is the caller's job:
            // see storableValues in market-table.ts.)
            allowImpreciseNumbers: true,
          },
          // Read every N back as a plain JS number: by default the SDK returns a BigInt for
          // integers beyond ±2^53 and throws for e.g. "1e+21".
          unmarshallOptions: { wrapNumbers: (s: string) => Number(s) },
        }),
      );
    },
    get s3() {
      return lazy(
        's3',
        () =>
          new S3Client({
            ...base(config, 's3', http),
            // Path-style addressing works with any endpoint (the emulator has no virtual hosts).
            forcePathStyle: config.endpoints.s3 !== undefined,
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }),
      );
    },
    get sqs() {
      return lazy('sqs', () => new SQSClient(base(config, 'sqs', http)));
    },
    get sns() {
      // No SDK retries: an attempt that timed out may have published, and a retry would send the
      // alert twice. The alert notifier retries only what SNS refused (sns-alert-notifier.ts).
      return lazy('sns', () => new SNSClient({ ...base(config, 'sns', http), maxAttempts: 1 }));
    },
    get timestream() {
      return lazy('timestream', () => new TimestreamWriteClient(base(config, 'timestream', http)));
    },
    destroy() {
      for (const c of made.values()) c.destroy();
      made.clear();
    },
  };
  return clients;
}
