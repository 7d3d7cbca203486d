import { beforeAll, describe, expect, it } from 'vitest';
import { type CloudFormationTemplate, synthesizeTemplate } from '../../scripts/template/synthesize.ts';
import { evaluateCondition, props, resolveIf, resource, resourcesOfType } from './helpers.ts';

// Reference values from outside the template:
// - NYSE regular trading session: 09:30–16:00 America/New_York, Monday to Friday (nyse.com hours).
const NYSE_OPEN_MINUTE = 9 * 60 + 30;
const NYSE_CLOSE_MINUTE = 16 * 60;
// - DynamoDB auto scaling accepts a target utilisation between 20 and 90 percent (DynamoDB
//   Developer Guide, "Managing throughput capacity automatically with DynamoDB auto scaling").
const DYNAMODB_TARGET_MIN = 20;
const DYNAMODB_TARGET_MAX = 90;
// - The target utilisation this project documents for prod (README, "DynamoDB capacity").
const TARGET_UTILIZATION = 70;
// - Application Auto Scaling's names for DynamoDB table dimensions and metrics (API reference).
const DIMENSION_METRIC = {
  'dynamodb:table:ReadCapacityUnits': 'DynamoDBReadCapacityUtilization',
  'dynamodb:table:WriteCapacityUnits': 'DynamoDBWriteCapacityUtilization',
} as const;
const SCALING_TYPES = [
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
];

let dev: CloudFormationTemplate;
let staging: CloudFormationTemplate;
let prod: CloudFormationTemplate;
let prodOnDemand: CloudFormationTemplate;

beforeAll(async () => {
  dev = await synthesizeTemplate('dev');
  staging = await synthesizeTemplate('staging');
  prod = await synthesizeTemplate('prod');
  prodOnDemand = await synthesizeTemplate('prod', { params: { tableBillingMode: 'PAY_PER_REQUEST' } });
});

interface ScalableTargetProps {
  ServiceNamespace: string;
  ScalableDimension: keyof typeof DIMENSION_METRIC;
  ResourceId: unknown;
  MinCapacity: number;
  MaxCapacity: number;
  RoleARN?: unknown;
  ScheduledActions: {
    ScheduledActionName: string;
    Schedule: string;
    Timezone?: string;
    ScalableTargetAction: { MinCapacity?: number; MaxCapacity?: number };
  }[];
}

function scalableTargets(t: CloudFormationTemplate): [string, ScalableTargetProps][] {
  return resourcesOfType(t, 'AWS::ApplicationAutoScaling::ScalableTarget').map(([id]) => [
    id,
    props(t, id) as ScalableTargetProps,
  ]);
}

function targetFor(t: CloudFormationTemplate, dimension: keyof typeof DIMENSION_METRIC) {
  const found = scalableTargets(t).filter(([, p]) => p.ScalableDimension === dimension);
  expect(found, dimension).toHaveLength(1);
  return found[0]!;
}

/** Resolves `Fn::Sub` over `${Logical}` refs to tables, as CloudFormation would (Ref = table name). */
function resolveTableSub(t: CloudFormationTemplate, value: unknown): string {
  const sub = (value as { 'Fn::Sub'?: unknown })['Fn::Sub'];
  if (typeof sub !== 'string') throw new Error(`expected a Fn::Sub string, got ${JSON.stringify(value)}`);
  return sub.replace(/\$\{([A-Za-z0-9]+)\}/g, (_, id: string) => {
    expect(resource(t, id).Type).toBe('AWS::DynamoDB::Table');
    return props(t, id).TableName as string;
  });
}

/** Minute of the day of `cron(M H ? * MON-FRI *)` (Application Auto Scaling's six-field cron). */
function weekdayCronMinute(schedule: string): number {
  const m = /^cron\((\d{1,2}) (\d{1,2}) \? \* MON-FRI \*\)$/.exec(schedule);
  if (!m) throw new Error(`not a weekday cron at a fixed minute: ${schedule}`);
  const [minute, hour] = [Number(m[1]), Number(m[2])];
  if (minute > 59 || hour > 23) throw new Error(`minute or hour out of range: ${schedule}`);
  return hour * 60 + minute;
}

