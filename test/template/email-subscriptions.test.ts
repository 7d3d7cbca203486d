import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  PROJECT_ROOT,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import { resourcesOfType } from './helpers.ts';

const require = createRequire(import.meta.url);
const { parseEmails, parseAlertSeverities } = require(
  join(PROJECT_ROOT, 'resources', 'email-subscriptions.cjs'),
) as {
  parseEmails: (raw: unknown, param: string) => string[];
  parseAlertSeverities: (raw: unknown) => string[];
};
const parseAlertEmails = (raw: unknown) => parseEmails(raw, 'alertEmails');

describe('alertEmailSeverities param parsing', () => {
  it('accepts a comma string or a list of the alert severities, in severity order; empty means all', () => {
    expect(parseAlertSeverities('')).toEqual([]);
    expect(parseAlertSeverities(undefined)).toEqual([]);
    expect(parseAlertSeverities(' critical, WARNING ,critical')).toEqual(['warning', 'critical']);
    expect(parseAlertSeverities(['info'])).toEqual(['info']);
  });

  it('rejects a severity alerts never carry, naming the param and the choices', () => {
    expect(() => parseAlertSeverities('warning,high')).toThrow(
      'param alertEmailSeverities: "high" is not a severity (expected some of info, warning, critical)',
    );
  });
});

describe('alertEmails param parsing', () => {
  it('accepts a comma string or a list, trims, drops blanks and duplicates', () => {
    expect(parseAlertEmails('')).toEqual([]);
    expect(parseAlertEmails(' , ')).toEqual([]);
    expect(parseAlertEmails(undefined)).toEqual([]);
    expect(parseAlertEmails('ops@example.com, OnCall@Example.com ,ops@example.com')).toEqual([
      'ops@example.com',
      'oncall@example.com',
    ]);
    expect(parseAlertEmails(['a@example.org', 'b@example.org'])).toEqual(['a@example.org', 'b@example.org']);
  });

  it('rejects something that is not an e-mail address, naming the param and the value', () => {
    expect(() => parseAlertEmails('ops@example.com,not-an-address')).toThrow(
      'param alertEmails: "not-an-address" is not an e-mail address',
    );
    expect(() => parseAlertEmails('a@b.com;c@d.com')).toThrow('param alertEmails: "a@b.com;c@d.com"');
  });
});

describe('e-mail subscriptions in the template', () => {
  let withEmails: CloudFormationTemplate;
  let reordered: CloudFormationTemplate;

  beforeAll(async () => {
    withEmails = await synthesizeTemplate('staging', {
      params: { alertEmails: 'ops@example.com,oncall@example.com' },
    });
    reordered = await synthesizeTemplate('staging', {
      params: { alertEmails: 'oncall@example.com,ops@example.com,new@example.com' },
    });
  });

  it('subscribes each address to the alerts topic by e-mail', () => {
    const subs = resourcesOfType(withEmails, 'AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subs).toHaveLength(2);
    expect(subs).toContainEqual({
      TopicArn: { Ref: 'AlertsTopic' },
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    expect(subs).toContainEqual({
      TopicArn: { Ref: 'AlertsTopic' },
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('keeps logical IDs stable when addresses are reordered or added (no re-confirmation)', () => {
    const ids = (t: CloudFormationTemplate) =>
      new Map(resourcesOfType(t, 'AWS::SNS::Subscription').map(([id, r]) => [r.Properties?.Endpoint, id]));
    const before = ids(withEmails);
    const after = ids(reordered);
    expect(after.size).toBe(3);
    for (const [email, id] of before) expect(after.get(email)).toBe(id);
  });

  it('has no filter policy by default: every alert is e-mailed', () => {
    for (const [, r] of resourcesOfType(withEmails, 'AWS::SNS::Subscription')) {
      expect(r.Properties?.FilterPolicy).toBeUndefined();
    }
  });

  it('filters the e-mail subscriptions on the severity attribute when alertEmailSeverities is set', async () => {
    const filtered = await synthesizeTemplate('staging', {
      params: { alertEmails: 'ops@example.com,oncall@example.com', alertEmailSeverities: 'critical,warning' },
    });
    const subs = resourcesOfType(filtered, 'AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subs).toHaveLength(2);
    for (const p of subs) {
      expect(p).toMatchObject({
        Protocol: 'email',
        FilterPolicyScope: 'MessageAttributes',
        FilterPolicy: { severity: ['warning', 'critical'] },
      });
    }
    await expect(
      synthesizeTemplate('staging', {
        params: { alertEmails: 'ops@example.com', alertEmailSeverities: 'high' },
      }),
    ).rejects.toThrow(/param alertEmailSeverities: "high" is not a severity/);
  });

  it('fails packaging with a clear message for a bad address', async () => {
    await expect(synthesizeTemplate('staging', { params: { alertEmails: 'ops@example' } })).rejects.toThrow(
      /param alertEmails: "ops@example" is not an e-mail address/,
    );
    await expect(synthesizeTemplate('staging', { params: { opsEmails: 'oncall' } })).rejects.toThrow(
      /param opsEmails: "oncall" is not an e-mail address/,
    );
    // The message alone: not the stack of the module that found it (frames in resources/ and osls).
    const failure = await synthesizeTemplate('staging', { params: { alertEmails: 'ops@example' } }).catch(
      (e: unknown) => e as Error,
    );
    expect(String(failure)).toContain('invalid stage configuration:');
    expect(String(failure)).not.toMatch(/^\s+at /m);
  });

  it('subscribes each opsEmails address to the ops topic, unfiltered, apart from the alert subscribers', async () => {
    const both = await synthesizeTemplate('staging', {
      params: {
        alertEmails: 'trader@example.com',
        alertEmailSeverities: 'critical',
        opsEmails: 'oncall@example.com, OPS@example.com',
      },
    });
    const subs = resourcesOfType(both, 'AWS::SNS::Subscription');
    const onOps = subs.filter(
      ([, r]) => (r.Properties?.TopicArn as { Ref?: string } | undefined)?.Ref === 'OpsTopic',
    );
    expect(onOps.map(([, r]) => r.Properties)).toEqual([
      { TopicArn: { Ref: 'OpsTopic' }, Protocol: 'email', Endpoint: 'oncall@example.com' },
      { TopicArn: { Ref: 'OpsTopic' }, Protocol: 'email', Endpoint: 'ops@example.com' },
    ]);
    for (const [id] of onOps) expect(id).toMatch(/^OpsEmailSubscription[0-9A-F]{10}$/);
    const onAlerts = subs.filter(
      ([, r]) => (r.Properties?.TopicArn as { Ref?: string } | undefined)?.Ref === 'AlertsTopic',
    );
    expect(onAlerts.map(([, r]) => r.Properties?.Endpoint)).toEqual(['trader@example.com']);
    // An alert subscription's ID does not depend on the ops addresses.
    const alone = await synthesizeTemplate('staging', { params: { alertEmails: 'trader@example.com' } });
    expect(onAlerts.map(([id]) => id)).toEqual(
      resourcesOfType(alone, 'AWS::SNS::Subscription').map(([id]) => id),
    );
    expect(onAlerts[0]![0]).toMatch(/^AlertsEmailSubscription[0-9A-F]{10}$/);
  });
});
