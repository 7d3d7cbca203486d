/**
 * Offline CloudFormation template validation against the CloudFormation registry schemas shipped
 * in @aws-cdk/aws-service-spec (its db.json.gz). For every resource it checks: the type exists,
 * property names are known (also inside nested structures), required properties are present,
 * string properties with a closed set of values use one of them, structures and lists have the
 * right shape; every Ref / Fn::GetAtt / Fn::Sub target exists, GetAtt attributes exist for the
 * target's type, DependsOn targets and Conditions exist, and a resource that exists only under a
 * Condition is referenced only from places guarded by that same Condition.
 *
 * CLI: node scripts/template/validate.ts [stage]   (synthesizes the stage, prints issues, exit 1 if any)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import type { CloudFormationTemplate } from './synthesize.ts';

export type TemplateIssueCode =
  | 'unknown-type'
  | 'unknown-property'
  | 'missing-required-property'
  | 'invalid-value'
  | 'wrong-shape'
  | 'unknown-attribute'
  | 'unknown-ref'
  | 'unknown-depends-on'
  | 'unknown-condition'
  | 'unguarded-conditional-reference'
  | 'malformed';

export interface TemplateIssue {
  readonly code: TemplateIssueCode;
  /** Logical ID of the resource (or `Outputs.X`, `Conditions.X`) the issue is in. */
  readonly where: string;
  /** Property path inside it, e.g. `Properties.StreamEncryption.KeyId`. */
  readonly path: string;
  readonly message: string;
}

// The subset of @aws-cdk/service-spec-types the validator reads (kept local and structural).
interface SpecType {
  readonly type: string;
  readonly allowedValues?: readonly (string | number)[];
  readonly element?: SpecType;
  readonly types?: readonly SpecType[];
  readonly reference?: { readonly $ref: string };
}
interface SpecProperty {
  readonly type: SpecType;
  readonly previousTypes?: readonly SpecType[];
  readonly required?: boolean;
}
interface SpecShape {
  readonly properties: Readonly<Record<string, SpecProperty>>;
}
interface SpecResource extends SpecShape {
  readonly cloudFormationType: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

export interface ResourceRegistry {
  resource(type: string): SpecResource | undefined;
  typeDefinition(id: string): SpecShape | undefined;
}

let registryPromise: Promise<ResourceRegistry> | undefined;

/** Loads the CloudFormation registry schemas once per process (~0.3 s). */
export function loadRegistry(): Promise<ResourceRegistry> {
  registryPromise ??= loadAwsServiceSpec().then((db) => {
    const byType = new Map<string, SpecResource>();
    for (const r of db.all('resource')) byType.set(r.cloudFormationType, r as unknown as SpecResource);
    return {
      resource: (type) => byType.get(type),
      typeDefinition: (id) => {
        try {
          return db.get('typeDefinition', id) as unknown as SpecShape;
        } catch {
          return undefined;
        }
      },
    };
  });
  return registryPromise;
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/** Top-level resource keys CloudFormation accepts. */
const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'Condition',
  'DependsOn',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
  'Metadata',
]);

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A one-key object whose key is Ref or Fn::* (or Condition inside Conditions). */
function intrinsicName(value: Json): string | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0] as string;
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

/** Guards in force where a value sits: conditions known true / false there. */
interface Guard {
  readonly whenTrue: ReadonlySet<string>;
}

class Validator {
  readonly issues: TemplateIssue[] = [];
  private readonly template: CloudFormationTemplate;
  private readonly registry: ResourceRegistry;
  private readonly resources: Record<string, { Type?: unknown; Condition?: unknown }>;
  private readonly parameters: Record<string, unknown>;
  private readonly conditions: Record<string, unknown>;

  constructor(template: CloudFormationTemplate, registry: ResourceRegistry) {
    this.template = template;
    this.registry = registry;
    this.resources = isObject(template.Resources) ? (template.Resources as typeof this.resources) : {};
    this.parameters = isObject(template.Parameters) ? template.Parameters : {};
    this.conditions = isObject(template.Conditions) ? template.Conditions : {};
  }

  private report(code: TemplateIssueCode, where: string, path: string, message: string): void {
    this.issues.push({ code, where, path, message });
  }

