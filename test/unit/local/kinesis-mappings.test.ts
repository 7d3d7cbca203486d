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
