import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AlertPublishError,
  alertSubject,
  SnsAlertNotifier,
} from '../../../src/adapters/aws/sns-alert-notifier.ts';
import type { Alert } from '../../../src/ports/processor.ts';

const sns = new SNSClient({ region: 'us-east-1' });
const snsMock = mockClient(sns);
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:tickstream-dev-alerts';
afterEach(() => snsMock.reset());

const alert: Alert = {
  id: 'AAPL#price-spike#1709908260000',
  symbol: 'AAPL',
  kind: 'price-spike',
  severity: 'high',
  at: Date.UTC(2024, 2, 8, 14, 31),
  value: 4.2,
  threshold: 3,
  message: 'AAPL moved 4.2σ in one minute',
};

describe('SnsAlertNotifier', () => {
  it('publishes one message with symbol/kind/severity String attributes, a subject and a JSON body', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notifier = new SnsAlertNotifier({ sns, topicArn: TOPIC });
    expect(await notifier.publish(alert)).toBe('m-1');
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.MessageAttributes).toEqual({
      symbol: { DataType: 'String', StringValue: 'AAPL' },
      kind: { DataType: 'String', StringValue: 'price-spike' },
      severity: { DataType: 'String', StringValue: 'high' },
    });
    expect(input.Subject).toBe('[HIGH] AAPL price-spike at 2024-03-08 14:31 UTC');
    expect(JSON.parse(input.Message!)).toEqual({ ...alert, atIso: '2024-03-08T14:31:00.000Z' });
  });

  it('keeps the subject printable ASCII and under 100 characters', () => {
    const subject = alertSubject({ ...alert, kind: `ümlaut\n${'x'.repeat(200)}`, symbol: 'BRK-B' });
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith('[HIGH] BRK-B ?mlaut?xxx')).toBe(true);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('refuses an alert whose filter attribute is empty, naming the field', async () => {
    const notifier = new SnsAlertNotifier({ sns, topicArn: TOPIC });
    await expect(notifier.publish({ ...alert, severity: '' })).rejects.toThrow(AlertPublishError);
    await expect(notifier.publish({ ...alert, severity: ' ' })).rejects.toThrow(
      /severity must be a non-empty string/,
    );
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('refuses a message over the 256 KB SNS limit', async () => {
    const notifier = new SnsAlertNotifier({ sns, topicArn: TOPIC });
    await expect(notifier.publish({ ...alert, message: 'x'.repeat(262_144) })).rejects.toThrow(
      /over SNS's 262144-byte limit/,
    );
  });

  it('rejects a topic that is not an ARN', () => {
    expect(() => new SnsAlertNotifier({ sns, topicArn: 'alerts' })).toThrow(
      /ALERTS_TOPIC_ARN must be an SNS topic ARN/,
    );
  });
});
