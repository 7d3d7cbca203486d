import {
  RejectedRecordsException,
  TimestreamWriteClient,
  WriteRecordsCommand,
} from '@aws-sdk/client-timestream-write';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { TimestreamRejectedRecordsError, TimestreamSink } from '../../../src/adapters/aws/timestream-sink.ts';
import { type MetricRow, TimeseriesRowsRejectedError } from '../../../src/ports/processor.ts';

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
    // The port's error: the pipeline reports these rows and fails no symbol for them.
    expect(err).toBeInstanceOf(TimeseriesRowsRejectedError);
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

  it('collapses rows with one Timestream identity to the last row, so a batch is not self-rejecting', async () => {
    // Timestream's rule: same dimensions, time and measure name, different values, version not higher → rejected.
    tsMock
      .on(WriteRecordsCommand)
      .callsFake(
        (input: {
          Records: { Dimensions: unknown; Time: string; MeasureName: string; MeasureValues: unknown }[];
        }) => {
          const seen = new Map<string, string>();
          const RejectedRecords: { RecordIndex: number; Reason: string }[] = [];
          input.Records.forEach((r, i) => {
            const k = JSON.stringify([r.Dimensions, r.Time, r.MeasureName]);
            const v = JSON.stringify(r.MeasureValues);
            if (seen.has(k) && seen.get(k) !== v)
              RejectedRecords.push({ RecordIndex: i, Reason: 'duplicate' });
            seen.set(k, v);
          });
          if (RejectedRecords.length > 0)
            throw new RejectedRecordsException({ message: 'rejected', $metadata: {}, RejectedRecords });
          return {};
        },
      );
    const tick = (price: number, extra: Partial<MetricRow> = {}): MetricRow => ({
      symbol: 'AAPL',
      kind: 'tick',
      time: T0 + 20_000,
      values: { price, session: 'regular' },
      ...extra,
    });
    const rows = [
      tick(101),
      tick(999, { symbol: 'MSFT' }),
      tick(102, { time: T0 + 20_000.4 }), // same Time once truncated to ms
      tick(103, { kind: 'bar' }),
      tick(104, { values: { price: 104, session: 'pre' } }),
      tick(105, { time: T0 + 21_000 }),
    ];
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    await expect(sink.write(rows)).resolves.toBeUndefined();
    const records = tsMock.commandCalls(WriteRecordsCommand).flatMap((c) => c.args[0].input.Records!);
    expect(
      records.map((r) => [r.Dimensions!.map((d) => d.Value).join('/'), r.Time, r.MeasureValues![0]!.Value]),
    ).toEqual([
      ['AAPL/tick/regular', String(T0 + 20_000), '102'],
      ['MSFT/tick/regular', String(T0 + 20_000), '999'],
      ['AAPL/bar/regular', String(T0 + 20_000), '103'],
      ['AAPL/tick/pre', String(T0 + 20_000), '104'],
      ['AAPL/tick/regular', String(T0 + 21_000), '105'],
    ]);
  });

  it('still chunks ≤ 100 records per WriteRecords after collapsing duplicates', async () => {
    tsMock.on(WriteRecordsCommand).resolves({});
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    const first = Array.from({ length: 250 }, (_, i) => row(i));
    const revised = Array.from({ length: 250 }, (_, i) => row(i, { close: -1 }));
    await sink.write([...first, ...revised]);
    const inputs = tsMock.commandCalls(WriteRecordsCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.Records!.length)).toEqual([100, 100, 50]);
    expect(inputs.flatMap((i) => i.Records!).every((r) => r.MeasureValues![0]!.Value === '-1')).toBe(true);
  });

  it('counts a rejection whose ExistingVersion is ≥ the version sent as written (a newer write is stored)', async () => {
    const now = 1_700_000_000_000;
    tsMock.on(WriteRecordsCommand).rejects(
      new RejectedRecordsException({
        message: 'rejected',
        $metadata: {},
        RejectedRecords: [
          { RecordIndex: 0, Reason: 'newer version exists', ExistingVersion: now * 1000 },
          { RecordIndex: 1, Reason: 'newer version exists', ExistingVersion: now * 1000 + 5 },
          { RecordIndex: 2, Reason: 'older version exists', ExistingVersion: now * 1000 - 1 },
        ],
      }),
    );
    const sink = new TimestreamSink({ client, database: 'd', table: 't', now: () => now });
    const err = await sink.write([row(0), row(1), row(2)]).catch((e: unknown) => e);
    expect(tsMock.commandCalls(WriteRecordsCommand)[0]!.args[0].input.CommonAttributes!.Version).toBe(
      now * 1000,
    );
    expect((err as TimestreamRejectedRecordsError).rejections).toEqual([
      {
        symbol: 'AAPL',
        kind: 'bar',
        time: T0 + 2 * 60_000,
        reason: 'older version exists',
        existingVersion: now * 1000 - 1,
      },
    ]);
  });

  it('propagates other errors', async () => {
    tsMock.on(WriteRecordsCommand).rejects(new Error('AccessDenied'));
    const sink = new TimestreamSink({ client, database: 'd', table: 't' });
    await expect(sink.write([row(0)])).rejects.toThrow('AccessDenied');
  });
});