  run(): TemplateIssue[] {
    if (!isObject(this.template.Resources) || Object.keys(this.template.Resources).length === 0) {
      this.report('malformed', 'Resources', '', 'the template has no Resources');
      return this.issues;
    }
    for (const [name, body] of Object.entries(this.conditions)) {
      this.walkIntrinsics(body, `Conditions.${name}`, '', { whenTrue: new Set() }, true);
    }
    for (const [id, resource] of Object.entries(this.resources)) this.resource(id, resource);
    for (const [id, output] of Object.entries(this.template.Outputs ?? {})) {
      const where = `Outputs.${id}`;
      const guard = this.conditionGuard(output.Condition, where, 'Condition');
      this.walkIntrinsics(output.Value, where, 'Value', guard);
      if (output.Export) this.walkIntrinsics(output.Export.Name, where, 'Export.Name', guard);
    }
    return this.issues;
  }

  private conditionGuard(condition: unknown, where: string, path: string): Guard {
    if (condition === undefined) return { whenTrue: new Set() };
    if (typeof condition !== 'string' || !(condition in this.conditions)) {
      this.report(
        'unknown-condition',
        where,
        path,
        `condition ${JSON.stringify(condition)} is not in Conditions`,
      );
      return { whenTrue: new Set() };
    }
    return { whenTrue: new Set([condition]) };
  }

