import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CloudFormationTemplate } from '../../../scripts/template/synthesize.ts';
import { realTemplate, useLocalCloud } from '../../support/local-cloud.ts';

// The local cloud provisions from the prod template too: its PROVISIONED market table (with
// Application Auto Scaling targets and policies, which have no emulator) must come up usable.

const AUTO_SCALING = [
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
];

const logs: string[] = [];
const cloud = useLocalCloud({ stage: 'prod', log: (line) => logs.push(line) });
let template: CloudFormationTemplate;
beforeAll(async () => {
  template = await realTemplate('prod');
});

describe('local cloud from the prod template (provisioned table with auto scaling)', () => {
  it('is a template with a PROVISIONED table and auto scaling resources (the case under test)', () => {
    expect(template.Resources.MarketTable?.Properties?.BillingMode).toBe('PROVISIONED');
    const types = Object.values(template.Resources).map((r) => r.Type);
    for (const type of AUTO_SCALING) expect(types.filter((t) => t === type)).toHaveLength(2);
  });

  it('creates the market table ACTIVE under its template name and key schema', async () => {
    const props = template.Resources.MarketTable!.Properties as { TableName: string; KeySchema: unknown };
    expect(cloud().env.MARKET_TABLE_NAME).toBe(props.TableName);
    const table = (
      await cloud().clients.dynamodb.send(new DescribeTableCommand({ TableName: props.TableName }))
    ).Table!;
    expect(table.TableStatus).toBe('ACTIVE');
    expect(table.KeySchema).toEqual(props.KeySchema);
  });

  it('stores and reads items in it', async () => {
    const TableName = cloud().env.MARKET_TABLE_NAME!;
    const Key = { pk: 'SYM#NVDA', sk: 'STATE' };
    await cloud().clients.documents.send(new PutCommand({ TableName, Item: { ...Key, lastSeq: '7' } }));
    const got = await cloud().clients.documents.send(
      new GetCommand({ TableName, Key, ConsistentRead: true }),
    );
    expect(got.Item).toEqual({ ...Key, lastSeq: '7' });
  });

  it('skips the auto scaling resources by type, saying why, and not as failures', () => {
    const { skipped, notEmulated } = cloud().resources;
    for (const type of AUTO_SCALING) {
      expect(notEmulated[type]).toBe(2);
      expect(skipped.filter((s) => s.type === type)).toEqual([]);
      expect(logs).toContainEqual(
        expect.stringMatching(new RegExp(`^skipped 2 ${type}: no Application Auto Scaling emulator`)),
      );
    }
  });
});
