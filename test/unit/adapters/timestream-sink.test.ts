import {
  RejectedRecordsException,
  TimestreamWriteClient,
  WriteRecordsCommand,
} from '@aws-sdk/client-timestream-write';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  TimestreamRejectedRecordsError,
  type TimestreamRejection,
  TimestreamSink,
} from '../../../src/adapters/aws/timestream-sink.ts';
import type { MetricRow } from '../../../src/ports/processor.ts';

const client = new TimestreamWriteClient({ region: 'us-east-1' });
const tsMock = mockClient(client);
afterEach(() => tsMock.reset());
const T0 = Date.UTC(2024, 2, 8, 14, 30);

function row(i: number, extra: MetricRow['values'] = {}): MetricRow {
  return {
    symbol: i % 2 ? 'MSFT' : 'AAPL',
    time: T0 + i * 60_000,
    kind: 'bar',
    values: {
      close: 100 + i,
      volume: 1000,
      session: 'regular',
      halted: false,
      source: 'replay',
      rsi: null,
      ...extra,
    },
  };
}

describe('TimestreamSink', () => {
  it('writes multi-measure records, ≤ 100 per WriteRecords, with dimensions symbol/kind/session', async () => {
    tsMock.on(WriteRecordsCommand).resolves({});
    const sink = new TimestreamSink({
      client,
      database: 'tickstream',
      table: 'metrics',
      now: () => 1_700_000_000_000,
    });
    await sink.write(Array.from({ length: 250 }, (_, i) => row(i)));
    const inputs = tsMock.commandCalls(WriteRecordsCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.Records!.length)).toEqual([100, 100, 50]);
    expect(inputs[0]!.DatabaseName).toBe('tickstream');
    expect(inputs[0]!.TableName).toBe('metrics');
    expect(inputs[0]!.CommonAttributes).toMatchObject({
      MeasureValueType: 'MULTI',
      TimeUnit: 'MILLISECONDS',
    });
    expect(inputs[0]!.Records![1]).toEqual({
      Dimensions: [
        { Name: 'symbol', Value: 'MSFT' },
        { Name: 'kind', Value: 'bar' },
        { Name: 'session', Value: 'regular' },
      ],
      MeasureName: 'metrics',
      MeasureValues: [
        { Name: 'close', Value: '101', Type: 'DOUBLE' },
        { Name: 'volume', Value: '1000', Type: 'DOUBLE' },
        { Name: 'halted', Value: 'false', Type: 'BOOLEAN' },
        { Name: 'source', Value: 'replay', Type: 'VARCHAR' },
      ],
      Time: String(T0 + 60_000),
    });
  });

  it('uses strictly increasing versions, so a replay upserts the same values instead of being rejected', async () => {
    tsMock.on(WriteRecordsCommand).resolves({});
    const sink = new TimestreamSink({ client, database: 'd', table: 't', now: () => 1_700_000_000_000 });
    await sink.write([row(1)]);
    await sink.write([row(1)]);
    const versions = tsMock
      .commandCalls(WriteRecordsCommand)
      .map((c) => c.args[0].input.CommonAttributes!.Version!);
    expect(versions[0]).toBeGreaterThanOrEqual(1_700_000_000_000 * 1000);
    expect(versions[1]).toBeGreaterThan(versions[0]!);
  });

  it('renames measures that clash with reserved or dimension names', async () => {
    tsMock.on(WriteRecordsCommand).resolves({});
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    await sink.write([row(0, { time: 5, symbol: 'x' })]);
    const names = tsMock
      .commandCalls(WriteRecordsCommand)[0]!
      .args[0].input.Records![0]!.MeasureValues!.map((m) => m.Name);
    expect(names).toContain('m_time');
    expect(names).toContain('m_symbol');
  });

  it('inspects RejectedRecords, keeps writing the other chunks, then throws naming each rejected row', async () => {
    tsMock
      .on(WriteRecordsCommand)
      .rejectsOnce(
        new RejectedRecordsException({
          message: 'One or more records have been rejected.',
          $metadata: {},
          RejectedRecords: [
            {
              RecordIndex: 3,
              Reason: 'The record timestamp is outside the time range of the data ingestion window.',
            },
            { RecordIndex: 99, Reason: 'A record with the same version already exists.', ExistingVersion: 7 },
          ],
        }),
      )
      .resolves({});
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    const err = await sink.write(Array.from({ length: 150 }, (_, i) => row(i))).catch((e: unknown) => e);
    expect(tsMock.commandCalls(WriteRecordsCommand)).toHaveLength(2);
    expect(err).toBeInstanceOf(TimestreamRejectedRecordsError);
    expect((err as TimestreamRejectedRecordsError).rejections).toEqual([
      {
        symbol: 'MSFT',
        kind: 'bar',
        time: T0 + 3 * 60_000,
        reason: 'The record timestamp is outside the time range of the data ingestion window.',
      },
      {
        symbol: 'MSFT',
        kind: 'bar',
        time: T0 + 99 * 60_000,
        reason: 'A record with the same version already exists.',
        existingVersion: 7,
      },
    ]);
    expect((err as Error).message).toMatch(
      /rejected 2 record\(s\) written to d\.t: MSFT bar 2024-03-08T14:33:00.000Z/,
    );
  });

  it('reports rejections to onRejected instead of throwing when given one', async () => {
    tsMock.on(WriteRecordsCommand).rejects(
      new RejectedRecordsException({
        message: 'rejected',
        $metadata: {},
        RejectedRecords: [{ RecordIndex: 0, Reason: 'bad' }],
      }),
    );
    const seen: TimestreamRejection[] = [];
    const sink = new TimestreamSink({
      client,
      database: 'd',
      table: 't',
      onRejected: (r) => seen.push(...r),
    });
    await expect(sink.write([row(0)])).resolves.toBeUndefined();
    expect(seen).toEqual([{ symbol: 'AAPL', kind: 'bar', time: T0, reason: 'bad' }]);
  });

  it('propagates other errors', async () => {
    tsMock.on(WriteRecordsCommand).rejects(new Error('AccessDenied'));
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    await expect(sink.write([row(0)])).rejects.toThrow('AccessDenied');
  });
});
