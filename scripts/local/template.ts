/**
 * Reads the synthesized CloudFormation template into a local provisioning plan: which Kinesis
 * streams, DynamoDB tables, S3 buckets and SQS queues to create, with the names, key schemas and
 * attributes the template gives them. Nothing is typed a second time: names come from the
 * template's properties (or, where CloudFormation would generate one, a deterministic local name).
 *
 * Pure: no I/O. The simple intrinsics are resolved (Ref, Fn::Sub, Fn::Join, Fn::GetAtt, Fn::Select,
 * Fn::If, Fn::Equals/And/Or/Not in Conditions) with AWS::AccountId = 000000000000; anything else
 * (Fn::ImportValue, Fn::GetAZs, …) is unresolvable, and a resource that needs it is skipped with
 * that reason.
 */

export interface CloudFormationResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Condition?: string;
  readonly DependsOn?: string | readonly string[];
}

export interface CloudFormationTemplate {
  readonly AWSTemplateFormatVersion?: string;
  readonly Description?: string;
  /** Each parameter is `{ Type, Default, … }`; a parameter without a Default is unresolvable locally. */
  readonly Parameters?: Record<string, unknown>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources: Record<string, CloudFormationResource>;
  readonly Outputs?: Record<string, unknown>;
}

export const LOCAL_ACCOUNT_ID = '000000000000';

export interface TemplateContext {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  readonly partition: string;
  /** Base URL of the SQS endpoint, used to build queue URLs (Ref of an AWS::SQS::Queue). */
  readonly sqsEndpoint?: string;
}

export interface StreamPlan {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Provisioned shard count, or 4 for on-demand (the shard count AWS starts an on-demand stream with). */
  readonly shardCount: number;
  readonly mode: 'PROVISIONED' | 'ON_DEMAND';
  readonly retentionHours?: number;
}

export interface KeyElement {
  readonly AttributeName: string;
  readonly KeyType: 'HASH' | 'RANGE';
}

export interface AttributeDefinition {
  readonly AttributeName: string;
  readonly AttributeType: 'S' | 'N' | 'B';
}

export interface SecondaryIndexPlan {
  readonly IndexName: string;
  readonly KeySchema: KeyElement[];
  readonly Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
}

export interface TablePlan {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly keySchema: KeyElement[];
  readonly attributeDefinitions: AttributeDefinition[];
  readonly globalSecondaryIndexes: SecondaryIndexPlan[];
  readonly localSecondaryIndexes: SecondaryIndexPlan[];
  /** The TTL attribute the template enables (the emulator does not expire items). */
  readonly ttlAttribute?: string;
}

export interface BucketPlan {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
}

export interface QueuePlan {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly fifo: boolean;
  /** SQS attributes as the SQS API takes them (strings), the ones that matter locally. */
  readonly attributes: Record<string, string>;
  /** Logical id of the queue this one redrives to, when it is in the same template. */
  readonly deadLetterTarget?: string;
}

export interface SkippedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly reason: string;
}

export interface LocalPlan {
  readonly streams: StreamPlan[];
  readonly tables: TablePlan[];
  readonly buckets: BucketPlan[];
  readonly queues: QueuePlan[];
  /** Resources of an emulated type (or SNS topics) that are not created locally, and why. */
  readonly skipped: SkippedResource[];
  /** Count of resources per type that have no local counterpart (IAM, Lambda, alarms, …). */
  readonly notEmulated: Record<string, number>;
}

export const EMULATED_TYPES = [
  'AWS::Kinesis::Stream',
  'AWS::DynamoDB::Table',
  'AWS::S3::Bucket',
  'AWS::SQS::Queue',
] as const;

/** Thrown when a value needs an intrinsic this resolver does not evaluate locally. */
export class UnresolvableError extends Error {
  override name = 'UnresolvableError';
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A single-key object whose key is an intrinsic (`Ref`, `Fn::*`, `Condition`). */
function intrinsicOf(v: Json): [string, Json] | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0]!;
  if (k === 'Ref' || k.startsWith('Fn::') || k === 'Condition') return [k, v[k]];
  return undefined;
}

export interface Resolver {
  /** Resolves every intrinsic in a value; throws UnresolvableError naming what it could not resolve. */
  resolve(value: Json, where: string): Json;
  /** Evaluates a named condition of the template. */
  condition(name: string): boolean;
}

