import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { awsClientConfigFromEnv, LOCAL_CREDENTIALS } from '../../../src/config/aws.ts';

describe('where the AWS clients point (TICKSTREAM_ENDPOINT_*, AWS_REGION)', () => {
  it('uses AWS, with the default credential chain, when no endpoint is set', () => {
    expect(awsClientConfigFromEnv({})).toEqual({ region: 'us-east-1', endpoints: {} });
    expect(awsClientConfigFromEnv({ AWS_REGION: 'eu-west-1' })).toEqual({
      region: 'eu-west-1',
      endpoints: {},
    });
  });

  it('points each service at its emulator, with the emulators’ credentials', () => {
    expect(
      awsClientConfigFromEnv({
        TICKSTREAM_ENDPOINT_KINESIS: 'http://127.0.0.1:4567',
        TICKSTREAM_ENDPOINT_S3: 'https://localhost:4569',
      }),
    ).toEqual({
      region: 'us-east-1',
      endpoints: { kinesis: 'http://127.0.0.1:4567', s3: 'https://localhost:4569' },
      credentials: LOCAL_CREDENTIALS,
    });
  });

  it('takes a variable set to nothing (an uncommented line of .env.example) as unset', () => {
    expect(awsClientConfigFromEnv({ AWS_REGION: '', TICKSTREAM_ENDPOINT_TIMESTREAM: '' })).toEqual({
      region: 'us-east-1',
      endpoints: {},
    });
  });

  it('refuses an endpoint that is not an http(s) URL, naming the variable, in one line', () => {
    for (const value of ['127.0.0.1:4567', 'localhost:4567', 'ftp://127.0.0.1:4567', 'kinesis']) {
      expect(() => awsClientConfigFromEnv({ TICKSTREAM_ENDPOINT_KINESIS: value }), value).toThrow(
        new Error(
          'invalid AWS client configuration: TICKSTREAM_ENDPOINT_KINESIS: must be an http(s) URL such as http://127.0.0.1:4567',
        ),
      );
    }
    expect(() =>
      awsClientConfigFromEnv({ TICKSTREAM_ENDPOINT_SQS: 'sqs', TICKSTREAM_ENDPOINT_SNS: '127.0.0.1:4571' }),
    ).toThrow(
      'invalid AWS client configuration: TICKSTREAM_ENDPOINT_SQS: must be an http(s) URL such as http://127.0.0.1:4567; ' +
        'TICKSTREAM_ENDPOINT_SNS: must be an http(s) URL such as http://127.0.0.1:4567',
    );
  });
});

describe('a local run’s clients', () => {
  it('give every client the emulators’ key pair, one without an endpoint too, never the default chain', async () => {
    // The local cloud emulates no Timestream: its client has no endpoint. Left to the default chain,
    // it would pick up the developer's own AWS credentials and could write to a real account.
    const clients = createAwsClients(
      awsClientConfigFromEnv({ TICKSTREAM_ENDPOINT_KINESIS: 'http://127.0.0.1:4567' }),
    );
    try {
      for (const client of [clients.kinesis, clients.timestream, clients.s3]) {
        const credentials = await client.config.credentials();
        expect(credentials).toMatchObject(LOCAL_CREDENTIALS);
      }
    } finally {
      clients.destroy();
    }
  });
});
