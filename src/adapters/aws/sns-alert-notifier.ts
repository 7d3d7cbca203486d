import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type Alert, type AlertNotifier, AlertNotPublishedError } from '../../ports/processor.ts';
import { type BackoffOptions, resolveBackoff } from './market-table.ts';

/**
 * SNS limits this adapter honours (Publish API reference):
 * - Message: UTF-8, at most 256 KB (262,144 bytes) including attributes.
 * - Subject (used as the e-mail subject): ASCII text beginning with a letter, number or punctuation
 *   mark, no line breaks or control characters, less than 100 characters.
 * - Message attributes: String values must be non-empty; at most 10 attributes survive delivery to
 *   SQS, so only the three the filter policies need are sent (symbol, kind, severity).
 * - MessageStructure `json`: the message is a JSON object whose string `default` goes to every
 *   protocol without a key of its own (`email`, `sms`, …): machines (SQS, HTTPS, Lambda, e-mail-json)
 *   get the alert as JSON, people a text written for their inbox or phone.
 */
export const SNS_MAX_MESSAGE_BYTES = 262_144;
export const SNS_MAX_SUBJECT_CHARS = 99;
/**
 * An SMS alert's length at most: one message segment. A segment holds 160 GSM-7 characters, but a
 * few ASCII ones (`^ { } [ ] ~ | \\`, as in ^GSPC) take two, and anything outside GSM-7 turns the
 * message into 70-character UCS-2 segments: so ASCII only, and room to spare.
 */
export const SMS_MAX_CHARS = 140;

/** The alert cannot be published as it is (too large, empty attribute): nothing was sent. */
export class AlertPublishError extends AlertNotPublishedError {
  constructor(alertId: string, reason: string) {
    super(alertId, reason);
    this.name = 'AlertPublishError';
  }
}

type SdkError = {
  name?: string;
  message?: unknown;
  syscall?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
} | null;

/** Whether the SDK made one attempt: after a retry, an earlier attempt may have published. */
const onlyAttempt = (err: unknown): boolean => ((err as SdkError)?.$metadata?.attempts ?? 1) === 1;

/**
 * True when SNS refused the request and nothing was published: a 4xx answer to the only attempt the
 * SDK made. A timeout or a broken connection does not tell; a 5xx answer does not promise the
 * message was not taken; and when the SDK had retried, an earlier attempt may have published.
 */
