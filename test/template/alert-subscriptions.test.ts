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
const { parseAlertEmails } = require(join(PROJECT_ROOT, 'resources', 'alert-subscriptions.cjs')) as {
  parseAlertEmails: (raw: unknown) => string[];
};

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

  it('fails packaging with a clear message for a bad address', async () => {
    await expect(synthesizeTemplate('staging', { params: { alertEmails: 'ops@example' } })).rejects.toThrow(
      /param alertEmails: "ops@example" is not an e-mail address/,
    );
  });
});
