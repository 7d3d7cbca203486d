/**
 * SQL over the local lake (`npm run query`): DuckDB over the objects the real S3 lake writer put
 * into the local S3, through a view with the Glue table's columns.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalLake } from '../../../scripts/local/lake-sql.ts';
import { S3LakeWriter } from '../../../src/adapters/aws/s3-lake-writer.ts';
import type { Tick } from '../../../src/domain/market/index.ts';
import type { LakeRecord } from '../../../src/ports/processor.ts';
import { lakeBatchOf } from '../../support/lake.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const SHARD = 'shardId-000000000000';

/** The Athena query of the README's "Querying the lake" section, as printed there. */
function readmeQuery(): string {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split('### Querying the lake')[1]!;
  return section.split('```sql\n')[1]!.split('```')[0]!;
}

describe('SQL over the local lake', () => {
  const cloud = useLocalCloud();

  it("reads the lake writer's objects as Athena's table has them; the README's query runs unchanged and counts a retried record once", async () => {
    const c = cloud();
    const bucket = c.env.LAKE_BUCKET_NAME!;
    const writer = new S3LakeWriter({ s3: c.clients.s3, bucket });
    const bars = aaplSampleBars().slice(0, 30);
    const records: LakeRecord[] = bars.map((bar, i) => ({
      symbol: 'AAPL',
      time: bar.start,
      kind: 'bar',
      shardId: SHARD,
      sequenceNumber: (10n ** 20n + BigInt(i)).toString(),
      arrivalTime: bar.start + 61_000,
      event: bar,
    }));
    await writer.writeBatch(lakeBatchOf(records.slice(0, 20)));
    // A retry that holds part of the first batch: records 10–19 are in the raw zone twice.
    await writer.writeBatch(lakeBatchOf(records.slice(10)));
    const tick: Tick = {
      symbol: 'MSFT',
      time: Date.parse('2024-10-03T14:00:01.250Z'),
      price: 417.13,
      dayOpen: 415.5,
      previousClose: 416.54,
      dayVolume: 1_234_567,
      currency: 'USD',
      marketState: 'REGULAR',
      source: 'yahoo',
    };
    await writer.writeBatch(
      lakeBatchOf([
        {
          symbol: 'MSFT',
          time: tick.time,
          kind: 'tick',
          shardId: SHARD,
          sequenceNumber: '200000000000000000000',
          arrivalTime: tick.time + 300,
          event: tick,
        },
      ]),
    );

    const lake = await LocalLake.open({ s3Dir: join(c.state.dir, 's3'), bucket, stage: 'dev' });
    try {
      expect(await lake.query('SELECT count(*) AS n FROM raw_events')).toEqual([{ n: '41' }]);
      const columns = await lake.query('DESCRIBE tickstream_dev.raw_events');
      expect(columns.map((r) => r.column_name)).toEqual([
        'symbol',
        'time',
        'kind',
        'shardid',
        'sequencenumber',
        'arrivaltime',
        'event',
        'dt',
      ]);
      expect(columns.find((r) => r.column_name === 'event')!.column_type).toMatch(
        /^STRUCT\(symbol VARCHAR, "time" BIGINT, price DOUBLE, dayopen DOUBLE, .*"close" DOUBLE, volume DOUBLE, "session" VARCHAR, "source" VARCHAR\)$/,
      );

      const rows = await lake.query(readmeQuery());
      expect(rows).toHaveLength(30);
      expect(rows.map((r) => r.close)).toEqual(bars.map((b) => b.close));
      expect(rows.map((r) => r.volume)).toEqual(bars.map((b) => b.volume));
      expect(rows[0]).toEqual({
        symbol: 'AAPL',
        minute: '2024-10-02 13:30:00', // 09:30 New York, the instant in UTC
        close: bars[0]!.close,
        volume: bars[0]!.volume,
      });

      expect(
        await lake.query(
          "SELECT dt, shardid, sequencenumber, arrivaltime, event.price, event.dayopen, event.dayvolume, event.marketstate, event.close FROM raw_events WHERE kind = 'tick'",
        ),
      ).toEqual([
        {
          dt: '2024-10-03',
          shardid: SHARD,
          sequencenumber: '200000000000000000000',
          arrivaltime: String(tick.time + 300),
          price: 417.13,
          dayopen: 415.5,
          dayvolume: 1234567,
          marketstate: 'REGULAR',
          close: null,
        },
      ]);
    } finally {
      lake.close();
    }

    // The command line: one JSON object per row, the count on stderr.
    const cli = spawnSync(
      process.execPath,
      [
        'scripts/query.ts',
        '--state-dir',
        c.state.dir,
        '--json',
        'SELECT kind, count(*) AS n FROM tickstream_dev.raw_events GROUP BY kind ORDER BY kind',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(cli.stderr).toContain('2 rows');
    expect(cli.status).toBe(0);
    expect(
      cli.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { kind: 'bar', n: '40' },
      { kind: 'tick', n: '1' },
    ]);
  });

  it('the view `events` holds each (symbol, kind, time) once: a retried copy once, of two records of one key the one with the greater sequence number; a dt filter reaches the files', async () => {
    const c = cloud();
    const bucket = c.env.LAKE_BUCKET_NAME!;
    const writer = new S3LakeWriter({ s3: c.clients.s3, bucket });
    const bars = aaplSampleBars().slice(0, 10);
    const day = 86_400_000;
    // NVDA, two days after the sample's day (its own dt partition here).
    const barRecords: LakeRecord[] = bars.map((bar, i) => ({
      symbol: 'NVDA',
      time: bar.start + 2 * day,
      kind: 'bar',
      shardId: SHARD,
      sequenceNumber: (3n * 10n ** 20n + BigInt(i)).toString(),
      arrivalTime: bar.start + 2 * day + 61_000,
      event: { ...bar, symbol: 'NVDA', start: bar.start + 2 * day },
    }));
    await writer.writeBatch(lakeBatchOf(barRecords));
    await writer.writeBatch(lakeBatchOf(barRecords.slice(5))); // a retry: bars 5–9 twice
    // Two records of one tick time; the later one's sequence number is longer (numerically greater,
    // lexically smaller): the view must compare them as numbers.
    const time = bars[0]!.start + 2 * day + 1_500;
    const tick = (sequenceNumber: string, price: number): LakeRecord => ({
      symbol: 'NVDA',
      time,
      kind: 'tick',
      shardId: SHARD,
      sequenceNumber,
      arrivalTime: time + 200,
      event: {
        symbol: 'NVDA',
        time,
        price,
        previousClose: 120,
        currency: 'USD',
        marketState: 'REGULAR',
        source: 'yahoo',
      } satisfies Tick,
    });
    await writer.writeBatch(lakeBatchOf([tick('99999999999999999999', 121.5)]));
    await writer.writeBatch(lakeBatchOf([tick('100000000000000000000', 121.75)]));

    const lake = await LocalLake.open({ s3Dir: join(c.state.dir, 's3'), bucket, stage: 'dev' });
    try {
      const count = async (sql: string) => Number((await lake.query(sql))[0]!.n);
      expect(await count("SELECT count(*) AS n FROM raw_events WHERE symbol = 'NVDA'")).toBe(17);
      expect(await count("SELECT count(*) AS n FROM events WHERE symbol = 'NVDA'")).toBe(11);
      // Over the whole lake (this test's objects and the other test's): no key twice.
      expect(
        await count(
          'SELECT count(*) AS n FROM (SELECT symbol, kind, time FROM tickstream_dev.events GROUP BY ALL HAVING count(*) > 1)',
        ),
      ).toBe(0);
      expect(
        await count('SELECT count(*) AS n FROM (SELECT DISTINCT symbol, kind, time FROM raw_events)'),
      ).toBe(await count('SELECT count(*) AS n FROM events'));
      expect(
        await lake.query(
          "SELECT sequencenumber, event.price FROM events WHERE symbol = 'NVDA' AND kind = 'tick'",
        ),
      ).toEqual([{ sequencenumber: '100000000000000000000', price: 121.75 }]);
      expect(
        await lake.query(
          "SELECT event.close FROM events WHERE symbol = 'NVDA' AND kind = 'bar' ORDER BY time",
        ),
      ).toEqual(bars.map((b) => ({ close: b.close })));
      // One statement per query, as in Athena (DuckDB alone would print only the last one's rows).
      expect(await lake.query('SELECT 1 AS n;')).toEqual([{ n: 1 }]);
      await expect(
        lake.query("SELECT 1 AS n; SELECT 2 AS n FROM events WHERE symbol = 'NVDA'"),
      ).rejects.toThrow('one statement per query, as Athena runs them: this holds 2; run them one at a time');
      await expect(lake.query('-- nothing')).rejects.toThrow('no SQL statement given');
      await expect(lake.query('SELEC 1; SELECT 2')).rejects.toThrow(
        /Parser Error: syntax error at or near "SELEC"/,
      );
      // The same columns as the table, names and types.
      const describe = async (name: string) =>
        (await lake.query(`DESCRIBE ${name}`)).map((r) => [r.column_name, r.column_type]);
      expect(await describe('events')).toEqual(await describe('raw_events'));
      // A dt filter on the view is pushed below the deduplication to the files: only that day's 4
      // objects are read (the other test's days are skipped).
      const plan = (await lake.query("EXPLAIN ANALYZE SELECT * FROM events WHERE dt = '2024-10-04'"))
        .map((r) => String(r.explain_value))
        .join('\n')
        .replace(/[│ ]+/g, ' ');
      // (dt is the objects' partition folder, read from their path: see objectDt in lake-sql.ts.)
      expect(plan).toMatch(/File Filters: \n? ?\(regexp_extract\(filename,/);
      expect(plan).toMatch(/Total Files Read: 4\b/);
    } finally {
      lake.close();
    }
  });

  it('says what to do when there is no lake yet, and exits 2', () => {
    const cli = spawnSync(process.execPath, ['scripts/query.ts', '--state-dir', 'no/such/dir', 'SELECT 1'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/no local S3 data under .*no\/such\/dir\/s3: run npm start first/);
  });
});
