/**
 * The local SNS: fauxqs (in-process SNS + SQS) with the template's topics in it, and one local
 * inbox queue per subscription of the template carrying that subscription's FilterPolicy,
 * FilterPolicyScope and RawMessageDelivery, so a local subscriber receives exactly what the AWS
 * subscriber (e-mail, SMS, HTTPS, SQS…) would. Each topic also gets one unfiltered "all" inbox for
 * the terminal view. Listens on 127.0.0.1 only, on a free port.
 *
 * Inbox queues live inside fauxqs: read them with an SQS client whose endpoint is `endpoint` (or
 * with `receive()`), not with the local cloud's SQS emulator.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { LOCAL_CREDENTIALS } from '../../src/config/aws.ts';
import {
  type CloudFormationTemplate,
  createResolver,
  generatedName,
  LOCAL_ACCOUNT_ID,
  type TemplateContext,
  UnresolvableError,
} from './template.ts';

export interface StartLocalSnsOptions {
  /** The synthesized CloudFormation template (topics and subscriptions are read from it). */
  readonly template: CloudFormationTemplate;
  /** Persist topics, subscriptions and inbox messages here (fauxqs's SQLite, under `<stateDir>/sns`); undefined = in memory. */
  readonly stateDir?: string;
  readonly log?: (line: string) => void;
  /** Default us-east-1 (as in ARNs the template resolves to). */
  readonly region?: string;
  /** AWS::StackName for Fn::Sub and generated names (default tickstream-dev). */
  readonly stackName?: string;
  /** Default 0: a free port. */
  readonly port?: number;
}

/** What one template subscription looks like locally. */
export interface LocalSubscription {
  readonly logicalId: string;
  readonly topicLogicalId: string;
  readonly protocol: string;
  readonly endpoint: string | undefined;
  readonly filterPolicy: string | undefined;
  readonly filterPolicyScope: 'MessageAttributes' | 'MessageBody' | undefined;
  readonly rawMessageDelivery: boolean;
  readonly queueUrl: string;
}

export interface SkippedSubscription {
  readonly logicalId: string;
  readonly reason: string;
}

export interface InboxMessage {
  readonly messageId: string;
  /** The SQS body: the SNS envelope JSON, or the raw message when RawMessageDelivery is on. */
  readonly body: string;
  readonly attributes: Record<string, string>;
}

export interface LocalSns {
  /** http://127.0.0.1:<port>: the SNS endpoint (TICKSTREAM_ENDPOINT_SNS), also the inboxes' SQS endpoint. */
  readonly endpoint: string;
  /** Topic logical id → ARN. */
  readonly topics: Record<string, string>;
  /** Subscription logical id → inbox queue URL (filtered like the subscription). */
  readonly inboxes: Record<string, string>;
  /** Topic logical id → its unfiltered "all alerts" inbox queue URL. */
  readonly allInboxes: Record<string, string>;
  readonly subscriptions: readonly LocalSubscription[];
  readonly skipped: readonly SkippedSubscription[];
  /** Receives (and by default deletes) up to `max` messages from an inbox; short poll. */
  receive(queueUrl: string, options?: { max?: number; keep?: boolean }): Promise<InboxMessage[]>;
  stop(): Promise<void>;
}

/** Protocols whose deliveries can be raw (the message alone, no SNS envelope). */
const RAW_CAPABLE = new Set(['sqs', 'http', 'https', 'firehose']);
const MAX_QUEUE_NAME = 80;

function queueName(base: string, fifo: boolean): string {
  const suffix = fifo ? '.fifo' : '';
  const clean = base.replace(/[^a-zA-Z0-9_-]/g, '-');
  if (clean.length + suffix.length <= MAX_QUEUE_NAME) return clean + suffix;
  const hash = createHash('sha256').update(clean).digest('hex').slice(0, 8);
  return `${clean.slice(0, MAX_QUEUE_NAME - suffix.length - 9)}-${hash}${suffix}`;
}

/** The top-level keys of a message published with MessageStructure `json` (Publish API reference). */
const STRUCTURE_KEYS = new Set([
  'default',
  'email',
  'email-json',
  'sms',
  'http',
  'https',
  'sqs',
  'lambda',
  'firehose',
  'application',
]);

/**
 * What a `protocol` subscriber gets of `message`: of one published with MessageStructure `json` (a
 * JSON object of strings under protocol keys, `default` among them), its protocol's string, else
 * `default`, as SNS delivers it; any other message as it is. fauxqs fans the structure out whole,
 * so the local inboxes pick their part when they are read.
 */
