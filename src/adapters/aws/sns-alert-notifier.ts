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
 */
export const SNS_MAX_MESSAGE_BYTES = 262_144;
export const SNS_MAX_SUBJECT_CHARS = 99;

/** The alert cannot be published as it is (too large, empty attribute): nothing was sent. */
export class AlertPublishError extends AlertNotPublishedError {
  constructor(alertId: string, reason: string) {
    super(alertId, reason);
    this.name = 'AlertPublishError';
  }
}

type SdkError = { name?: string; $metadata?: { httpStatusCode?: number; attempts?: number } } | null;

/**
 * True when SNS refused the request and nothing was published: a 4xx answer to the only attempt the
 * SDK made. A timeout or a broken connection does not tell; a 5xx answer does not promise the
 * message was not taken; and when the SDK had retried, an earlier attempt may have published.
 */
function refused(err: unknown): boolean {
  const meta = (err as SdkError)?.$metadata;
  const status = meta?.httpStatusCode;
  return (meta?.attempts ?? 1) === 1 && typeof status === 'number' && status >= 400 && status < 500;
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
 * One SNS message per alert, with String attributes symbol, kind and severity for filter policies.
 * At most once: a publish is sent again only when SNS refused it (throttled), never after a timeout,
 * a broken connection or a 5xx, which may have published. AlertNotPublishedError says nothing was.
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
    const message = alertMessage(alert);
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
      MessageAttributes: attributes,
    });
    for (let retry = 0; ; retry++) {
      let res: { MessageId?: string | undefined };
      try {
        res = await this.#sns.send(command);
      } catch (err) {
        // Anything but a refusal leaves the outcome unknown: passed on as it is, never retried.
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