function refused(err: unknown): boolean {
  const status = (err as SdkError)?.$metadata?.httpStatusCode;
  return onlyAttempt(err) && typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * True when the request never left: no connection to SNS was opened, so nothing can have been
 * published. Node names the step that failed in `syscall`: `getaddrinfo` (the endpoint's name did
 * not resolve: ENOTFOUND, EAI_AGAIN) or `connect` (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT…), both
 * before a byte of the request is written; the SDK's HTTP handler gives up on a connection it could
 * not open within its connection timeout with a TimeoutError saying so. An error on a connection
 * that was open (ECONNRESET, EPIPE, a socket timeout) may come after SNS took the message: unknown.
 * Only the SDK's single attempt tells (see refused).
 */
function neverSent(err: unknown): boolean {
  const e = err as SdkError;
  if (!onlyAttempt(err)) return false;
  if (e?.syscall === 'getaddrinfo' || e?.syscall === 'connect') return true;
  return (
    e?.name === 'TimeoutError' &&
    typeof e.message === 'string' &&
    /(did not establish|without establishing) a connection/.test(e.message)
  );
}

/** SNS's own rate limits (Publish API reference), and HTTP 429: refused now, worth asking again. */
function throttled(err: unknown): boolean {
  const e = err as SdkError;
  return (
    e?.$metadata?.httpStatusCode === 429 ||
    ['ThrottledException', 'KMSThrottlingException', 'Throttling', 'ThrottlingException'].includes(
      e?.name ?? '',
    )
  );
}

/** A readable e-mail subject within SNS's constraints: printable ASCII only, < 100 characters. */
export function alertSubject(alert: Alert): string {
  const at = Number.isFinite(alert.at) ? new Date(alert.at).toISOString().slice(0, 16).replace('T', ' ') : '';
  const raw = `[${alert.severity.toUpperCase()}] ${alert.symbol} ${alert.kind} at ${at} UTC`;
  // Replace anything outside printable ASCII (accents, control characters, line breaks) by '?'.
  let subject = raw.replace(/[^\x20-\x7e]/g, '?').trim();
  if (subject.length > SNS_MAX_SUBJECT_CHARS) subject = `${subject.slice(0, SNS_MAX_SUBJECT_CHARS - 3)}...`;
  return subject;
}

/** The JSON message body: the alert itself plus its time as ISO-8601. */
export function alertMessage(alert: Alert): string {
  return JSON.stringify({
    id: alert.id,
    symbol: alert.symbol,
    kind: alert.kind,
    severity: alert.severity,
    at: alert.at,
    atIso: Number.isFinite(alert.at) ? new Date(alert.at).toISOString() : null,
    value: alert.value,
    threshold: alert.threshold,
    message: alert.message,
  });
}

/**
 * Printable ASCII: the two signs the anomaly messages use (anomalies.ts) written out, `×` as `x` and
 * `±` as `+/-` (neither is in GSM-7), anything else outside it (accents, line breaks) as `?`.
 */
const ascii = (text: string): string =>
  text
    .replace(/×/g, 'x')
    .replace(/±/g, '+/-')
    .replace(/[^\x20-\x7e]/g, '?');

/** The alert as an SMS: severity, symbol, kind, time and its message, in one segment (see SMS_MAX_CHARS). */
export function alertSms(alert: Alert): string {
  const at = Number.isFinite(alert.at) ? `${new Date(alert.at).toISOString().slice(11, 16)} UTC ` : '';
  const text = ascii(
    `${alert.severity.toUpperCase()} ${alert.symbol} ${alert.kind} ${at}- ${alert.message}`.replace(
      /\s+/g,
      ' ',
    ),
  ).trim();
  return text.length <= SMS_MAX_CHARS ? text : `${text.slice(0, SMS_MAX_CHARS - 3)}...`;
}

/** The alert as an e-mail body: its message, then each field on a line of its own. */
export function alertEmail(alert: Alert): string {
  const rows: [string, string][] = [
    ['Symbol', alert.symbol],
    ['Kind', alert.kind],
    ['Severity', alert.severity],
    ['Bar', Number.isFinite(alert.at) ? new Date(alert.at).toISOString() : String(alert.at)],
    ['Value', String(alert.value)],
    ['Threshold', String(alert.threshold)],
    ['Alert id', alert.id],
  ];
  return [
    alert.message,
    '',
    ...rows.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}`),
    '',
    '-- tickstream. Subscriptions can filter on the message attributes symbol, kind and severity.',
    '',
  ].join('\n');
}

/**
 * What SNS is asked to publish (MessageStructure `json`): the alert's JSON for every protocol by
 * default, a text for e-mail and a one-segment SMS.
 */
export function alertMessages(alert: Alert): string {
  return JSON.stringify({ default: alertMessage(alert), email: alertEmail(alert), sms: alertSms(alert) });
}

function requireAttribute(alert: Alert, field: 'symbol' | 'kind' | 'severity'): string {
  const value = alert[field];
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new AlertPublishError(
      alert.id,
      `${field} must be a non-empty string (it is a filter-policy attribute)`,
    );
  }
  return value;
}

export interface SnsAlertNotifierOptions {
  /**
   * Built with `maxAttempts: 1` (as createAwsClients does): a retry after an attempt whose outcome is
   * unknown could publish twice, so the notifier makes its own retries, only after refusals.
   */
  readonly sns: SNSClient;
  /** ALERTS_TOPIC_ARN */
  readonly topicArn: string;
  /** Retries of a throttled publish (default 3, from 100 ms, doubling, jittered). */
  readonly backoff?: BackoffOptions;
}

/**
 * One SNS message per alert, with String attributes symbol, kind and severity for filter policies;
 * JSON to machines, a text to e-mail and SMS subscribers (see alertMessages).
 * At most once: a publish is sent again only when SNS refused it (throttled), never after a timeout,
 * a broken connection or a 5xx, which may have published. AlertNotPublishedError says nothing was:
 * SNS refused it, or no connection to SNS could be opened (see neverSent).
 */
export class SnsAlertNotifier implements AlertNotifier {
  readonly #sns: SNSClient;
  readonly #topicArn: string;
  readonly #backoff: ReturnType<typeof resolveBackoff>;

  constructor(options: SnsAlertNotifierOptions) {
    if (!options.topicArn.startsWith('arn:')) {
      throw new RangeError(`ALERTS_TOPIC_ARN must be an SNS topic ARN, got '${options.topicArn}'`);
    }
    this.#sns = options.sns;
    this.#topicArn = options.topicArn;
    this.#backoff = resolveBackoff({ maxRetries: 3, baseDelayMs: 100, ...options.backoff });
  }

  async publish(alert: Alert): Promise<string> {
    const attributes = {
      symbol: { DataType: 'String', StringValue: requireAttribute(alert, 'symbol') },
      kind: { DataType: 'String', StringValue: requireAttribute(alert, 'kind') },
      severity: { DataType: 'String', StringValue: requireAttribute(alert, 'severity') },
    };
    const message = alertMessages(alert);
    const size =
      Buffer.byteLength(message) +
      Object.entries(attributes).reduce(
        (n, [k, v]) => n + k.length + v.DataType.length + Buffer.byteLength(v.StringValue),
        0,
      );
    if (size > SNS_MAX_MESSAGE_BYTES) {
      throw new AlertPublishError(
        alert.id,
        `message is ${size} bytes, over SNS's ${SNS_MAX_MESSAGE_BYTES}-byte limit`,
      );
    }
    const command = new PublishCommand({
      TopicArn: this.#topicArn,
      Subject: alertSubject(alert),
      Message: message,
      MessageStructure: 'json',
      MessageAttributes: attributes,
    });
    for (let retry = 0; ; retry++) {
      let res: { MessageId?: string | undefined };
      try {
        res = await this.#sns.send(command);
      } catch (err) {
        // A connection never opened sent nothing: the caller gives the claim back, its retry sends.
        if (neverSent(err))
          throw new AlertNotPublishedError(alert.id, (err as Error).message, { cause: err });
        // Anything else but a refusal leaves the outcome unknown: passed on as it is, never retried.
        if (!refused(err)) throw err;
        if (throttled(err) && retry < this.#backoff.maxRetries) {
          await this.#backoff.delay(retry);
          continue;
        }
        throw new AlertNotPublishedError(alert.id, (err as Error).message, { cause: err });
      }
      if (!res.MessageId) throw new AlertPublishError(alert.id, 'SNS returned no MessageId');
      return res.MessageId;
    }
  }
}