export function deliveredMessage(message: string, protocol: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return message;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return message;
  const parts = parsed as Record<string, unknown>;
  const structured =
    typeof parts.default === 'string' &&
    Object.entries(parts).every(([k, v]) => STRUCTURE_KEYS.has(k) && typeof v === 'string');
  if (!structured) return message;
  const own = parts[protocol];
  return typeof own === 'string' ? own : (parts.default as string);
}

/** An inbox message's body as the `protocol` subscriber gets it: raw, or the SNS envelope (see deliveredMessage). */
function deliveredBody(body: string, protocol: string, raw: boolean): string {
  if (raw) return deliveredMessage(body, protocol);
  let envelope: { Message?: unknown };
  try {
    envelope = JSON.parse(body) as { Message?: unknown };
  } catch {
    return body;
  }
  if (typeof envelope?.Message !== 'string') return body;
  const message = deliveredMessage(envelope.Message, protocol);
  return message === envelope.Message ? body : JSON.stringify({ ...envelope, Message: message });
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function asBool(v: unknown): boolean {
  return v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
}

/**
 * fauxqs listens on 0.0.0.0; this project binds loopback only. While fauxqs starts, a wildcard
 * host passed to net.Server#listen is narrowed to 127.0.0.1 (only then, and only wildcard hosts).
 */
async function withLoopbackListen<T>(start: () => Promise<T>): Promise<T> {
  const proto = net.Server.prototype;
  const original = proto.listen;
  const wildcard = new Set(['0.0.0.0', '::', '']);
  proto.listen = function (this: net.Server, ...args: unknown[]) {
    const first = args[0];
    if (first && typeof first === 'object' && 'port' in first) {
      const host = (first as { host?: string }).host;
      if (host === undefined || wildcard.has(host)) args[0] = { ...first, host: '127.0.0.1' };
    }
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof proto.listen;
  try {
    return await start();
  } finally {
    proto.listen = original;
  }
}

interface TopicPlan {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly fifo: boolean;
  readonly attributes: Record<string, string>;
  readonly inline: readonly { protocol: string; endpoint: string | undefined }[];
}

interface SubscriptionPlan {
  readonly logicalId: string;
  readonly topic: TopicPlan;
  readonly protocol: string;
  readonly endpoint: string | undefined;
  readonly attributes: Record<string, string>;
  readonly filterPolicy: string | undefined;
  readonly filterPolicyScope: 'MessageAttributes' | 'MessageBody' | undefined;
  readonly raw: boolean;
}

/** Reads the template's topics and subscriptions (pure; exported for tests). */
export function planLocalSns(
  template: CloudFormationTemplate,
  ctx: TemplateContext,
): { topics: TopicPlan[]; subscriptions: SubscriptionPlan[]; skipped: SkippedSubscription[] } {
  const names = createResolver(
    template,
    ctx,
    () => undefined,
    () => undefined,
  );
  const topics: TopicPlan[] = [];
  const skipped: SkippedSubscription[] = [];
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::SNS::Topic') continue;
    if (res.Condition && !names.condition(res.Condition)) {
      skipped.push({ logicalId: id, reason: `condition ${res.Condition} is false` });
      continue;
    }
    const props = res.Properties ?? {};
    const fifo = asBool(props.FifoTopic);
    const given = props.TopicName;
    const name =
      given === undefined
        ? generatedName(ctx.stackName, id, { maxLength: 256, suffix: fifo ? '.fifo' : '' })
        : String(names.resolve(given, `Resources.${id}.Properties.TopicName`));
    const attributes: Record<string, string> = {};
    if (props.DisplayName !== undefined) {
      attributes.DisplayName = String(
        names.resolve(props.DisplayName, `Resources.${id}.Properties.DisplayName`),
      );
    }
    if (fifo) {
      attributes.FifoTopic = 'true';
      if (asBool(props.ContentBasedDeduplication)) attributes.ContentBasedDeduplication = 'true';
    }
    const inline = (
      (props.Subscription as { Protocol?: unknown; Endpoint?: unknown }[] | undefined) ?? []
    ).map((s, i) => ({
      protocol: String(names.resolve(s.Protocol, `Resources.${id}.Properties.Subscription[${i}].Protocol`)),
      endpoint:
        s.Endpoint === undefined ? undefined : text(names.resolve(s.Endpoint, `${id}.Subscription[${i}]`)),
    }));
    topics.push({
      logicalId: id,
      name,
      arn: `arn:${ctx.partition}:sns:${ctx.region}:${ctx.accountId}:${name}`,
      fifo,
      attributes,
      inline,
    });
  }
  const byId = new Map(topics.map((t) => [t.logicalId, t]));
  const byArn = new Map(topics.map((t) => [t.arn, t]));
  const resolver = createResolver(
    template,
    ctx,
    (id) => byId.get(id)?.arn,
    (id, att) =>
      att === 'TopicArn' ? byId.get(id)?.arn : att === 'TopicName' ? byId.get(id)?.name : undefined,
  );

  const subscriptions: SubscriptionPlan[] = [];
  for (const t of topics) {
    t.inline.forEach((s, i) => {
      subscriptions.push({
        logicalId: `${t.logicalId}.Subscription.${i}`,
        topic: t,
        protocol: s.protocol,
        endpoint: s.endpoint,
        attributes: {},
        filterPolicy: undefined,
        filterPolicyScope: undefined,
        raw: false,
      });
    });
  }
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::SNS::Subscription') continue;
    try {
      if (res.Condition && !resolver.condition(res.Condition)) {
        skipped.push({ logicalId: id, reason: `condition ${res.Condition} is false` });
        continue;
      }
      const props = res.Properties ?? {};
      const where = `Resources.${id}.Properties`;
      const topicArn = String(resolver.resolve(props.TopicArn, `${where}.TopicArn`));
      const topic = byArn.get(topicArn);
      if (!topic) {
        skipped.push({ logicalId: id, reason: `TopicArn ${topicArn} is not a topic of this template` });
        continue;
      }
      const protocol = String(resolver.resolve(props.Protocol, `${where}.Protocol`)).toLowerCase();
      const endpointValue =
        props.Endpoint === undefined ? undefined : resolver.resolve(props.Endpoint, `${where}.Endpoint`);
      const policyValue =
        props.FilterPolicy === undefined
          ? undefined
          : resolver.resolve(props.FilterPolicy, `${where}.FilterPolicy`);
      const filterPolicy =
        policyValue === undefined
          ? undefined
          : typeof policyValue === 'string'
            ? policyValue
            : JSON.stringify(policyValue);
      if (filterPolicy !== undefined) {
        try {
          JSON.parse(filterPolicy);
        } catch {
          throw new UnresolvableError(`${where}.FilterPolicy is not valid JSON`);
        }
      }
      const scopeValue =
        props.FilterPolicyScope === undefined
          ? undefined
          : String(resolver.resolve(props.FilterPolicyScope, `${where}.FilterPolicyScope`));
      if (scopeValue !== undefined && scopeValue !== 'MessageAttributes' && scopeValue !== 'MessageBody') {
        throw new UnresolvableError(
          `${where}.FilterPolicyScope must be MessageAttributes or MessageBody, got ${scopeValue}`,
        );
      }
      const raw =
        RAW_CAPABLE.has(protocol) &&
        asBool(resolver.resolve(props.RawMessageDelivery ?? false, `${where}.RawMessageDelivery`));
      const attributes: Record<string, string> = {};
      if (filterPolicy !== undefined) attributes.FilterPolicy = filterPolicy;
      if (scopeValue !== undefined) attributes.FilterPolicyScope = scopeValue;
      if (raw) attributes.RawMessageDelivery = 'true';
      subscriptions.push({
        logicalId: id,
        topic,
        protocol,
        endpoint: endpointValue === undefined ? undefined : text(endpointValue),
        attributes,
        filterPolicy,
        filterPolicyScope: scopeValue,
        raw,
      });
    } catch (e) {
      if (!(e instanceof UnresolvableError)) throw e;
      skipped.push({ logicalId: id, reason: e.message });
    }
  }
  return { topics, subscriptions, skipped };
}