  private resource(id: string, resource: { Type?: unknown; Condition?: unknown } & Record<string, unknown>) {
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_KEYS.has(key)) this.report('malformed', id, key, `"${key}" is not a resource attribute`);
    }
    const guard = this.conditionGuard(resource.Condition, id, 'Condition');
    const dependsOn = resource.DependsOn;
    for (const target of dependsOn === undefined ? [] : Array.isArray(dependsOn) ? dependsOn : [dependsOn]) {
      if (typeof target !== 'string' || !(target in this.resources)) {
        this.report(
          'unknown-depends-on',
          id,
          'DependsOn',
          `DependsOn target ${JSON.stringify(target)} is not a resource`,
        );
      } else {
        this.checkConditionalTarget(target, id, 'DependsOn', guard);
      }
    }
    const type = resource.Type;
    if (typeof type !== 'string') {
      this.report('malformed', id, 'Type', 'the resource has no Type');
      return;
    }
    const properties = resource.Properties === undefined ? {} : resource.Properties;
    this.walkIntrinsics(properties, id, 'Properties', guard);
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') return;
    const spec = this.registry.resource(type);
    if (!spec) {
      this.report(
        'unknown-type',
        id,
        'Type',
        `resource type ${type} does not exist in the CloudFormation registry`,
      );
      return;
    }
    if (!isObject(properties)) {
      this.report('wrong-shape', id, 'Properties', 'Properties must be an object');
      return;
    }
    this.shape(spec, properties, id, 'Properties', type);
  }

  /** Checks a literal object against a resource or a nested type definition. */
  private shape(spec: SpecShape, value: Record<string, Json>, where: string, path: string, typeName: string) {
    for (const [name, prop] of Object.entries(spec.properties)) {
      if (prop.required && !(name in value)) {
        this.report(
          'missing-required-property',
          where,
          `${path}.${name}`,
          `${typeName} requires property ${name}`,
        );
      }
    }
    for (const [name, child] of Object.entries(value)) {
      const prop = spec.properties[name];
      if (!prop) {
        const known = Object.keys(spec.properties).sort().join(', ');
        this.report(
          'unknown-property',
          where,
          `${path}.${name}`,
          `${typeName} has no property ${name} (known: ${known})`,
        );
        continue;
      }
      const candidates = [prop.type, ...(prop.previousTypes ?? [])];
      // Accept the value if it fits any current or previous type; otherwise report the current type's issues.
      let best: TemplateIssue[] | undefined;
      for (const candidate of candidates) {
        const trial = new Validator(this.template, this.registry);
        trial.value(candidate, child, where, `${path}.${name}`, `${typeName}.${name}`);
        if (trial.issues.length === 0) {
          best = [];
          break;
        }
        best ??= trial.issues;
      }
      this.issues.push(...(best ?? []));
    }
  }

  private value(type: SpecType, value: Json, where: string, path: string, typeName: string): void {
    const intrinsic = intrinsicName(value);
    if (intrinsic === 'Fn::If' && isObject(value) && Array.isArray(value[intrinsic])) {
      // Both branches must fit the property's type (AWS::NoValue removes the property).
      const [, whenTrue, whenFalse] = value[intrinsic] as Json[];
      for (const branch of [whenTrue, whenFalse]) {
        if (!(isObject(branch) && branch.Ref === 'AWS::NoValue'))
          this.value(type, branch, where, path, typeName);
      }
      return;
    }
    if (intrinsic !== undefined) return; // resolved at deploy time; references checked separately
    switch (type.type) {
      case 'json':
      case 'tag':
      case 'null':
        return;
      case 'string':
        if (type.allowedValues && typeof value === 'string' && !type.allowedValues.includes(value)) {
          this.report(
            'invalid-value',
            where,
            path,
            `${typeName} is "${value}"; allowed: ${type.allowedValues.join(', ')}`,
          );
        }
        if (isObject(value) || Array.isArray(value)) {
          this.report('wrong-shape', where, path, `${typeName} must be a string`);
        }
        return;
      case 'integer':
      case 'number':
      case 'boolean':
      case 'date-time':
        if (isObject(value) || Array.isArray(value)) {
          this.report('wrong-shape', where, path, `${typeName} must be a ${type.type}`);
        }
        return;
      case 'array':
        if (!Array.isArray(value)) {
          this.report('wrong-shape', where, path, `${typeName} must be a list`);
          return;
        }
        value.forEach((item, i) => {
          if (type.element) this.value(type.element, item, where, `${path}[${i}]`, typeName);
        });
        return;
      case 'map':
        if (!isObject(value)) {
          this.report('wrong-shape', where, path, `${typeName} must be a map`);
          return;
        }
        for (const [k, item] of Object.entries(value)) {
          if (type.element) this.value(type.element, item, where, `${path}.${k}`, typeName);
        }
        return;
      case 'union': {
        const options = type.types ?? [];
        const fits = options.some((option) => {
          const trial = new Validator(this.template, this.registry);
          trial.value(option, value, where, path, typeName);
          return trial.issues.length === 0;
        });
        if (!fits && options[0]) this.value(options[0], value, where, path, typeName);
        return;
      }
      case 'ref': {
        const definition = type.reference ? this.registry.typeDefinition(type.reference.$ref) : undefined;
        if (!definition) return;
        if (!isObject(value)) {
          this.report('wrong-shape', where, path, `${typeName} must be an object`);
          return;
        }
        this.shape(definition, value, where, path, typeName);
        return;
      }
      default:
        return;
    }
  }

  private checkConditionalTarget(target: string, where: string, path: string, guard: Guard): void {
    const condition = this.resources[target]?.Condition;
    if (typeof condition === 'string' && !guard.whenTrue.has(condition)) {
      this.report(
        'unguarded-conditional-reference',
        where,
        path,
        `${target} exists only when ${condition} is true, but this reference is not guarded by ${condition}`,
      );
    }
  }

  private checkRef(name: unknown, where: string, path: string, guard: Guard, inConditions: boolean) {
    if (typeof name !== 'string') {
      this.report('malformed', where, path, 'Ref must name a resource, parameter or pseudo parameter');
      return;
    }
    if (PSEUDO_PARAMETERS.has(name) || name in this.parameters) return;
    if (!inConditions && name in this.resources) {
      this.checkConditionalTarget(name, where, path, guard);
      return;
    }
    this.report(
      'unknown-ref',
      where,
      path,
      `Ref ${name}: no such ${inConditions ? 'parameter' : 'resource or parameter'}`,
    );
  }

  private checkGetAtt(target: unknown, attribute: unknown, where: string, path: string, guard: Guard) {
    if (typeof target !== 'string') {
      this.report('malformed', where, path, 'Fn::GetAtt must name a resource');
      return;
    }
    const resource = this.resources[target];
    if (!resource) {
      this.report('unknown-ref', where, path, `Fn::GetAtt ${target}: no such resource`);
      return;
    }
    this.checkConditionalTarget(target, where, path, guard);
    if (typeof attribute !== 'string') return; // an intrinsic attribute name cannot be checked offline
    const type = typeof resource.Type === 'string' ? resource.Type : '';
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') return;
    const spec = this.registry.resource(type);
    if (!spec) return; // reported as unknown-type
    if (!(attribute in spec.attributes)) {
      const known = Object.keys(spec.attributes).sort().join(', ');
      this.report(
        'unknown-attribute',
        where,
        path,
        `Fn::GetAtt ${target}.${attribute}: ${type} has no attribute ${attribute} (known: ${known})`,
      );
    }
  }

  /** Walks any value, checking Ref / GetAtt / Sub / If / Condition references in it. */
  private walkIntrinsics(value: Json, where: string, path: string, guard: Guard, inConditions = false): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        this.walkIntrinsics(item, where, `${path}[${i}]`, guard, inConditions);
      });
      return;
    }
    if (!isObject(value)) return;
    const name = intrinsicName(value);
    const arg = name ? value[name] : undefined;
    const at = path ? `${path}.${name}` : `${name}`;
    switch (name) {
      case 'Ref':
        this.checkRef(arg, where, at, guard, inConditions);
        return;
      case 'Fn::GetAtt': {
        const [target, attribute] =
          typeof arg === 'string'
            ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)]
            : Array.isArray(arg)
              ? arg
              : [];
        if (Array.isArray(arg) && arg.length !== 2)
          this.report('malformed', where, at, 'Fn::GetAtt takes [resource, attribute]');
        this.checkGetAtt(target, attribute, where, at, guard);
        this.walkIntrinsics(attribute, where, at, guard, inConditions);
        return;
      }
      case 'Fn::Sub': {
        const [text, variables] =
          typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [undefined, {}];
        if (typeof text !== 'string') {
          this.report('malformed', where, at, 'Fn::Sub takes a string or [string, variables]');
          return;
        }
        const locals = isObject(variables) ? variables : {};
        this.walkIntrinsics(locals, where, at, guard, inConditions);
        for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
          const ref = (match[1] ?? '').trim();
          if (ref.startsWith('!') || ref in locals) continue; // ${!Literal} is escaped text
          const dot = ref.indexOf('.');
          if (dot > 0 && !ref.startsWith('AWS::'))
            this.checkGetAtt(ref.slice(0, dot), ref.slice(dot + 1), where, at, guard);
          else this.checkRef(ref, where, at, guard, inConditions);
        }
        return;
      }
      case 'Fn::If': {
        if (!Array.isArray(arg) || arg.length !== 3 || typeof arg[0] !== 'string') {
          this.report('malformed', where, at, 'Fn::If takes [condition, valueIfTrue, valueIfFalse]');
          return;
        }
        const condition = arg[0];
        if (!(condition in this.conditions)) {
          this.report('unknown-condition', where, at, `Fn::If condition ${condition} is not in Conditions`);
        }
        this.walkIntrinsics(
          arg[1],
          where,
          `${at}[1]`,
          { whenTrue: new Set([...guard.whenTrue, condition]) },
          inConditions,
        );
        this.walkIntrinsics(arg[2], where, `${at}[2]`, guard, inConditions);
        return;
      }
      default:
        break;
    }
    // `{ Condition: Name }` inside a Conditions definition refers to another condition.
    if (inConditions && Object.keys(value).length === 1 && typeof value.Condition === 'string') {
      if (!(value.Condition in this.conditions)) {
        this.report('unknown-condition', where, path, `condition ${value.Condition} is not in Conditions`);
      }
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      this.walkIntrinsics(child, where, path ? `${path}.${key}` : key, guard, inConditions);
    }
  }
}

/** Every problem found in the template; an empty list means it passed. */
export function validateTemplate(
  template: CloudFormationTemplate,
  registry: ResourceRegistry,
): TemplateIssue[] {
  return new Validator(template, registry).run();
}

export function formatIssues(issues: readonly TemplateIssue[]): string {
  return issues.map((i) => `${i.code} at ${i.where}${i.path ? ` ${i.path}` : ''}: ${i.message}`).join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const stage = process.argv[2] ?? 'dev';
  const { synthesizeTemplate } = await import('./synthesize.ts');
  const issues = validateTemplate(await synthesizeTemplate(stage), await loadRegistry());
  if (issues.length > 0) {
    console.error(formatIssues(issues));
    process.exit(1);
  }
  console.log(`stage ${stage}: template valid against the CloudFormation registry schemas`);
}
