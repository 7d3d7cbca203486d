import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import {
  AlertPublishError,
  alertSms,
  alertSubject,
  SMS_MAX_CHARS,
  SnsAlertNotifier,
} from '../../../src/adapters/aws/sns-alert-notifier.ts';
import { LOCAL_CREDENTIALS } from '../../../src/config/aws.ts';
import { priceMoveAnomaly, volumeSpikeAnomaly } from '../../../src/domain/analytics/anomalies.ts';
import { type Alert, AlertNotPublishedError } from '../../../src/ports/processor.ts';

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
  it('publishes one message with symbol/kind/severity String attributes, a subject, JSON for machines and texts for people', async () => {
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
    // One message for each kind of subscriber: `default` (SQS, HTTPS, Lambda…), e-mail and SMS.
    expect(input.MessageStructure).toBe('json');
    const parts = JSON.parse(input.Message!) as Record<string, string>;
    expect(Object.keys(parts).sort()).toEqual(['default', 'email', 'sms']);
    expect(JSON.parse(parts.default!)).toEqual({ ...alert, atIso: '2024-03-08T14:31:00.000Z' });
    expect(parts.email!.split('\n').slice(0, 9)).toEqual([
      'AAPL moved 4.2σ in one minute',
      '',
      'Symbol:    AAPL',
      'Kind:      price-spike',
      'Severity:  high',
      'Bar:       2024-03-08T14:31:00.000Z',
      'Value:     4.2',
      'Threshold: 3',
      'Alert id:  AAPL#price-spike#1709908260000',
    ]);
    expect(parts.sms).toBe('HIGH AAPL price-spike 14:31 UTC - AAPL moved 4.2? in one minute');
  });

  it('keeps an SMS to one segment of plain ASCII, cut with an ellipsis', () => {
    const sms = alertSms({
      ...alert,
      symbol: '^GSPC',
      message: `^GSPC volume 9000 is 4.1× the typical 2000 per bar\n${'é'.repeat(300)}`,
    });
    expect(sms.length).toBe(SMS_MAX_CHARS);
    expect(sms).toMatch(/^[\x20-\x7e]+$/);
    expect(
      sms.startsWith(
        'HIGH ^GSPC price-spike 14:31 UTC - ^GSPC volume 9000 is 4.1x the typical 2000 per bar ???',
      ),
    ).toBe(true);
    expect(sms.endsWith('...')).toBe(true);
  });

  it("writes the anomaly messages' own signs in ASCII in an SMS: ± as +/-, × as x, never '?'", () => {
    const at = Date.UTC(2024, 9, 2, 13, 31);
    const move = priceMoveAnomaly('F', at, 'info', 5.2, 5, 11.2, 10.6);
    const spike = volumeSpikeAnomaly('F', at, 'info', 5.4, 5, 5400, 1000);
    const sms = [move, spike].map((a) => alertSms({ ...a, id: `${a.symbol}#${a.kind}#${a.at}` }));
    expect(sms).toEqual([
      'INFO F price-move 13:31 UTC - F up +5.20 % vs previous close 10.6 (now 11.2, bar 2024-10-02T13:31:00.000Z; threshold +/-5 %)',
      'INFO F volume-spike 13:31 UTC - F volume 5400 is 5.4x the typical 1000 per bar (bar 2024-10-02T13:31:00.000Z; threshold 5x)',
    ]);
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

  it('says nothing was published when the endpoint did not resolve or no connection opened in time', async () => {
    const notifier = new SnsAlertNotifier({ sns, topicArn: TOPIC });
    const never = [
      // As Node and the SDK's HTTP handler raise them.
      Object.assign(new Error('getaddrinfo EAI_AGAIN sns.us-east-1.amazonaws.com'), {
        code: 'EAI_AGAIN',
        syscall: 'getaddrinfo',
      }),
      Object.assign(new Error('connect ETIMEDOUT 52.94.0.1:443'), { code: 'ETIMEDOUT', syscall: 'connect' }),
      Object.assign(
        new Error(
          '@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 5000 ms.',
        ),
        { name: 'TimeoutError' },
      ),
    ];
    for (const err of never) {
      snsMock.on(PublishCommand).rejects(err);
      await expect(notifier.publish(alert), err.message).rejects.toBeInstanceOf(AlertNotPublishedError);
    }
    // On a connection that was open, the request may have been taken: unknown, not 'not published'.
    for (const err of [
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }),
      Object.assign(new Error('the request socket timed out after 30000 ms of inactivity'), {
        name: 'TimeoutError',
      }),
      // The last of a retrying client's attempts: an earlier one may have published.
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), {
        code: 'ECONNREFUSED',
        syscall: 'connect',
        $metadata: { attempts: 3 },
      }),
    ]) {
      snsMock.on(PublishCommand).rejects(err);
      const outcome = await notifier.publish(alert).catch((e: unknown) => e);
      expect(outcome, err.message).toBe(err);
    }
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(6);
  });

  it('rejects a topic that is not an ARN', () => {
    expect(() => new SnsAlertNotifier({ sns, topicArn: 'alerts' })).toThrow(
      /ALERTS_TOPIC_ARN must be an SNS topic ARN/,
    );
  });
});