/**
 * Builds a resolver. `refOf(logicalId)` / `attOf(logicalId, attribute)` answer Ref and Fn::GetAtt
 * for resources (undefined = unresolvable).
 */
export function createResolver(
  template: CloudFormationTemplate,
  ctx: TemplateContext,
  refOf: (logicalId: string) => string | undefined,
  attOf: (logicalId: string, attribute: string) => string | undefined,
): Resolver {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ctx.accountId,
    'AWS::Region': ctx.region,
    'AWS::StackName': ctx.stackName,
    'AWS::Partition': ctx.partition,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackId': `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/local`,
  };
  const conditionCache = new Map<string, boolean>();

  const ref = (name: string, where: string): Json => {
    if (name in pseudo) return pseudo[name];
    if (name === 'AWS::NoValue') return undefined;
    const param = template.Parameters?.[name] as { Default?: unknown } | undefined;
    if (param) {
      if (param.Default === undefined)
        throw new UnresolvableError(`${where}: parameter ${name} has no Default to use locally`);
      return param.Default;
    }
    if (template.Resources[name]) {
      const r = refOf(name);
      if (r === undefined) throw new UnresolvableError(`${where}: Ref ${name} is not available locally`);
      return r;
    }
    throw new UnresolvableError(`${where}: Ref to unknown name ${name}`);
  };

  const str = (v: Json, where: string): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new UnresolvableError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  };

  const sub = (text: string, vars: Record<string, Json>, where: string): string =>
    text.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
      if (inner.startsWith('!')) return `\${${inner.slice(1)}}`; // ${!Literal}
      if (inner in vars) return str(vars[inner], where);
      const dot = inner.indexOf('.');
      if (dot > 0 && !inner.startsWith('AWS::')) {
        const att = attOf(inner.slice(0, dot), inner.slice(dot + 1));
        if (att === undefined) throw new UnresolvableError(`${where}: \${${inner}} is not available locally`);
        return att;
      }
      const r = ref(inner, where);
      if (r === undefined) throw new UnresolvableError(`${where}: ${whole} resolves to no value`);
      return str(r, where);
    });

  const resolve = (value: Json, where: string): Json => {
    const fn = intrinsicOf(value);
    if (fn) {
      const [k, arg] = fn;
      switch (k) {
        case 'Ref':
          return ref(str(arg, where), where);
        case 'Fn::Sub': {
          if (typeof arg === 'string') return sub(arg, {}, where);
          if (Array.isArray(arg) && typeof arg[0] === 'string' && isObject(arg[1])) {
            const vars: Record<string, Json> = {};
            for (const [n, v] of Object.entries(arg[1])) vars[n] = resolve(v, where);
            return sub(arg[0], vars, where);
          }
          throw new UnresolvableError(`${where}: malformed Fn::Sub`);
        }
        case 'Fn::Join': {
          if (!Array.isArray(arg) || arg.length !== 2 || !Array.isArray(arg[1]))
            throw new UnresolvableError(`${where}: malformed Fn::Join`);
          const sep = str(arg[0], where);
          const parts = resolve(arg[1], where);
          if (!Array.isArray(parts)) throw new UnresolvableError(`${where}: Fn::Join list did not resolve`);
          return parts.map((p) => str(p, where)).join(sep);
        }
        case 'Fn::Select': {
          if (!Array.isArray(arg) || arg.length !== 2)
            throw new UnresolvableError(`${where}: malformed Fn::Select`);
          const index = Number(resolve(arg[0], where));
          const list = resolve(arg[1], where);
          if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length)
            throw new UnresolvableError(`${where}: Fn::Select index out of range`);
          return list[index];
        }
        case 'Fn::Split': {
          if (!Array.isArray(arg) || arg.length !== 2)
            throw new UnresolvableError(`${where}: malformed Fn::Split`);
          return str(resolve(arg[1], where), where).split(str(arg[0], where));
        }
        case 'Fn::GetAtt': {
          const [id, att] = Array.isArray(arg)
            ? [str(arg[0], where), str(resolve(arg[1], where), where)]
            : (() => {
                const s = str(arg, where);
                const dot = s.indexOf('.');
                return [s.slice(0, dot), s.slice(dot + 1)];
              })();
          const v = attOf(id, att);
          if (v === undefined)
            throw new UnresolvableError(`${where}: Fn::GetAtt ${id}.${att} is not available locally`);
          return v;
        }
        case 'Fn::If': {
          if (!Array.isArray(arg) || arg.length !== 3)
            throw new UnresolvableError(`${where}: malformed Fn::If`);
          return resolve(condition(str(arg[0], where)) ? arg[1] : arg[2], where);
        }
        case 'Fn::Equals':
        case 'Fn::And':
        case 'Fn::Or':
        case 'Fn::Not':
        case 'Condition':
          return evalCondition(value, where);
        default:
          throw new UnresolvableError(`${where}: ${k} is not resolved locally`);
      }
    }
    if (Array.isArray(value)) {
      return value.map((v, i) => resolve(v, `${where}[${i}]`)).filter((v) => v !== undefined);
    }
    if (isObject(value)) {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = resolve(v, `${where}.${k}`);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    return value;
  };

  const evalCondition = (expr: Json, where: string): boolean => {
    if (typeof expr === 'boolean') return expr;
    const fn = intrinsicOf(expr);
    if (!fn) throw new UnresolvableError(`${where}: not a condition: ${JSON.stringify(expr)}`);
    const [k, arg] = fn;
    const list = (n?: number): Json[] => {
      if (!Array.isArray(arg) || (n !== undefined && arg.length !== n))
        throw new UnresolvableError(`${where}: malformed ${k}`);
      return arg;
    };
    switch (k) {
      case 'Condition':
        return condition(str(arg, where));
      case 'Fn::Equals': {
        const [a, b] = list(2).map((v) => resolve(v, where));
        return (
          JSON.stringify(a) === JSON.stringify(b) ||
          (a !== undefined && b !== undefined && String(a) === String(b))
        );
      }
      case 'Fn::Not':
        return !evalCondition(list(1)[0], where);
      case 'Fn::And':
        return list().every((c) => evalCondition(c, where));
      case 'Fn::Or':
        return list().some((c) => evalCondition(c, where));
      default:
        throw new UnresolvableError(`${where}: ${k} is not a condition function`);
    }
  };

  const evaluating = new Set<string>();
  const condition = (name: string): boolean => {
    const cached = conditionCache.get(name);
    if (cached !== undefined) return cached;
    const expr = template.Conditions?.[name];
    if (expr === undefined) throw new UnresolvableError(`condition ${name} is not defined in the template`);
    if (evaluating.has(name)) throw new UnresolvableError(`condition ${name} refers to itself`);
    evaluating.add(name);
    try {
      const v = evalCondition(expr, `Conditions.${name}`);
      conditionCache.set(name, v);
      return v;
    } finally {
      evaluating.delete(name);
    }
  };

  return { resolve, condition };
}