/**
 * An inbox queue, reusing a persisted one (fauxqs's createQueue would empty it). Its URL is given at
 * `endpoint`: fauxqs names a host (`sqs.<region>.localhost`) not every resolver knows, and a queue
 * kept from an earlier run carries that run's port.
 */
function ensureQueue(
  server: FauxqsServer,
  endpoint: string,
  name: string,
  fifo: boolean,
): { queueUrl: string; queueName: string } {
  const existing = server.inspectQueue(name);
  const url = existing
    ? existing.url
    : server.createQueue(name, { attributes: fifo ? { FifoQueue: 'true' } : {} }).queueUrl;
  return { queueUrl: `${endpoint}${new URL(url).pathname}`, queueName: name };
}

export async function startLocalSns(options: StartLocalSnsOptions): Promise<LocalSns> {
  const log = options.log ?? (() => {});
  const region = options.region ?? 'us-east-1';
  const ctx: TemplateContext = {
    region,
    accountId: LOCAL_ACCOUNT_ID,
    stackName: options.stackName ?? 'tickstream-dev',
    partition: 'aws',
  };
  const plan = planLocalSns(options.template, ctx);
  let dataDir: string | undefined;
  if (options.stateDir !== undefined) {
    dataDir = join(resolve(options.stateDir), 'sns');
    mkdirSync(dataDir, { recursive: true });
  }
  const server: FauxqsServer = await withLoopbackListen(() =>
    startFauxqs({
      port: options.port ?? 0,
      logger: false,
      defaultRegion: region,
      ...(dataDir ? { dataDir } : {}),
    }),
  );
  const endpoint = `http://127.0.0.1:${server.port}`;
  const sqs = new SQSClient({ region, endpoint, credentials: LOCAL_CREDENTIALS });

  try {
    const topics: Record<string, string> = {};
    const allInboxes: Record<string, string> = {};
    for (const t of plan.topics) {
      // Recreated from the template on every start (its subscriptions too), so a persisted state
      // never keeps a filter policy the template no longer has. Inbox queues and their messages stay.
      server.deleteTopic(t.name);
      const { topicArn } = server.createTopic(t.name, { attributes: t.attributes });
      topics[t.logicalId] = topicArn;
      const all = ensureQueue(server, endpoint, queueName(`inbox-all-${t.logicalId}`, t.fifo), t.fifo);
      server.subscribe({ topic: t.name, queue: all.queueName });
      allInboxes[t.logicalId] = all.queueUrl;
      log(`sns: topic ${t.logicalId} → ${topicArn} (all messages: ${all.queueUrl})`);
    }
    const inboxes: Record<string, string> = {};
    const subscriptions: LocalSubscription[] = [];
    for (const s of plan.subscriptions) {
      const q = ensureQueue(server, endpoint, queueName(`inbox-${s.logicalId}`, s.topic.fifo), s.topic.fifo);
      server.subscribe({ topic: s.topic.name, queue: q.queueName, attributes: s.attributes });
      inboxes[s.logicalId] = q.queueUrl;
      subscriptions.push({
        logicalId: s.logicalId,
        topicLogicalId: s.topic.logicalId,
        protocol: s.protocol,
        endpoint: s.endpoint,
        filterPolicy: s.filterPolicy,
        filterPolicyScope: s.filterPolicyScope,
        rawMessageDelivery: s.raw,
        queueUrl: q.queueUrl,
      });
      log(
        `sns: ${s.protocol} subscription ${s.logicalId}${s.endpoint ? ` (${s.endpoint})` : ''} → inbox ${q.queueUrl}${s.filterPolicy ? ` filter ${s.filterPolicy}` : ''}${s.raw ? ' raw' : ''}`,
      );
    }
    for (const k of plan.skipped) log(`sns: skipped ${k.logicalId}: ${k.reason}`);

    /** Inbox queue URL → how its subscriber is delivered to (the "all" inboxes: as an SQS queue). */
    const delivery = new Map<string, { protocol: string; raw: boolean }>(
      Object.values(allInboxes).map((url) => [url, { protocol: 'sqs', raw: false }]),
    );
    for (const s of subscriptions)
      delivery.set(s.queueUrl, { protocol: s.protocol, raw: s.rawMessageDelivery });
    let stopped = false;
    return {
      endpoint,
      topics,
      inboxes,
      allInboxes,
      subscriptions,
      skipped: plan.skipped,
      async receive(queueUrl, opts = {}) {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, Math.max(1, opts.max ?? 10)),
            MessageAttributeNames: ['All'],
            WaitTimeSeconds: 0,
          }),
        );
        const messages = res.Messages ?? [];
        if (!opts.keep && messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
        const d = delivery.get(queueUrl) ?? { protocol: 'sqs', raw: false };
        return messages.map((m) => ({
          messageId: m.MessageId ?? '',
          body: deliveredBody(m.Body ?? '', d.protocol, d.raw),
          attributes: Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
          ),
        }));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        sqs.destroy();
        await server.stop();
      },
    };
  } catch (e) {
    sqs.destroy();
    await server.stop();
    throw e;
  }
}
