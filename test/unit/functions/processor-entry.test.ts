import { describe, expect, it } from 'vitest';
import { loadProcessorEnv } from '../../../src/config/processor.ts';
import { toStreamRecords } from '../../../src/pipeline/process/stream-records.ts';
import { kinesisEvent } from '../../support/kinesis-events.ts';

const GOOD_ENV = {
  MARKET_TABLE_NAME: 'tickstream-dev-market',
  LAKE_BUCKET_NAME: 'tickstream-000000000000-us-east-1-dev-lake',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/tickstream-dev-processor-dlq',
  ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:tickstream-dev-alerts',
  POWERTOOLS_METRICS_NAMESPACE: 'tickstream/dev',
};

describe('the processor entry point', () => {
  it('maps a Kinesis event to stream records: shard from the eventID, arrival in ms, payload untouched', () => {
    const event = kinesisEvent(
      [
        { partitionKey: 'AAPL', payload: '{"a":1}', sequenceNumber: '49600', arrival: 1_727_900_000_123 },
        { partitionKey: 'MSFT', payload: 'x', sequenceNumber: '49601', arrival: 1_727_900_000_456 },
      ],
      'shardId-000000000003',
    );
    expect(toStreamRecords(event)).toEqual([
      {
        shardId: 'shardId-000000000003',
        sequenceNumber: '49600',
        partitionKey: 'AAPL',
        data: Buffer.from('{"a":1}').toString('base64'),
        arrivalTime: 1_727_900_000_123,
      },
      {
        shardId: 'shardId-000000000003',
        sequenceNumber: '49601',
        partitionKey: 'MSFT',
        data: Buffer.from('x').toString('base64'),
        arrivalTime: 1_727_900_000_456,
      },
    ]);
  });

  it('rejects an eventID without a shard id', () => {
    const event = kinesisEvent([{ partitionKey: 'AAPL', payload: '{}', sequenceNumber: '1' }]);
    event.Records[0]!.eventID = '1';
    expect(() => toStreamRecords(event)).toThrow(/eventID "1" has no "shardId:sequenceNumber" form/);
  });

  it('reads its configuration with defaults, and fails at cold start naming each bad setting', () => {
    expect(loadProcessorEnv(GOOD_ENV)).toMatchObject({ METRICS_TTL_DAYS: 30, TIMESTREAM_ENABLED: false });
    expect(() => loadProcessorEnv({ ...GOOD_ENV, MARKET_TABLE_NAME: undefined })).toThrow(
      /MARKET_TABLE_NAME: MARKET_TABLE_NAME is required/,
    );
    expect(() => loadProcessorEnv({ ...GOOD_ENV, ALERTS_TOPIC_ARN: 'alerts' })).toThrow(
      /ALERTS_TOPIC_ARN: must be an SNS topic ARN/,
    );
    expect(() => loadProcessorEnv({ ...GOOD_ENV, TIMESTREAM_ENABLED: 'yes' })).toThrow(
      /TIMESTREAM_ENABLED: TIMESTREAM_ENABLED must be true or false \(or 1 or 0\)/,
    );
    // The same on/off values as the poller's flags: 1/0, and empty for off.
    expect(loadProcessorEnv({ ...GOOD_ENV, TIMESTREAM_ENABLED: '' }).TIMESTREAM_ENABLED).toBe(false);
    expect(loadProcessorEnv({ ...GOOD_ENV, TIMESTREAM_ENABLED: '0' }).TIMESTREAM_ENABLED).toBe(false);
    expect(
      loadProcessorEnv({
        ...GOOD_ENV,
        TIMESTREAM_ENABLED: '1',
        TIMESTREAM_DATABASE: 'd',
        TIMESTREAM_TABLE: 't',
      }).TIMESTREAM_ENABLED,
    ).toBe(true);
    expect(() => loadProcessorEnv({ ...GOOD_ENV, POWERTOOLS_METRICS_NAMESPACE: '' })).toThrow(
      /POWERTOOLS_METRICS_NAMESPACE: POWERTOOLS_METRICS_NAMESPACE is required/,
    );
    expect(() => loadProcessorEnv({ ...GOOD_ENV, TIMESTREAM_ENABLED: 'true' })).toThrow(
      /TIMESTREAM_DATABASE and TIMESTREAM_TABLE are required when TIMESTREAM_ENABLED is true/,
    );
  });

  it('takes METRICS_TTL_DAYS as a whole number of days within the metricsTtlDays param’s range', () => {
    expect(loadProcessorEnv({ ...GOOD_ENV, METRICS_TTL_DAYS: '7' }).METRICS_TTL_DAYS).toBe(7);
    expect(loadProcessorEnv({ ...GOOD_ENV, METRICS_TTL_DAYS: '36500' }).METRICS_TTL_DAYS).toBe(36500);
    const cases: [string, string][] = [
      ['30d', 'METRICS_TTL_DAYS must be a whole number of days'],
      ['1.5', 'METRICS_TTL_DAYS must be a whole number of days'],
      ['0', 'METRICS_TTL_DAYS must be at least 1'],
      ['36501', 'METRICS_TTL_DAYS must be at most 36500'],
    ];
    for (const [value, reason] of cases) {
      expect(() => loadProcessorEnv({ ...GOOD_ENV, METRICS_TTL_DAYS: value }), value).toThrow(
        new Error(`invalid stream processor configuration: METRICS_TTL_DAYS: ${reason}`),
      );
    }
  });
});