/** The physical name CloudFormation would generate, made deterministic for local use. */
export function generatedName(
  stackName: string,
  logicalId: string,
  opts: { maxLength: number; lowercase?: boolean; suffix?: string },
): string {
  const suffix = opts.suffix ?? '';
  let name = `${stackName}-${logicalId}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
  if (opts.lowercase) name = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  return name.slice(0, opts.maxLength - suffix.length) + suffix;
}

function _stringProp(props: Record<string, Json>, key: string, where: string): string | undefined {
  const v = props[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0)
    throw new UnresolvableError(`${where}.${key} must resolve to a non-empty string`);
  return v;
}

function intProp(props: Record<string, Json>, key: string, where: string): number | undefined {
  const v = props[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new UnresolvableError(
      `${where}.${key} must resolve to a non-negative integer, got ${JSON.stringify(v)}`,
    );
  return n;
}

/** Names and ARNs of the emulated resources, computed before anything is resolved deeply. */
interface Identity {
  readonly type: string;
  readonly name: string;
  readonly arn: string;
  readonly url?: string;
}

/**
 * Builds the local plan. Resources whose Condition is false, or whose needed properties cannot be
 * resolved, are listed in `skipped` with the reason.
 */
export function planLocalResources(template: CloudFormationTemplate, ctx: TemplateContext): LocalPlan {
  if (!isObject(template) || !isObject(template.Resources))
    throw new TypeError('template.Resources: the template has no Resources object');
  const { region, accountId, partition, stackName } = ctx;
  const identities = new Map<string, Identity>();
  const skipped: SkippedResource[] = [];
  const notEmulated: Record<string, number> = {};

  // Names may use Refs to parameters/pseudo parameters (rarely to other resources): resolve them
  // with a resolver whose resource refs come from identities already computed.
  const resolver = createResolver(template, ctx, refOf, attOf);

  function refOf(id: string): string | undefined {
    const r = identity(id);
    if (!r) return undefined;
    if (r.type === 'AWS::SQS::Queue') return r.url;
    if (r.type === 'AWS::SNS::Topic') return r.arn;
    return r.name;
  }
  function attOf(id: string, att: string): string | undefined {
    const r = identity(id);
    if (!r) return undefined;
    switch (att) {
      case 'Arn':
        return r.arn;
      case 'QueueName':
      case 'TopicName':
      case 'StreamName':
        return r.name;
      case 'QueueUrl':
        return r.url;
      case 'DomainName':
        return r.type === 'AWS::S3::Bucket' ? `${r.name}.s3.amazonaws.com` : undefined;
      case 'RegionalDomainName':
        return r.type === 'AWS::S3::Bucket' ? `${r.name}.s3.${region}.amazonaws.com` : undefined;
      default:
        return undefined;
    }
  }

  const inProgress = new Set<string>();
  function identity(id: string): Identity | undefined {
    const known = identities.get(id);
    if (known) return known;
    const res = template.Resources[id];
    if (!res || inProgress.has(id)) return undefined;
    inProgress.add(id);
    try {
      const props = res.Properties ?? {};
      const where = `Resources.${id}.Properties`;
      const named = (key: string): string | undefined => {
        const v = props[key];
        return v === undefined ? undefined : (resolver.resolve(v, `${where}.${key}`) as string);
      };
      let ident: Identity | undefined;
      switch (res.Type) {
        case 'AWS::Kinesis::Stream': {
          const name = named('Name') ?? generatedName(stackName, id, { maxLength: 128 });
          ident = {
            type: res.Type,
            name,
            arn: `arn:${partition}:kinesis:${region}:${accountId}:stream/${name}`,
          };
          break;
        }
        case 'AWS::DynamoDB::Table': {
          const name = named('TableName') ?? generatedName(stackName, id, { maxLength: 255 });
          ident = {
            type: res.Type,
            name,
            arn: `arn:${partition}:dynamodb:${region}:${accountId}:table/${name}`,
          };
          break;
        }
        case 'AWS::S3::Bucket': {
          const name =
            named('BucketName') ?? generatedName(stackName, id, { maxLength: 63, lowercase: true });
          ident = { type: res.Type, name, arn: `arn:${partition}:s3:::${name}` };
          break;
        }
        case 'AWS::SQS::Queue': {
          const fifo = resolver.resolve(props.FifoQueue ?? false, `${where}.FifoQueue`);
          const isFifo = fifo === true || fifo === 'true';
          const name =
            named('QueueName') ??
            generatedName(stackName, id, { maxLength: 80, ...(isFifo ? { suffix: '.fifo' } : {}) });
          const base = (ctx.sqsEndpoint ?? `https://sqs.${region}.amazonaws.com`).replace(/\/$/, '');
          ident = {
            type: res.Type,
            name,
            arn: `arn:${partition}:sqs:${region}:${accountId}:${name}`,
            url: `${base}/${accountId}/${name}`,
          };
          break;
        }
        case 'AWS::SNS::Topic': {
          const name = named('TopicName') ?? generatedName(stackName, id, { maxLength: 256 });
          ident = { type: res.Type, name, arn: `arn:${partition}:sns:${region}:${accountId}:${name}` };
          break;
        }
        default:
          return undefined;
      }
      identities.set(id, ident);
      return ident;
    } finally {
      inProgress.delete(id);
    }
  }

  const streams: StreamPlan[] = [];
  const tables: TablePlan[] = [];
  const buckets: BucketPlan[] = [];
  const queues: QueuePlan[] = [];

  for (const [id, res] of Object.entries(template.Resources)) {
    const emulated = (EMULATED_TYPES as readonly string[]).includes(res.Type);
    if (res.Condition !== undefined) {
      let on: boolean;
      try {
        on = resolver.condition(res.Condition);
      } catch (e) {
        if (emulated || res.Type === 'AWS::SNS::Topic')
          skipped.push({
            logicalId: id,
            type: res.Type,
            reason: `condition ${res.Condition} cannot be evaluated locally (${(e as Error).message})`,
          });
        continue;
      }
      if (!on) {
        skipped.push({ logicalId: id, type: res.Type, reason: `condition ${res.Condition} is false` });
        continue;
      }
    }
    if (!emulated) {
      // Topics (and their subscriptions) are created by the local SNS (sns.ts), not by this plan.
      if (res.Type !== 'AWS::SNS::Topic') notEmulated[res.Type] = (notEmulated[res.Type] ?? 0) + 1;
      continue;
    }
    try {
      const ident = identity(id);
      if (!ident) throw new UnresolvableError(`Resources.${id}: its name refers to itself`);
      const where = `Resources.${id}.Properties`;
      const props = resolver.resolve(res.Properties ?? {}, where) as Record<string, Json>;
      switch (res.Type) {
        case 'AWS::Kinesis::Stream': {
          const modeDetails = props.StreamModeDetails;
          const mode =
            isObject(modeDetails) && modeDetails.StreamMode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED';
          const shardCount = mode === 'ON_DEMAND' ? 4 : (intProp(props, 'ShardCount', where) ?? 1);
          if (shardCount < 1) throw new UnresolvableError(`${where}.ShardCount must be at least 1`);
          const retentionHours = intProp(props, 'RetentionPeriodHours', where);
          streams.push({
            logicalId: id,
            name: ident.name,
            arn: ident.arn,
            shardCount,
            mode,
            ...(retentionHours !== undefined ? { retentionHours } : {}),
          });
          break;
        }
        case 'AWS::DynamoDB::Table': {
          const keySchema = props.KeySchema as KeyElement[] | undefined;
          if (!Array.isArray(keySchema) || keySchema.length === 0)
            throw new UnresolvableError(`${where}.KeySchema is required`);
          const attributeDefinitions = props.AttributeDefinitions as AttributeDefinition[] | undefined;
          if (!Array.isArray(attributeDefinitions))
            throw new UnresolvableError(`${where}.AttributeDefinitions is required`);
          const index = (list: Json, kind: string): SecondaryIndexPlan[] => {
            if (list === undefined) return [];
            if (!Array.isArray(list)) throw new UnresolvableError(`${where}.${kind} must be a list`);
            return list.map((g) => {
              const gi = g as Record<string, Json>;
              return {
                IndexName: gi.IndexName as string,
                KeySchema: gi.KeySchema as KeyElement[],
                Projection: (gi.Projection ?? { ProjectionType: 'ALL' }) as SecondaryIndexPlan['Projection'],
              };
            });
          };
          const ttl = props.TimeToLiveSpecification;
          const ttlAttribute =
            isObject(ttl) &&
            (ttl.Enabled === true || ttl.Enabled === 'true') &&
            typeof ttl.AttributeName === 'string'
              ? ttl.AttributeName
              : undefined;
          tables.push({
            logicalId: id,
            name: ident.name,
            arn: ident.arn,
            keySchema: keySchema.map((k) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType })),
            attributeDefinitions: attributeDefinitions.map((a) => ({
              AttributeName: a.AttributeName,
              AttributeType: a.AttributeType,
            })),
            globalSecondaryIndexes: index(props.GlobalSecondaryIndexes, 'GlobalSecondaryIndexes'),
            localSecondaryIndexes: index(props.LocalSecondaryIndexes, 'LocalSecondaryIndexes'),
            ...(ttlAttribute ? { ttlAttribute } : {}),
          });
          break;
        }
        case 'AWS::S3::Bucket':
          buckets.push({ logicalId: id, name: ident.name, arn: ident.arn });
          break;
        case 'AWS::SQS::Queue': {
          const attributes: Record<string, string> = {};
          for (const key of [
            'VisibilityTimeout',
            'MessageRetentionPeriod',
            'DelaySeconds',
            'MaximumMessageSize',
            'ReceiveMessageWaitTimeSeconds',
          ]) {
            const n = intProp(props, key, where);
            if (n !== undefined) attributes[key] = String(n);
          }
          const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
          if (fifo) attributes.FifoQueue = 'true';
          if (props.ContentBasedDeduplication !== undefined)
            attributes.ContentBasedDeduplication = String(props.ContentBasedDeduplication);
          let deadLetterTarget: string | undefined;
          const redrive =
            typeof props.RedrivePolicy === 'string' ? JSON.parse(props.RedrivePolicy) : props.RedrivePolicy;
          if (isObject(redrive)) {
            const target = redrive.deadLetterTargetArn;
            const max = Number(redrive.maxReceiveCount);
            if (typeof target !== 'string' || !Number.isInteger(max) || max < 1)
              throw new UnresolvableError(
                `${where}.RedrivePolicy needs deadLetterTargetArn and a positive integer maxReceiveCount`,
              );
            attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount: max });
            for (const [otherId, other] of identities) if (other.arn === target) deadLetterTarget = otherId;
            if (!deadLetterTarget)
              for (const [otherId, r] of Object.entries(template.Resources))
                if (r.Type === 'AWS::SQS::Queue' && identity(otherId)?.arn === target)
                  deadLetterTarget = otherId;
          }
          queues.push({
            logicalId: id,
            name: ident.name,
            arn: ident.arn,
            url: ident.url!,
            fifo,
            attributes,
            ...(deadLetterTarget ? { deadLetterTarget } : {}),
          });
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof UnresolvableError)) throw e;
      skipped.push({ logicalId: id, type: res.Type, reason: e.message });
    }
  }
  // Dead-letter queues first, so a redrive policy always points at an existing queue.
  queues.sort((a, b) => (a.deadLetterTarget ? 1 : 0) - (b.deadLetterTarget ? 1 : 0));
  return { streams, tables, buckets, queues, skipped, notEmulated };
}