/** SNS's XML error answer. */
function answerError(res: ServerResponse, status: number, type: string, code: string, message: string) {
  res.writeHead(status, { 'content-type': 'text/xml' });
  res.end(
    `<?xml version="1.0"?><ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
  );
}

/**
 * An SNS endpoint on loopback that answers each Publish as scripted: 'ok' (published), 'throttled'
 * (SNS's 400 Throttled, nothing published), 'refused' (a 403 AuthorizationError, nothing published),
 * 'error' (a 500 after taking it), 'lost' (taken, then the connection drops before any answer:
 * published, the reply lost). Unscripted requests are 'ok'.
 */
async function scriptedSns(script: ('ok' | 'throttled' | 'refused' | 'error' | 'lost')[]) {
  const published: string[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c;
    });
    req.on('end', () => {
      const step = script[requests++] ?? 'ok';
      const message = new URLSearchParams(body).get('Message') ?? '';
      // Refused before taking the message: nothing published.
      if (step === 'throttled') return answerError(res, 400, 'Sender', 'Throttled', 'Rate exceeded');
      if (step === 'refused')
        return answerError(res, 403, 'Sender', 'AuthorizationError', 'not authorized to publish');
      published.push(message);
      if (step === 'lost') {
        req.socket.destroy();
        return;
      }
      if (step === 'error') return answerError(res, 500, 'Receiver', 'InternalError', 'internal');
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<?xml version="1.0"?><PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    published,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('SnsAlertNotifier through the SDK, the client as the processor builds it', () => {
  const noSleep = { sleep: async () => {} };

  async function publishWith(
    script: Parameters<typeof scriptedSns>[0],
    client = (endpoint: string) =>
      createAwsClients({ region: 'us-east-1', endpoints: { sns: endpoint }, credentials: LOCAL_CREDENTIALS })
        .sns,
  ) {
    const server = await scriptedSns(script);
    const sns = client(server.endpoint);
    try {
      const notifier = new SnsAlertNotifier({ sns, topicArn: TOPIC, backoff: noSleep });
      const outcome = await notifier.publish(alert).catch((err: unknown) => err);
      return { outcome, published: server.published.length, requests: server.requests() };
    } finally {
      sns.destroy();
      await server.close();
    }
  }

  it('publishes again after SNS throttled it (nothing was published), once delivered', async () => {
    expect(await publishWith(['throttled', 'throttled', 'ok'])).toEqual({
      outcome: 'm-1',
      published: 1,
      requests: 3,
    });
  });

  it('says nothing was published when SNS still throttles after the retries', async () => {
    const { outcome, published, requests } = await publishWith([
      'throttled',
      'throttled',
      'throttled',
      'throttled',
    ]);
    expect(outcome).toBeInstanceOf(AlertNotPublishedError);
    expect([published, requests]).toEqual([0, 4]);
  });

  it('does not ask again after a refusal that is not throttling: nothing was published, once', async () => {
    const { outcome, published, requests } = await publishWith(['refused', 'ok']);
    expect(outcome).toBeInstanceOf(AlertNotPublishedError);
    expect((outcome as Error).message).toMatch(/not authorized to publish/);
    expect([published, requests]).toEqual([0, 1]);
  });

  it('never sends again after an attempt whose outcome is unknown (reply lost, 5xx): at most once', async () => {
    for (const unknown of ['lost', 'error'] as const) {
      const { outcome, published, requests } = await publishWith([unknown, 'ok']);
      expect(outcome, unknown).toBeInstanceOf(Error);
      expect(outcome, unknown).not.toBeInstanceOf(AlertNotPublishedError);
      expect([unknown, published, requests]).toEqual([unknown, 1, 1]);
    }
  });

  it('says nothing was published when no connection to SNS could be opened, so the claim is given back', async () => {
    // A loopback port nothing listens on: the connect is refused before a byte of the request is
    // written. Without this the alert stayed claimed for good, as if SNS might have taken it.
    const server = await scriptedSns([]);
    const { endpoint } = server;
    await server.close();
    const clients = createAwsClients({
      region: 'us-east-1',
      endpoints: { sns: endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const notifier = new SnsAlertNotifier({ sns: clients.sns, topicArn: TOPIC, backoff: noSleep });
      const outcome = await notifier.publish(alert).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(AlertNotPublishedError);
      expect((outcome as Error).message).toMatch(/ECONNREFUSED/);
      expect(server.requests()).toBe(0);
    } finally {
      clients.destroy();
    }
  });

  it("does not take a refusal for 'nothing published' when a retrying SDK client made earlier attempts", async () => {
    // The SDK's own retries: the reply to the first attempt lost, then refusals to the others.
    for (const maxAttempts of [2, 3]) {
      const retrying = (endpoint: string) =>
        new SNSClient({ region: 'us-east-1', endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts });
      const script = ['lost', ...Array(maxAttempts - 1).fill('throttled')];
      const { outcome, published, requests } = await publishWith(script, retrying);
      expect(outcome, `maxAttempts ${maxAttempts}`).toBeInstanceOf(Error);
      expect(outcome, `maxAttempts ${maxAttempts}`).not.toBeInstanceOf(AlertNotPublishedError);
      expect([published, requests]).toEqual([1, maxAttempts]);
    }
  });
});
