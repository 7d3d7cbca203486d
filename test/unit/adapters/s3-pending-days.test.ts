import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3PendingDays } from '../../../src/adapters/aws/s3-lake-compaction.ts';

const s3 = new S3Client({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
afterEach(() => s3Mock.reset());

const mark = (day: string, name: string) => `compaction-pending/dt=${day}/shard=shardId-000000000001/${name}`;

describe('S3PendingDays: the marks of late days', () => {
  it('lists every page of the marks, by day, oldest day first', async () => {
    s3Mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [{ Key: mark('2024-10-02', 'a') }, { Key: mark('2024-10-03', 'b') }],
      })
      .on(ListObjectsV2Command, { ContinuationToken: 'page-2' })
      .resolves({
        IsTruncated: false,
        Contents: [
          { Key: mark('2024-10-03', 'c') },
          { Key: mark('2024-09-30', 'd') },
          { Key: 'compaction-pending/dt=junk/e' }, // not a mark the writer puts
        ],
      });
    const pending = new S3PendingDays({ s3, bucket: 'lake' });
    const days = await pending.list();
    expect([...days]).toEqual([
      ['2024-09-30', [mark('2024-09-30', 'd')]],
      ['2024-10-02', [mark('2024-10-02', 'a')]],
      ['2024-10-03', [mark('2024-10-03', 'b'), mark('2024-10-03', 'c')]],
    ]);
    const listed = s3Mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(listed).toEqual([
      { Bucket: 'lake', Prefix: 'compaction-pending/dt=', ContinuationToken: undefined },
      { Bucket: 'lake', Prefix: 'compaction-pending/dt=', ContinuationToken: 'page-2' },
    ]);
  });

  it("lists only one day's marks when given the day", async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: mark('2024-10-02', 'a') }] });
    const days = await new S3PendingDays({ s3, bucket: 'lake' }).list('2024-10-02');
    expect([...days.keys()]).toEqual(['2024-10-02']);
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]!.args[0].input.Prefix).toBe(
      'compaction-pending/dt=2024-10-02/',
    );
  });

  it('removes marks in DeleteObjects requests of at most 1,000 keys', async () => {
    s3Mock.on(DeleteObjectsCommand).resolves({});
    const keys = Array.from({ length: 2500 }, (_, i) => mark('2024-10-02', `${i}`));
    await new S3PendingDays({ s3, bucket: 'lake' }).clear(keys);
    const requests = s3Mock.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
    expect(requests.map((r) => r.Delete?.Objects?.length)).toEqual([1000, 1000, 500]);
    expect(requests.flatMap((r) => r.Delete?.Objects?.map((o) => o.Key))).toEqual(keys);
    expect(requests.every((r) => r.Bucket === 'lake' && r.Delete?.Quiet === true)).toBe(true);
  });

  it('fails when S3 reports keys it did not remove (a 200 response with errors)', async () => {
    s3Mock.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: mark('2024-10-02', 'a'), Code: 'InternalError', Message: 'try again' }],
    });
    await expect(
      new S3PendingDays({ s3, bucket: 'lake' }).clear([mark('2024-10-02', 'a'), mark('2024-10-02', 'b')]),
    ).rejects.toThrow(
      `1 of 2 marks not removed (first: ${mark('2024-10-02', 'a')}: InternalError try again)`,
    );
  });

  it('still sends the other chunks when one fails, then reports all it could not remove', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => mark('2024-10-02', `${i}`));
    s3Mock
      .on(DeleteObjectsCommand)
      .rejectsOnce(Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' }))
      .resolvesOnce({ Errors: [{ Key: keys[1500], Code: 'SlowDown', Message: 'reduce your request rate' }] })
      .resolves({});
    await expect(new S3PendingDays({ s3, bucket: 'lake' }).clear(keys)).rejects.toThrow(
      `1001 of 2500 marks not removed (first: ${keys[0]}: InternalError We encountered an internal error)`,
    );
    const requests = s3Mock.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
    expect(requests.map((r) => r.Delete?.Objects?.length)).toEqual([1000, 1000, 500]);
  });
});
