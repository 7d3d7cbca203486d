/**
 * Each function's role against the calls its code makes. The local emulators enforce no IAM, so a
 * missing grant (processTicks once lacked the dynamodb:DeleteItem its alert ledger sends) or a grant
 * no code uses shows only here before a deploy.
 *
 * Every Lambda function of the synthesized template is bundled from its handler as it is deployed
 * (serverless.yml custom.esbuild: the AWS SDK external, the runtime provides it, but not minified so
 * that command class names survive); the AWS SDK commands the bundle imports are read from its
 * import statements, mapped to IAM actions and checked against the function's role in each stage:
 * (1) every action a command needs is allowed by the role, or by a policy attached to it in that
 * stage; (2) the role grants no action that no command needs, apart from what the Lambda service
 * itself does with the role (SERVICE_NEEDS).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudFormationTemplate,
  PROJECT_ROOT,
  synthesizeTemplate,
} from '../../scripts/template/synthesize.ts';
import {
  asList,
  evaluateCondition,
  type PolicyStatement,
  props,
  resolveIf,
  resource,
  resourcesOfType,
  roleStatements,
} from './helpers.ts';

/** The IAM service prefix of each AWS SDK package a function may send commands with. */
const SERVICE_PREFIX: Readonly<Record<string, string>> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-kinesis': 'kinesis',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-timestream-write': 'timestream',
};

/** lib-dynamodb's document commands: each marshals its input and sends this DynamoDB operation. */
const DOCUMENT_COMMANDS: Readonly<Record<string, string>> = {
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  Delete: 'DeleteItem',
  Get: 'GetItem',
  Put: 'PutItem',
  Query: 'Query',
  Scan: 'Scan',
  Update: 'UpdateItem',
};

/**
 * Operations the code sends whose IAM action is not `<prefix>:<operation>`, or which need more than
 * one action. Only what the functions use: an operation not listed maps to the action of its name.
 */
const ACTION_EXCEPTIONS: Readonly<Record<string, readonly string[]>> = {
  // S3 API Reference, ListObjectsV2: "You must have permission to perform the s3:ListBucket action".
  's3:ListObjectsV2': ['s3:ListBucket'],
  // S3 API Reference, HeadObject: "To use HEAD, you must have the s3:GetObject permission".
  's3:HeadObject': ['s3:GetObject'],
  // A multi-object delete is authorized as s3:DeleteObject on each key; the Service Authorization
  // Reference lists no DeleteObjects action. NOT confirmed: a documentation search found no page
  // stating the DeleteObjects permission.
  's3:DeleteObjects': ['s3:DeleteObject'],
  // SQS Developer Guide, "Amazon SQS batch actions": SendMessageBatch has no permission of its own;
  // SendMessage's covers it.
  'sqs:SendMessageBatch': ['sqs:SendMessage'],
  // WriteRecords, and DescribeEndpoints: the client must discover the endpoint first (in the SDK's
  // client-timestream-write, every command requires a discovered endpoint, so the client sends
  // DescribeEndpoints itself). Read in the SDK's source; NOT confirmed by a documentation search.
  'timestream:WriteRecords': ['timestream:WriteRecords', 'timestream:DescribeEndpoints'],
};

/**
 * Operations that likely map to a differently named action (batch variants, S3 listings and HEADs):
 * one of these not in ACTION_EXCEPTIONS fails rather than being mapped to an action that may not exist.
 */
const LIKELY_DIFFERENT = /Batch$|^ListObjects|^Head/;

/**
 * Services a function uses only under a flag of its environment: with the flag "false" the code
 * never sends their commands, so the stage need not grant them (processTicks builds its Timestream
 * sink only when TIMESTREAM_ENABLED is true; the grants are in ProcessTicksTimestreamPolicy, which
 * exists only under the TimestreamEnabled condition).
 */
const GATED_BY_ENVIRONMENT: Readonly<Record<string, string>> = { timestream: 'TIMESTREAM_ENABLED' };

/**
 * What the Lambda service itself does with a function's role, which no command of its code needs:
 * - CloudWatch Logs: the runtime writes the function's log streams with the role;
 * - X-Ray, under active tracing: the runtime sends the invocation's trace segments with the role;
 * - a Kinesis event source mapping: Lambda reads the stream with the role (the set of the managed
 *   policy AWSLambdaKinesisExecutionRole, without SubscribeToShard: no enhanced fan-out consumer);
 * - the mapping's on-failure destination: Lambda sends the failed batch's record there with the role.
 */