describe('MarketTable capacity: prod is provisioned with auto scaling', () => {
  it('is PROVISIONED with initial throughput equal to each dimension’s minimum', () => {
    expect(evaluateCondition(prod, 'TableProvisioned')).toBe(true);
    const table = props(prod, 'MarketTable');
    expect(table.BillingMode).toBe('PROVISIONED');
    const throughput = resolveIf(prod, table.ProvisionedThroughput) as Record<string, number>;
    expect(throughput).toEqual({
      ReadCapacityUnits: targetFor(prod, 'dynamodb:table:ReadCapacityUnits')[1].MinCapacity,
      WriteCapacityUnits: targetFor(prod, 'dynamodb:table:WriteCapacityUnits')[1].MinCapacity,
    });
  });

  it('has one scalable target per capacity dimension of the table, on the service-linked role', () => {
    const targets = scalableTargets(prod);
    expect(targets.map(([, p]) => p.ScalableDimension).sort()).toEqual(Object.keys(DIMENSION_METRIC).sort());
    for (const [id, p] of targets) {
      const r = resource(prod, id);
      expect(r.Condition).toBe('TableProvisioned');
      expect([r.DependsOn].flat()).toContain('MarketTable');
      expect(p.ServiceNamespace).toBe('dynamodb');
      expect(resolveTableSub(prod, p.ResourceId)).toBe('table/tickstream-prod-market');
      expect(p.RoleARN).toBeUndefined();
      expect(Number.isInteger(p.MinCapacity) && p.MinCapacity >= 1).toBe(true);
      expect(Number.isInteger(p.MaxCapacity)).toBe(true);
      expect(p.MinCapacity).toBeLessThanOrEqual(p.MaxCapacity);
    }
  });

  it('tracks the utilisation metric of each dimension at the target value', () => {
    const policies = resourcesOfType(prod, 'AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(policies).toHaveLength(2);
    const covered = new Set<string>();
    for (const [id] of policies) {
      expect(resource(prod, id).Condition).toBe('TableProvisioned');
      const p = props(prod, id);
      expect(p.PolicyType).toBe('TargetTrackingScaling');
      const targetId = p.ScalingTargetId?.Ref as string;
      const target = props(prod, targetId) as ScalableTargetProps;
      const config = p.TargetTrackingScalingPolicyConfiguration;
      expect(config.PredefinedMetricSpecification).toEqual({
        PredefinedMetricType: DIMENSION_METRIC[target.ScalableDimension],
      });
      expect(config.TargetValue).toBe(TARGET_UTILIZATION);
      expect(config.TargetValue).toBeGreaterThanOrEqual(DYNAMODB_TARGET_MIN);
      expect(config.TargetValue).toBeLessThanOrEqual(DYNAMODB_TARGET_MAX);
      expect(config.DisableScaleIn ?? false).toBe(false);
      covered.add(target.ScalableDimension);
    }
    expect([...covered].sort()).toEqual(Object.keys(DIMENSION_METRIC).sort());
    const names = policies.map(([id]) => props(prod, id).PolicyName as string);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(/^tickstream-prod-/);
  });

  it('raises the floor on weekdays before the NYSE open and lowers it after the close, New York time', () => {
    for (const [id, p] of scalableTargets(prod)) {
      const actions = p.ScheduledActions;
      expect(actions, id).toHaveLength(2);
      expect(new Set(actions.map((a) => a.ScheduledActionName)).size).toBe(2);
      for (const a of actions) {
        expect(a.Timezone).toBe('America/New_York');
        const { MinCapacity, MaxCapacity } = a.ScalableTargetAction;
        expect(MinCapacity).toBeDefined();
        expect(MinCapacity!).toBeGreaterThanOrEqual(p.MinCapacity);
        expect(MinCapacity!).toBeLessThanOrEqual(MaxCapacity ?? p.MaxCapacity);
        expect(MaxCapacity ?? p.MaxCapacity).toBe(p.MaxCapacity);
      }
      const [raise, lower] = [...actions].sort(
        (a, b) => (b.ScalableTargetAction.MinCapacity ?? 0) - (a.ScalableTargetAction.MinCapacity ?? 0),
      );
      // The raised floor is above the off-hours minimum, and the lowering restores that minimum.
      expect(raise!.ScalableTargetAction.MinCapacity!).toBeGreaterThan(p.MinCapacity);
      expect(lower!.ScalableTargetAction.MinCapacity).toBe(p.MinCapacity);
      const raiseAt = weekdayCronMinute(raise!.Schedule);
      const lowerAt = weekdayCronMinute(lower!.Schedule);
      expect(raiseAt).toBeLessThan(NYSE_OPEN_MINUTE);
      expect(NYSE_OPEN_MINUTE - raiseAt).toBeLessThanOrEqual(60); // not paid for hours before the open
      expect(lowerAt).toBeGreaterThanOrEqual(NYSE_CLOSE_MINUTE);
      expect(lowerAt - NYSE_CLOSE_MINUTE).toBeLessThanOrEqual(60);
    }
  });

  it('uses the same schedule for reads and writes', () => {
    const schedules = (dimension: keyof typeof DIMENSION_METRIC) =>
      targetFor(prod, dimension)[1]
        .ScheduledActions.map((a) => `${a.Schedule} ${a.Timezone}`)
        .sort();
    expect(schedules('dynamodb:table:ReadCapacityUnits')).toEqual(
      schedules('dynamodb:table:WriteCapacityUnits'),
    );
  });
});

describe('MarketTable capacity: on demand elsewhere', () => {
  it.each([
    ['dev', () => dev],
    ['staging', () => staging],
    ['prod with --param tableBillingMode=PAY_PER_REQUEST', () => prodOnDemand],
  ])('%s: PAY_PER_REQUEST, no provisioned throughput, no auto scaling resources', (_, get) => {
    const t = get();
    expect(evaluateCondition(t, 'TableProvisioned')).toBe(false);
    const table = props(t, 'MarketTable');
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    // CloudFormation drops a property whose value is AWS::NoValue.
    expect(resolveIf(t, table.ProvisionedThroughput ?? { Ref: 'AWS::NoValue' })).toEqual({
      Ref: 'AWS::NoValue',
    });
    const scaling = Object.entries(t.Resources).filter(([, r]) => SCALING_TYPES.includes(r.Type));
    expect(scaling).toHaveLength(4); // declared, but each only under the condition
    for (const [, r] of scaling) {
      expect(r.Condition).toBe('TableProvisioned');
      expect(evaluateCondition(t, r.Condition!)).toBe(false);
    }
  });
});