/** Resolves a Lambda function's environment variables against the local plan (for local invokers). */
export function functionEnvironment(
  template: CloudFormationTemplate,
  ctx: TemplateContext,
  functionLogicalId: string,
): Record<string, string> {
  const res = template.Resources[functionLogicalId];
  if (res?.Type !== 'AWS::Lambda::Function')
    throw new TypeError(`${functionLogicalId}: not an AWS::Lambda::Function in the template`);
  const vars =
    (res.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const plan = planLocalResources(template, ctx);
  const byId = new Map<string, { name: string; arn: string; url?: string; type: string }>();
  for (const s of plan.streams) byId.set(s.logicalId, { ...s, type: 'AWS::Kinesis::Stream' });
  for (const t of plan.tables) byId.set(t.logicalId, { ...t, type: 'AWS::DynamoDB::Table' });
  for (const b of plan.buckets) byId.set(b.logicalId, { ...b, type: 'AWS::S3::Bucket' });
  for (const q of plan.queues) byId.set(q.logicalId, { ...q, type: 'AWS::SQS::Queue' });
  // Topics live in the local SNS (sns.ts); their ARN is deterministic, so it is resolved here too.
  const names = createResolver(
    template,
    ctx,
    () => undefined,
    () => undefined,
  );
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::SNS::Topic' || plan.skipped.some((s) => s.logicalId === id)) continue;
    try {
      const given = r.Properties?.TopicName;
      const name =
        given === undefined
          ? generatedName(ctx.stackName, id, { maxLength: 256 })
          : String(names.resolve(given, `Resources.${id}.Properties.TopicName`));
      byId.set(id, {
        name,
        arn: `arn:${ctx.partition}:sns:${ctx.region}:${ctx.accountId}:${name}`,
        type: r.Type,
      });
    } catch (e) {
      if (!(e instanceof UnresolvableError)) throw e;
    }
  }
  const resolver = createResolver(
    template,
    ctx,
    (id) => {
      const r = byId.get(id);
      if (!r) return undefined;
      if (r.type === 'AWS::SNS::Topic') return r.arn;
      return r.type === 'AWS::SQS::Queue' ? r.url : r.name;
    },
    (id, att) => {
      const r = byId.get(id);
      if (!r) return undefined;
      if (att === 'Arn') return r.arn;
      if (att === 'QueueUrl') return r.url;
      if (att === 'QueueName') return r.name;
      return undefined;
    },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    try {
      const r = resolver.resolve(v, `${functionLogicalId}.Environment.Variables.${k}`);
      if (r !== undefined) out[k] = typeof r === 'string' ? r : JSON.stringify(r);
    } catch (e) {
      if (!(e instanceof UnresolvableError)) throw e;
    }
  }
  return out;
}