const LOGS_ACTIONS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];
const XRAY_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const KINESIS_MAPPING_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
  'kinesis:ListStreams',
];
const ON_FAILURE_ACTIONS: Readonly<Record<string, string>> = {
  'AWS::SQS::Queue': 'sqs:SendMessage',
  'AWS::SNS::Topic': 'sns:Publish',
};

interface SdkCommand {
  /** The command class as the SDK exports it, e.g. `PutObjectCommand`. */
  readonly name: string;
  readonly from: string;
  /** Referenced by the bundle's code, not only imported. */
  readonly referenced: boolean;
}

interface BundleCalls {
  readonly commands: readonly SdkCommand[];
  /** Imports the analysis cannot account for, each a readable reason. */
  readonly problems: readonly string[];
}

/** The bundle of each handler file, built once for the whole file. */
const bundles = new Map<string, Promise<BundleCalls>>();

function bundleCalls(entry: string): Promise<BundleCalls> {
  let calls = bundles.get(entry);
  if (!calls) {
    calls = analyzeBundle(entry);
    bundles.set(entry, calls);
  }
  return calls;
}

async function analyzeBundle(entry: string): Promise<BundleCalls> {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    external: ['@aws-sdk/*'],
    minify: false,
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  const source = ts.createSourceFile(entry, output.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);

  const problems: string[] = [];
  const bindings: { name: string; local: string; from: string }[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const from = statement.moduleSpecifier.text;
    if (!from.startsWith('@aws-sdk/')) continue;
    const clause = statement.importClause;
    if (!clause) continue; // a side-effect import binds nothing to send
    if (!(from in SERVICE_PREFIX)) {
      problems.push(`imports ${from}, whose IAM service prefix SERVICE_PREFIX does not know`);
      continue;
    }
    const named = clause.namedBindings;
    if (clause.name || (named && !ts.isNamedImports(named))) {
      problems.push(`imports ${from} as a default or namespace import: its commands cannot be read`);
      continue;
    }
    for (const element of named?.elements ?? []) {
      bindings.push({ name: (element.propertyName ?? element.name).text, local: element.name.text, from });
    }
  }

  // References to each imported binding outside the import statements, and any other way to load
  // the SDK (a dynamic import or a CommonJS require of an external package).
  const references = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) return;
    if (ts.isIdentifier(node)) references.set(node.text, (references.get(node.text) ?? 0) + 1);
    if (ts.isCallExpression(node)) {
      const [arg] = node.arguments;
      const callee = node.expression;
      const loads =
        callee.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(callee) && (callee.text === 'require' || callee.text === '__require'));
      if (loads && arg && ts.isStringLiteral(arg) && arg.text.startsWith('@aws-sdk/')) {
        problems.push(`loads ${arg.text} dynamically: its commands cannot be read`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);

  const commands = new Map<string, { name: string; from: string; referenced: boolean }>();
  for (const { name, local, from } of bindings) {
    if (/Client$/.test(name) || /(Exception|Error)$/.test(name)) continue; // sends nothing by itself
    if (!/Command$/.test(name)) {
      problems.push(
        `imports ${name} from ${from}, neither a command nor a client: which calls it makes is unknown`,
      );
      continue;
    }
    const key = `${from} ${name}`;
    const command = commands.get(key) ?? { name, from, referenced: false };
    command.referenced ||= (references.get(local) ?? 0) > 0;
    commands.set(key, command);
  }
  return { commands: [...commands.values()], problems };
}

/** The IAM actions a command needs, or a reason it has no known mapping. */
function actionsFor(command: SdkCommand): string[] | string {
  const prefix = SERVICE_PREFIX[command.from];
  const bare = command.name.replace(/Command$/, '');
  let operation = bare;
  if (command.from === '@aws-sdk/lib-dynamodb') {
    const mapped = DOCUMENT_COMMANDS[bare];
    if (!mapped) return `${command.name} is a lib-dynamodb command DOCUMENT_COMMANDS does not map`;
    operation = mapped;
  }
  const key = `${prefix}:${operation}`;
  const exception = ACTION_EXCEPTIONS[key];
  if (exception) return [...exception];
  if (LIKELY_DIFFERENT.test(operation)) {
    return `${key} likely authorizes as another action: add it to ACTION_EXCEPTIONS from the Service Authorization Reference`;
  }
  return [key];
}

interface LambdaFunction {
  /** The function's name in serverless.yml, e.g. processTicks. */
  readonly name: string;
  readonly id: string;
  readonly role: string;
  readonly handlerFile: string;
}

