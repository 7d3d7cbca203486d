import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredMessage, type LocalSns, startLocalSns } from '../../../scripts/local/sns.ts';
import type { CloudFormationTemplate } from '../../../scripts/local/template.ts';
import { synthesizeTemplate } from '../../../scripts/template/synthesize.ts';
import { createAwsClients } from '../../../src/adapters/aws/clients.ts';
import { SnsAlertNotifier } from '../../../src/adapters/aws/sns-alert-notifier.ts';
import { LOCAL_CREDENTIALS } from '../../../src/config/aws.ts';
import type { Alert } from '../../../src/ports/processor.ts';
import { realTemplate } from '../../support/local-cloud.ts';

const T = Date.UTC(2024, 2, 8, 14, 31);
function alert(symbol: string, severity: string, kind = 'price-spike'): Alert {
  return {
    id: `${symbol}#${kind}#${T}`,
    symbol,
    kind,
    severity,
    at: T,
    value: 5,
    threshold: 3,
    message: `${symbol} ${severity}`,
  };
}

/** The dev template plus the subscriptions a stage could add (the dev stage has none). */
async function templateWithSubscriptions(): Promise<CloudFormationTemplate> {
  const base = structuredClone(await realTemplate('dev')) as CloudFormationTemplate;
  return {
    ...base,
    Resources: {
      ...base.Resources,
      PagerSubscription: {
        Type: 'AWS::SNS::Subscription',
        Properties: {
          TopicArn: { Ref: 'AlertsTopic' },
          Protocol: 'sqs',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
          Endpoint: { 'Fn::Sub': 'arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:pager' },
          FilterPolicy: { severity: ['high', 'critical'] },
          RawMessageDelivery: 'true',
        },
      },
      AaplEmailSubscription: {
        Type: 'AWS::SNS::Subscription',
        Properties: {
          TopicArn: { Ref: 'AlertsTopic' },
          Protocol: 'email',
          Endpoint: 'ops@example.com',
          FilterPolicy: JSON.stringify({ symbol: ['AAPL'] }),
          // Raw delivery does not exist for e-mail: ignored, as AWS ignores it.
          RawMessageDelivery: true,
        },
      },
      TimestreamOnlySubscription: {
        Type: 'AWS::SNS::Subscription',
        Condition: 'TimestreamEnabled',
        Properties: { TopicArn: { Ref: 'AlertsTopic' }, Protocol: 'email', Endpoint: 'x@example.com' },
      },
    },
  };
}

function nonLoopbackIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('local SNS (fauxqs) from the template', () => {
  let sns: LocalSns;
  let notifier: SnsAlertNotifier;
  let clients: ReturnType<typeof createAwsClients>;

  beforeAll(async () => {
    sns = await startLocalSns({ template: await templateWithSubscriptions() });
    clients = createAwsClients({
      region: 'us-east-1',
      endpoints: { sns: sns.endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    notifier = new SnsAlertNotifier({ sns: clients.sns, topicArn: sns.topics.AlertsTopic! });
    for (const a of [
      alert('AAPL', 'high'),
      alert('MSFT', 'low'),
      alert('AAPL', 'low'),
      alert('MSFT', 'critical'),
    ]) {
      await notifier.publish(a);
    }
  });
  afterAll(async () => {
    clients?.destroy();
    await sns?.stop();
  });

  it("creates the template's topics under their own names and inboxes for its subscriptions", () => {
    expect(sns.topics).toEqual({
      AlertsTopic: 'arn:aws:sns:us-east-1:000000000000:tickstream-dev-alerts',
      OpsTopic: 'arn:aws:sns:us-east-1:000000000000:tickstream-dev-ops', // CloudWatch alarms' only: nothing publishes locally
    });
    expect(Object.keys(sns.inboxes).sort()).toEqual(['AaplEmailSubscription', 'PagerSubscription']);
    expect(sns.skipped).toEqual([
      { logicalId: 'TimestreamOnlySubscription', reason: 'condition TimestreamEnabled is false' },
    ]);
    expect(sns.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a severity filter policy delivers only matching alerts, raw, with their attributes', async () => {
    const got = await sns.receive(sns.inboxes.PagerSubscription!);
    expect(got.map((m) => JSON.parse(m.body).id).sort()).toEqual(
      [alert('AAPL', 'high').id, alert('MSFT', 'critical').id].sort(),
    );
    const aapl = got.find((m) => JSON.parse(m.body).symbol === 'AAPL')!;
    expect(JSON.parse(aapl.body)).toMatchObject({
      symbol: 'AAPL',
      severity: 'high',
      kind: 'price-spike',
      at: T,
    });
    expect(aapl.attributes).toEqual({ symbol: 'AAPL', kind: 'price-spike', severity: 'high' });
    expect(await sns.receive(sns.inboxes.PagerSubscription!)).toEqual([]);
  });

  it('an e-mail subscriber gets the SNS envelope (subject + the e-mail text) of its symbol only', async () => {
    const got = await sns.receive(sns.inboxes.AaplEmailSubscription!);
    const envelopes = got.map(
      (m) => JSON.parse(m.body) as { Type: string; Subject: string; Message: string },
    );
    expect(envelopes).toHaveLength(2);
    for (const e of envelopes) {
      expect(e.Type).toBe('Notification');
      // The e-mail part of the message the notifier published, not its JSON.
      expect(e.Message).toMatch(/^AAPL (high|low)\n\nSymbol: {4}AAPL\nKind: {6}price-spike\n/);
    }
    expect(envelopes.map((e) => e.Subject).sort()).toEqual([
      '[HIGH] AAPL price-spike at 2024-03-08 14:31 UTC',
      '[LOW] AAPL price-spike at 2024-03-08 14:31 UTC',
    ]);
  });

  it('the unfiltered inbox of the topic sees every alert, as JSON (an SQS subscriber)', async () => {
    const got = await sns.receive(sns.allInboxes.AlertsTopic!);
    expect(
      got.map((m) => JSON.parse((JSON.parse(m.body) as { Message: string }).Message).symbol).sort(),
    ).toEqual(['AAPL', 'AAPL', 'MSFT', 'MSFT']);
  });

  it('hands each protocol its part of a message published with MessageStructure json, and any other message as it is', () => {
    const parts = JSON.stringify({ default: '{"a":1}', email: 'Hello', sms: 'Hi' });
    expect(deliveredMessage(parts, 'email')).toBe('Hello');
    expect(deliveredMessage(parts, 'sms')).toBe('Hi');
    expect(deliveredMessage(parts, 'sqs')).toBe('{"a":1}');
    expect(deliveredMessage(parts, 'https')).toBe('{"a":1}');
    // Not a structure: a JSON alert, a non-string part, an unknown key, no default, plain text.
    for (const m of [
      '{"symbol":"AAPL","default":"x"}',
      '{"default":"x","email":{"t":1}}',
      '{"email":"Hello"}',
      'plain text',
      '["default"]',
    ])
      expect(deliveredMessage(m, 'email')).toBe(m);
  });

  it('listens on loopback only', async () => {
    const ip = nonLoopbackIPv4();
    if (!ip) return; // no other interface on this machine: nothing else could reach it anyway
    const port = Number(new URL(sns.endpoint).port);
    const outcome = await new Promise<string>((done) => {
      const s = net.connect({ host: ip, port }, () => {
        s.destroy();
        done('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });
});

describe('local SNS persistence', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickstream-sns-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps inbox messages across restarts and applies the template's current filter policy", async () => {
    const template = await templateWithSubscriptions();
    const first = await startLocalSns({ template, stateDir: dir });
    const c1 = createAwsClients({
      region: 'us-east-1',
      endpoints: { sns: first.endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    await new SnsAlertNotifier({ sns: c1.sns, topicArn: first.topics.AlertsTopic! }).publish(
      alert('AAPL', 'high'),
    );
    c1.destroy();
    await first.stop();

    const changed = structuredClone(template);
    (changed.Resources.PagerSubscription!.Properties as Record<string, unknown>).FilterPolicy = {
      severity: ['low'],
    };
    const second = await startLocalSns({ template: changed, stateDir: dir });
    try {
      const c2 = createAwsClients({
        region: 'us-east-1',
        endpoints: { sns: second.endpoint },
        credentials: LOCAL_CREDENTIALS,
      });
      const n2 = new SnsAlertNotifier({ sns: c2.sns, topicArn: second.topics.AlertsTopic! });
      await n2.publish(alert('TSLA', 'high'));
      await n2.publish(alert('TSLA', 'low'));
      c2.destroy();
      const got = (await second.receive(second.inboxes.PagerSubscription!)).map((m) => JSON.parse(m.body));
      expect(got.map((a) => `${a.symbol}:${a.severity}`).sort()).toEqual(['AAPL:high', 'TSLA:low']);
      // The inboxes kept from the first run are shown at this run's endpoint, not the old port.
      expect(second.endpoint).not.toBe(first.endpoint);
      const urls = [
        ...Object.values(second.inboxes),
        ...Object.values(second.allInboxes),
        ...second.subscriptions.map((s) => s.queueUrl),
      ];
      expect(urls.length).toBeGreaterThan(2);
      for (const url of urls) expect(url.startsWith(`${second.endpoint}/`), url).toBe(true);
    } finally {
      await second.stop();
    }
  });
});

describe('e-mail subscriptions from the stage params, locally', () => {
  it('alertEmailSeverities=critical: the e-mail subscriber receives the critical alerts only', async () => {
    const template = await synthesizeTemplate('staging', {
      params: { alertEmails: 'ops@example.com', alertEmailSeverities: 'critical' },
    });
    const sns = await startLocalSns({ template });
    const clients = createAwsClients({
      region: 'us-east-1',
      endpoints: { sns: sns.endpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const notifier = new SnsAlertNotifier({ sns: clients.sns, topicArn: sns.topics.AlertsTopic! });
      for (const a of [alert('AAPL', 'info'), alert('MSFT', 'warning'), alert('NVDA', 'critical')])
        await notifier.publish(a);
      const inboxes = Object.keys(sns.inboxes);
      expect(inboxes).toHaveLength(1);
      expect(inboxes[0]).toMatch(/^AlertsEmailSubscription[0-9A-F]{10}$/);
      const got = await sns.receive(sns.inboxes[inboxes[0]!]!);
      expect(got.map((m) => (JSON.parse(m.body) as { Message: string }).Message.split('\n')[2])).toEqual([
        'Symbol:    NVDA',
      ]);
    } finally {
      clients.destroy();
      await sns.stop();
    }
  });
});
