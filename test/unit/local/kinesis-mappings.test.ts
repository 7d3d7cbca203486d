/**
 * The settings the local event source mapping reads from a template's
 * AWS::Lambda::EventSourceMapping: here its ParallelizationFactor (absent: 1; Lambda's 1..10 only),
 * Enabled, and the settings it refuses rather than ignore.
 */
import { describe, expect, it } from 'vitest';
import type { CloudFormationTemplate } from '../../../scripts/local/template.ts';
import { kinesisMappings } from '../../../scripts/pipeline/local-pipeline.ts';

function templateWith(mapping: Record<string, unknown>): CloudFormationTemplate {
  return {
    Resources: {
      TicksStream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      ProcessTicksLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: { Handler: 'functions/process-ticks.handler' },
      },
      ProcessTicksEventSourceMappingKinesisTicksStream: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': ['TicksStream', 'Arn'] },
          FunctionName: { 'Fn::GetAtt': ['ProcessTicksLambdaFunction', 'Arn'] },
          BatchSize: 500,
          StartingPosition: 'TRIM_HORIZON',
          ...mapping,
        },
      },
    },
  };
}

describe('kinesisMappings: ParallelizationFactor', () => {
  it('reads the factor the template gives the mapping, 1 when it gives none', () => {
    expect(kinesisMappings(templateWith({ ParallelizationFactor: 2 }))[0]?.parallelizationFactor).toBe(2);
    expect(kinesisMappings(templateWith({ ParallelizationFactor: 10 }))[0]?.parallelizationFactor).toBe(10);
    expect(kinesisMappings(templateWith({}))[0]?.parallelizationFactor).toBe(1);
  });

  it.each([0, 11, 1.5, -1, '', 'two', null])('refuses ParallelizationFactor %j, as Lambda would', (value) => {
    expect(() => kinesisMappings(templateWith({ ParallelizationFactor: value }))).toThrow(
      `event source mapping ProcessTicksEventSourceMappingKinesisTicksStream: ParallelizationFactor must be an integer from 1 to 10, got ${JSON.stringify(value)}`,
    );
  });
});

describe('kinesisMappings: settings the local mapping cannot leave out', () => {
  it('runs no mapping the template disables (Enabled false), as Lambda polls none', () => {
    expect(kinesisMappings(templateWith({ Enabled: false }))).toEqual([]);
    expect(kinesisMappings(templateWith({ Enabled: true }))).toHaveLength(1);
    expect(kinesisMappings(templateWith({}))).toHaveLength(1);
  });

  it.each([
    [
      { StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: 1_700_000_000 },
      'StartingPosition "AT_TIMESTAMP"',
    ],
    [{ FilterCriteria: { Filters: [{ Pattern: '{"data":{"symbol":["AAPL"]}}' }] } }, 'FilterCriteria'],
    [{ TumblingWindowInSeconds: 60 }, 'TumblingWindowInSeconds'],
  ])('refuses %j rather than running as if it were absent', (mapping, what) => {
    expect(() => kinesisMappings(templateWith(mapping))).toThrow(
      `event source mapping ProcessTicksEventSourceMappingKinesisTicksStream: ${what} is not supported by the local event source mapping`,
    );
  });

  it('accepts a zero tumbling window and both supported starting positions', () => {
    expect(kinesisMappings(templateWith({ TumblingWindowInSeconds: 0 }))).toHaveLength(1);
    expect(kinesisMappings(templateWith({ StartingPosition: 'LATEST' }))[0]?.startingPosition).toBe('LATEST');
  });
});

describe('kinesisMappings: the ranges Lambda accepts', () => {
  it("reads each setting the template gives, and Lambda's default for each it does not", () => {
    const read = kinesisMappings(
      templateWith({
        BatchSize: 10_000,
        MaximumBatchingWindowInSeconds: 300,
        MaximumRetryAttempts: 0,
        MaximumRecordAgeInSeconds: 60,
      }),
    )[0];
    expect([
      read?.batchSize,
      read?.batchingWindowSeconds,
      read?.maxRetryAttempts,
      read?.maxRecordAgeSeconds,
    ]).toEqual([10_000, 300, 0, 60]);
    const { BatchSize: _, ...none } = templateWith({}).Resources
      .ProcessTicksEventSourceMappingKinesisTicksStream!.Properties as Record<string, unknown>;
    const defaults = kinesisMappings({
      Resources: {
        ...templateWith({}).Resources,
        ProcessTicksEventSourceMappingKinesisTicksStream: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: none,
        },
      },
    })[0];
    expect([
      defaults?.batchSize,
      defaults?.batchingWindowSeconds,
      defaults?.maxRetryAttempts,
      defaults?.maxRecordAgeSeconds,
    ]).toEqual([100, 0, -1, -1]);
    expect(
      kinesisMappings(templateWith({ MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1 }))[0],
    ).toMatchObject({
      maxRetryAttempts: -1,
      maxRecordAgeSeconds: -1,
    });
  });

  it.each([
    ['BatchSize', 0, 'from 1 to 10000'],
    ['BatchSize', 10_001, 'from 1 to 10000'],
    ['BatchSize', 'many', 'from 1 to 10000'],
    ['MaximumBatchingWindowInSeconds', 301, 'from 0 to 300'],
    ['MaximumBatchingWindowInSeconds', -1, 'from 0 to 300'],
    ['MaximumRetryAttempts', -2, 'from 0 to 10000 or -1'],
    ['MaximumRetryAttempts', 10_001, 'from 0 to 10000 or -1'],
    ['MaximumRecordAgeInSeconds', 0, 'from 60 to 604800 or -1'],
    ['MaximumRecordAgeInSeconds', 30, 'from 60 to 604800 or -1'],
    ['MaximumRecordAgeInSeconds', 604_801, 'from 60 to 604800 or -1'],
  ])('refuses %s %j, as Lambda would, rather than applying it', (name, value, range) => {
    expect(() => kinesisMappings(templateWith({ [name]: value }))).toThrow(
      `event source mapping ProcessTicksEventSourceMappingKinesisTicksStream: ${name} must be an integer ${range}, got ${JSON.stringify(value)}`,
    );
  });
});