function lambdaFunctions(t: CloudFormationTemplate): LambdaFunction[] {
  return resourcesOfType(t, 'AWS::Lambda::Function').map(([id]) => {
    const p = props(t, id);
    const name = id.replace(/LambdaFunction$/, '').replace(/^./, (c) => c.toLowerCase());
    const role = p.Role?.['Fn::GetAtt']?.[0];
    if (typeof role !== 'string')
      throw new Error(`${name}: its Role is not the GetAtt of a role in the template`);
    const base = String(p.Handler).replace(/\.[^./]+$/, '');
    const handlerFile = ['.ts', '.mts', '.js', '.mjs']
      .map((ext) => base + ext)
      .find((f) => existsSync(join(PROJECT_ROOT, f)));
    if (!handlerFile) throw new Error(`${name}: no source file for handler ${p.Handler}`);
    return { name, id, role, handlerFile };
  });
}

interface Grant {
  readonly action: string;
  /** Where it is granted, for the messages. */
  readonly source: string;
}

/** The Allow actions of a role's own policies and of the policies attached to it in this stage. */
function roleGrants(t: CloudFormationTemplate, role: string): { grants: Grant[]; switchedOff: Grant[] } {
  const grants: Grant[] = [];
  const switchedOff: Grant[] = [];
  const add = (into: Grant[], statements: PolicyStatement[], source: string) => {
    for (const s of statements) {
      const notAction = (s as { NotAction?: unknown }).NotAction;
      if (s.Effect !== 'Allow' || notAction !== undefined) {
        throw new Error(`${source}: only Allow statements with Action are understood here`);
      }
      for (const action of asList(s.Action)) into.push({ action, source });
    }
  };
  add(grants, roleStatements(t, role), role);
  for (const [id, r] of [
    ...resourcesOfType(t, 'AWS::IAM::Policy'),
    ...resourcesOfType(t, 'AWS::IAM::ManagedPolicy'),
  ]) {
    const p = props(t, id);
    if (!asList(p.Roles ?? []).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: role }))) continue;
    const on = r.Condition === undefined || evaluateCondition(t, r.Condition);
    const source = r.Condition ? `${id} (condition ${r.Condition})` : id;
    add(on ? grants : switchedOff, p.PolicyDocument.Statement, source);
  }
  return { grants, switchedOff };
}

/** Whether an IAM action pattern (case-insensitive, `*` and `?` wildcards) matches an action. */
function allows(pattern: string, action: string): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i').test(action);
}

/** The actions the Lambda service uses the function's role for (see LOGS_ACTIONS and below). */
function serviceNeeds(t: CloudFormationTemplate, fn: LambdaFunction): Set<string> {
  const needs = new Set(LOGS_ACTIONS);
  if (props(t, fn.id).TracingConfig?.Mode === 'Active') {
    for (const a of XRAY_ACTIONS) needs.add(a);
  }
  for (const [id] of resourcesOfType(t, 'AWS::Lambda::EventSourceMapping')) {
    const p = props(t, id);
    const target = p.FunctionName?.['Fn::GetAtt']?.[0] ?? p.FunctionName?.Ref;
    if (target !== fn.id) continue;
    const sourceId = p.EventSourceArn?.['Fn::GetAtt']?.[0];
    const sourceType = typeof sourceId === 'string' ? resource(t, sourceId).Type : undefined;
    if (sourceType !== 'AWS::Kinesis::Stream') {
      throw new Error(
        `${fn.name}: event source mapping ${id} reads ${sourceType ?? 'an unknown source'}: add what Lambda needs for it`,
      );
    }
    for (const a of KINESIS_MAPPING_ACTIONS) needs.add(a);
    const destination = p.DestinationConfig?.OnFailure?.Destination?.['Fn::GetAtt']?.[0];
    if (destination !== undefined) {
      const action = ON_FAILURE_ACTIONS[resource(t, destination).Type];
      if (!action)
        throw new Error(`${fn.name}: on-failure destination ${destination} of ${id} is of an unknown type`);
      needs.add(action);
    }
  }
  return needs;
}

interface Need {
  readonly action: string;
  readonly command: SdkCommand;
}

