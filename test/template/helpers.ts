import type { CloudFormationResource, CloudFormationTemplate } from '../../scripts/template/synthesize.ts';

export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export function resource(template: CloudFormationTemplate, id: string): CloudFormationResource {
  const r = template.Resources[id];
  if (!r) throw new Error(`template has no resource ${id}`);
  return r;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read deeply into untyped CloudFormation JSON
export function props(template: CloudFormationTemplate, id: string): any {
  return resource(template, id).Properties ?? {};
}

export function resourcesOfType(
  template: CloudFormationTemplate,
  type: string,
): [string, CloudFormationResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Inline policy statements of an IAM role (all its policies). */
export function roleStatements(template: CloudFormationTemplate, roleId: string): PolicyStatement[] {
  const policies = (props(template, roleId).Policies ?? []) as {
    PolicyDocument: { Statement: PolicyStatement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/** Evaluates a template Condition built from Fn::Equals / Not / And / Or over literal values. */
export function evaluateCondition(template: CloudFormationTemplate, name: string): boolean {
  const body = template.Conditions?.[name];
  if (body === undefined) throw new Error(`template has no condition ${name}`);
  return evaluate(template, body);
}

function evaluate(template: CloudFormationTemplate, node: unknown): boolean {
  const n = node as Record<string, unknown[]>;
  if ('Fn::Equals' in n) {
    const [a, b] = n['Fn::Equals'] as unknown[];
    if (typeof a === 'object' || typeof b === 'object') throw new Error('Fn::Equals over non-literals');
    return String(a) === String(b);
  }
  if ('Fn::Not' in n) return !evaluate(template, (n['Fn::Not'] as unknown[])[0]);
  if ('Fn::And' in n) return (n['Fn::And'] as unknown[]).every((c) => evaluate(template, c));
  if ('Fn::Or' in n) return (n['Fn::Or'] as unknown[]).some((c) => evaluate(template, c));
  if ('Condition' in n) return evaluateCondition(template, n.Condition as unknown as string);
  throw new Error(`cannot evaluate condition ${JSON.stringify(node)}`);
}

/** Resolves Fn::If against the template's (literal) conditions, as CloudFormation would. */
export function resolveIf(template: CloudFormationTemplate, value: unknown): unknown {
  if (value && typeof value === 'object' && 'Fn::If' in value) {
    const [condition, whenTrue, whenFalse] = (value as { 'Fn::If': [string, unknown, unknown] })['Fn::If'];
    return resolveIf(template, evaluateCondition(template, condition) ? whenTrue : whenFalse);
  }
  return value;
}
