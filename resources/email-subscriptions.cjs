// Generates the stack's e-mail subscriptions (AWS::SNS::Subscription, protocol email):
// - one on AlertsTopic per address in the `alertEmails` stage param; `alertEmailSeverities`
//   ('' = every alert) gives them a filter policy on the `severity` message attribute, so e-mail
//   receives only those severities;
// - one on OpsTopic (resources/monitoring.yml: the CloudWatch alarms) per address in `opsEmails`.
// Each param is a comma-separated string or a YAML list; an empty one yields no resources. Logical
// IDs derive from a hash of the address, so reordering or adding addresses never replaces (and
// re-confirms) the existing subscriptions.
// CommonJS on purpose: osls loads `${file(...)}` JavaScript sources with require().
'use strict';

const { createHash } = require('node:crypto');

const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

/** A list param: a comma-separated string or a YAML list, items trimmed, blanks dropped. */
/** @param {unknown} raw @returns {string[]} */
function listParam(raw) {
  if (raw === undefined || raw === null || raw === false) return [];
  const items = Array.isArray(raw) ? raw : String(raw).split(',');
  return items.map((item) => String(item).trim()).filter((item) => item.length > 0);
}

/** @param {unknown} raw @param {string} param its name, for the error @returns {string[]} */
function parseEmails(raw, param) {
  const emails = listParam(raw);
  for (const email of emails) {
    if (!EMAIL.test(email)) {
      throw new Error(`param ${param}: "${email}" is not an e-mail address (expected name@domain.tld)`);
    }
  }
  return [...new Set(emails.map((email) => email.toLowerCase()))];
}

/** The severities an alert carries (src/domain/analytics/anomalies.ts), lowest first. */
const SEVERITIES = ['info', 'warning', 'critical'];

/** @param {unknown} raw @returns {string[]} */
function parseAlertSeverities(raw) {
  const severities = listParam(raw).map((item) => item.toLowerCase());
  for (const severity of severities) {
    if (!SEVERITIES.includes(severity)) {
      throw new Error(
        `param alertEmailSeverities: "${severity}" is not a severity (expected some of ${SEVERITIES.join(', ')})`,
      );
    }
  }
  return SEVERITIES.filter((s) => severities.includes(s));
}

/**
 * @param {'Alerts' | 'Ops'} topic the topic's logical ID without `Topic` (also the IDs' prefix)
 * @param {string[]} emails
 * @param {string[]} [severities] a filter on the `severity` attribute ([] = every message)
 */
function subscriptionResources(topic, emails, severities = []) {
  const filter =
    severities.length > 0
      ? { FilterPolicyScope: 'MessageAttributes', FilterPolicy: { severity: severities } }
      : {};
  const resources = {};
  for (const email of emails) {
    const id = createHash('sha256').update(email).digest('hex').slice(0, 10).toUpperCase();
    resources[`${topic}EmailSubscription${id}`] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: `${topic}Topic` }, Protocol: 'email', Endpoint: email, ...filter },
    };
  }
  return resources;
}

module.exports = async ({ resolveVariable }) => {
  let alertEmails;
  let severities;
  let opsEmails;
  try {
    alertEmails = parseEmails(await resolveVariable('param:alertEmails'), 'alertEmails');
    severities = parseAlertSeverities(await resolveVariable('param:alertEmailSeverities'));
    opsEmails = parseEmails(await resolveVariable('param:opsEmails'), 'opsEmails');
  } catch (error) {
    // resources/stage-params.cjs reports the same problem with the others; osls would print this
    // error's stack, whose frames are this file's and osls's, not the operator's settings.
    error.stack = '';
    throw error;
  }
  return {
    Resources: {
      ...subscriptionResources('Alerts', alertEmails, severities),
      ...subscriptionResources('Ops', opsEmails),
    },
  };
};
module.exports.parseEmails = parseEmails;
module.exports.parseAlertSeverities = parseAlertSeverities;
module.exports.subscriptionResources = subscriptionResources;
