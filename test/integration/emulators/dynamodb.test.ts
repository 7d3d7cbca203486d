import { ConditionalCheckFailedException, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { realTemplate, useLocalCloud } from '../../support/local-cloud.ts';

// DynamoDB through the project's client factory against dynalite, on the template's market table.
const cloud = useLocalCloud();

describe('DynamoDB (dynalite) through createAwsClients', () => {
  it('creates the market table with the key schema written in the template', async () => {
    const template = await realTemplate('dev');
    const props = template.Resources.MarketTable!.Properties as {
      TableName: string;
      KeySchema: { AttributeName: string; KeyType: string }[];
    };
    const table = (
      await cloud().clients.dynamodb.send(
        new DescribeTableCommand({ TableName: cloud().env.MARKET_TABLE_NAME }),
      )
    ).Table!;
    expect(table.TableName).toBe(props.TableName);
    expect(table.KeySchema).toEqual(props.KeySchema);
    expect(table.TableStatus).toBe('ACTIVE');
  });

  it('rejects a conditional put on its second try and keeps the first item', async () => {
    const docs = cloud().clients.documents;
    const TableName = cloud().env.MARKET_TABLE_NAME!;
    const put = (price: number) =>
      docs.send(
        new PutCommand({
          TableName,
          Item: {
            pk: 'SYM#AAPL',
            sk: 'STATE',
            lastSeq: '49590338271490256608559692538361571095921575989136588898',
            price,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put(189.25);
    const second = put(190.5);
    await expect(second).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(second).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const got = await docs.send(new GetCommand({ TableName, Key: { pk: 'SYM#AAPL', sk: 'STATE' } }));
    expect(got.Item?.price).toBe(189.25);
  });

  it('accepts a conditional update that advances a sequence number and rejects a replayed one', async () => {
    const docs = cloud().clients.documents;
    const TableName = cloud().env.MARKET_TABLE_NAME!;
    const Key = { pk: 'SYM#MSFT', sk: 'STATE' };
    await docs.send(new PutCommand({ TableName, Item: { ...Key, lastSeq: 100 } }));
    const advance = (from: number, to: number) =>
      docs.send(
        new PutCommand({
          TableName,
          Item: { ...Key, lastSeq: to },
          ConditionExpression: 'lastSeq = :from',
          ExpressionAttributeValues: { ':from': from },
        }),
      );
    await advance(100, 101);
    await expect(advance(100, 101)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect((await docs.send(new GetCommand({ TableName, Key }))).Item?.lastSeq).toBe(101);
  });
});