/** The actions the function's code needs in this stage (a gated service off is not needed). */
async function codeNeeds(t: CloudFormationTemplate, fn: LambdaFunction): Promise<Need[]> {
  const { commands } = await bundleCalls(fn.handlerFile);
  const environment = props(t, fn.id).Environment?.Variables ?? {};
  const needs: Need[] = [];
  for (const command of commands) {
    if (!command.referenced) continue; // reported by its own test
    const actions = actionsFor(command);
    if (typeof actions === 'string') continue; // reported by its own test
    for (const action of actions) {
      const flag = GATED_BY_ENVIRONMENT[action.split(':')[0] ?? ''];
      if (flag !== undefined) {
        const value = resolveIf(t, environment[flag]);
        if (typeof value !== 'string') throw new Error(`${fn.name}: ${flag} is not a literal in this stage`);
        if (value !== 'true') continue;
      }
      needs.push({ action, command });
    }
  }
  return needs;
}

const describeCommand = (c: SdkCommand) => `${c.name} (${c.from})`;

let stages: [string, CloudFormationTemplate][];

beforeAll(async () => {
  stages = [
    ['dev', await synthesizeTemplate('dev')],
    ['prod', await synthesizeTemplate('prod')],
    // The stage where the Timestream grants exist (ProcessTicksTimestreamPolicy) and are used.
    ['prod with Timestream', await synthesizeTemplate('prod', { params: { timestreamEnabled: 'true' } })],
  ];
  const handlers = new Set(stages.flatMap(([, t]) => lambdaFunctions(t).map((f) => f.handlerFile)));
  await Promise.all([...handlers].map(bundleCalls));
});

describe('IAM: each role allows the AWS calls its function makes, and nothing else', () => {
  it('reads every function from the template and every SDK command its bundle imports', async () => {
    const problems: string[] = [];
    for (const [stage, t] of stages) {
      const functions = lambdaFunctions(t);
      expect(functions.length, `${stage}: no Lambda function in the template`).toBeGreaterThan(0);
      for (const fn of functions) {
        const calls = await bundleCalls(fn.handlerFile);
        for (const p of calls.problems) problems.push(`${fn.name} (${fn.handlerFile}): ${p}`);
        if (calls.commands.length === 0) problems.push(`${fn.name}: its bundle imports no AWS SDK command`);
        for (const command of calls.commands) {
          const actions = actionsFor(command);
          if (typeof actions === 'string') problems.push(`${fn.name}: ${actions}`);
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  });

  it('bundles no command that no code of the function sends', async () => {
    // esbuild keeps an external package's import even when the code that used it is dropped: such a
    // command would ask for a grant no call needs. Move the call out of the module the function
    // imports (as dynamodb-batch-get.ts was) rather than granting its action.
    const unused = new Set<string>();
    for (const fn of stages.flatMap(([, t]) => lambdaFunctions(t))) {
      for (const c of (await bundleCalls(fn.handlerFile)).commands) {
        if (!c.referenced)
          unused.add(`${fn.name}: imports ${describeCommand(c)} but never uses it: a dead import`);
      }
    }
    expect([...unused]).toEqual([]);
  });

  it('allows every action a command of the function needs', async () => {
    const missing: string[] = [];
    for (const [stage, t] of stages) {
      for (const fn of lambdaFunctions(t)) {
        const { grants, switchedOff } = roleGrants(t, fn.role);
        for (const need of await codeNeeds(t, fn)) {
          if (grants.some((g) => allows(g.action, need.action))) continue;
          const off = switchedOff.filter((g) => allows(g.action, need.action)).map((g) => g.source);
          missing.push(
            `${stage}: ${fn.name} sends ${describeCommand(need.command)}, which needs ${need.action}: ` +
              `its role ${fn.role} does not allow it` +
              (off.length > 0 ? ` (only ${[...new Set(off)].join(', ')} does, false in this stage)` : ''),
          );
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('grants no action that neither a command of the function nor the Lambda service needs', async () => {
    const unneeded: string[] = [];
    for (const [stage, t] of stages) {
      for (const fn of lambdaFunctions(t)) {
        const needed = new Set((await codeNeeds(t, fn)).map((n) => n.action.toLowerCase()));
        const service = new Set([...serviceNeeds(t, fn)].map((a) => a.toLowerCase()));
        for (const grant of roleGrants(t, fn.role).grants) {
          if (/[*?]/.test(grant.action)) {
            unneeded.push(`${stage}: ${fn.name}: ${grant.source} grants the wildcard ${grant.action}`);
            continue;
          }
          if (needed.has(grant.action.toLowerCase())) continue;
          if (service.has(grant.action.toLowerCase())) continue;
          unneeded.push(
            `${stage}: ${fn.name}: ${grant.source} grants ${grant.action}, which no command of its code ` +
              'sends and the Lambda service does not use',
          );
        }
      }
    }
    expect([...new Set(unneeded)]).toEqual([]);
  });
});
