/**
 * `npm run query`'s views over a local lake laid out on disk as s3rver keeps it (each object's body
 * in `<bucket>/<key>._S3rver_object`), written by the lake writer's and the compaction's encoders.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLake } from '../../../scripts/local/lake-sql.ts';
import { encodeCompactedDay } from '../../../src/adapters/aws/s3-lake-compaction.ts';
import { encodeLakeObject, lakeObjectKey, toNdjson } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { dayStart, parseRawLine } from '../../../src/pipeline/compact/compact-day.ts';
import type { CompactedEvent } from '../../../src/ports/compaction.ts';
import type { LakeRecord } from '../../../src/ports/processor.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const scratch = mkdtempSync(join(tmpdir(), 'lake-sql-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const DAY = '2024-10-02';
const BUCKET = 'tickstream-000000000000-us-east-1-dev-lake';

function putObject(s3Dir: string, key: string, body: Uint8Array, bucket = BUCKET) {
  const file = join(s3Dir, bucket, `${key}._S3rver_object`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, body);
}

/** The first `n` bars of the bundled AAPL day as the processor writes them to the lake. */
function sampleRecords(n: number): LakeRecord[] {
  return aaplSampleBars()
    .slice(0, n)
    .map((bar, i) => ({
      symbol: 'AAPL',
      time: bar.start,
      kind: 'bar',
      shardId: 'shardId-000000000000',
      sequenceNumber: (10n ** 20n + BigInt(i)).toString(),
      arrivalTime: bar.start + 61_000,
      event: bar,
    }));
}

/** `records` as DAY's raw object, and with `compacted` as DAY's Parquet object too. */
function putDay(s3Dir: string, records: LakeRecord[], compacted: boolean, bucket = BUCKET) {
  putObject(
    s3Dir,
    lakeObjectKey('raw/', DAY, 'shardId-000000000000', records),
    encodeLakeObject(records),
    bucket,
  );
  if (!compacted) return;
  const events = toNdjson(records)
    .trimEnd()
    .split('\n')
    .map((line) => parseRawLine(line, dayStart(DAY)) as CompactedEvent);
  putObject(s3Dir, `compacted/dt=${DAY}/events.parquet`, encodeCompactedDay(events));
}

describe('the local lake views', () => {
  it('compacted_events has the Glue table’s columns, even under a folder named name=value', async () => {
    // A state directory somewhere below a `run=7` folder (a CI workspace, say).
    const s3Dir = join(scratch, 'run=7', 'state', 's3');
    putDay(s3Dir, sampleRecords(5), true);

    const lake = await LocalLake.open({ s3Dir, stage: 'dev' });
    try {
      const columns = async (name: string) =>
        (await lake.query(`DESCRIBE ${name}`)).map((r) => r.column_name);
      // raw_events has the Glue table's columns (test/integration/sinks/local-lake-sql.test.ts).
      expect(await columns('compacted_events')).toEqual(await columns('raw_events'));
      expect(await columns('events')).toEqual(await columns('compacted_events'));
      // So one query can read both zones, as in Athena.
      expect(
        await lake.query(
          'SELECT count(*) AS n FROM (SELECT * FROM events UNION ALL SELECT * FROM compacted_events)',
        ),
      ).toEqual([{ n: '10' }]);
    } finally {
      lake.close();
    }
  });

  it('compacted_events exists before any day is compacted, as the Glue table does: no rows, the same columns and types', async () => {
    // A lake whose raw zone has a day and whose compacted zone has none yet (a run stopped before
    // its compaction, or a raw zone copied from elsewhere).
    const s3Dir = join(scratch, 'raw-only', 's3');
    putDay(s3Dir, sampleRecords(3), false);

    const lake = await LocalLake.open({ s3Dir, stage: 'dev' });
    try {
      const describe = async (name: string) =>
        (await lake.query(`DESCRIBE ${name}`)).map((r) => [r.column_name, r.column_type]);
      expect(await describe('tickstream_dev.compacted_events')).toEqual(await describe('raw_events'));
      // The README's query of the compacted zone: no day yet, no row (not an error).
      expect(
        await lake.query('SELECT dt, count(*) AS events FROM compacted_events GROUP BY dt ORDER BY dt'),
      ).toEqual([]);
      // Closed days from the compacted zone, the rest from the view: one query, as in Athena.
      expect(
        await lake.query(
          'SELECT count(*) AS n FROM (SELECT * FROM compacted_events UNION ALL SELECT * FROM events ' +
            'WHERE dt NOT IN (SELECT dt FROM compacted_events))',
        ),
      ).toEqual([{ n: '3' }]);
    } finally {
      lake.close();
    }
  });
});

describe('the local lake views under a folder named dt=…', () => {
  it("take dt from the object's own partition, not from a dt= folder above the lake", async () => {
    // A state directory kept under a folder named as a partition (a copy of a day's run, say).
    const s3Dir = join(scratch, 'dt=2019-01-01', 'state', 's3');
    putDay(s3Dir, sampleRecords(4), true);

    const lake = await LocalLake.open({ s3Dir, stage: 'dev' });
    try {
      for (const table of ['raw_events', 'events', 'compacted_events']) {
        expect(await lake.query(`SELECT dt, count(*) AS n FROM ${table} GROUP BY dt`)).toEqual([
          { dt: DAY, n: '4' },
        ]);
        expect(await lake.query(`SELECT count(*) AS n FROM ${table} WHERE dt = '${DAY}'`)).toEqual([
          { n: '4' },
        ]);
      }
    } finally {
      lake.close();
    }
  });
});

describe('npm run query', () => {
  it("prints a struct column's fields in its table, not [Object]", () => {
    const stateDir = join(scratch, 'table-output');
    const bar = aaplSampleBars()[0]!;
    putDay(join(stateDir, 's3'), sampleRecords(1), false);
    const cli = spawnSync(
      process.execPath,
      ['scripts/query.ts', '--state-dir', stateDir, 'SELECT symbol, event FROM events'],
      { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8', timeout: 60_000 },
    );
    expect(cli.stderr).toBe('1 row\n');
    expect(cli.status).toBe(0);
    expect(cli.stdout).not.toContain('[Object]');
    // The bar's own values, as --json prints them (null for a tick's fields).
    expect(cli.stdout).toContain(`"close":${bar.close}`);
    expect(cli.stdout).toContain(`"start":"${bar.start}"`);
    expect(cli.stdout).toContain('"price":null');
  });
});

describe('npm run query on a state of two regions', () => {
  // `AWS_REGION=eu-west-1 npm start` on a state first started in us-east-1 makes a second lake
  // bucket beside the first (the region is in its name); the query used to refuse both.
  const stateDir = join(scratch, 'two-regions');
  const s3Dir = join(stateDir, 's3');
  putDay(s3Dir, sampleRecords(2), false);
  putDay(s3Dir, sampleRecords(5), false, 'tickstream-000000000000-eu-west-1-dev-lake');
  const query = (env: NodeJS.ProcessEnv) =>
    spawnSync(
      process.execPath,
      ['scripts/query.ts', '--state-dir', stateDir, '--json', 'SELECT count(*) AS n FROM raw_events'],
      {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH, ...env },
      },
    );

  it('reads the lake of AWS_REGION', () => {
    for (const [region, n] of [
      ['eu-west-1', '5'],
      ['us-east-1', '2'],
    ]) {
      const cli = query({ AWS_REGION: region });
      expect(cli.stderr).toBe('1 row\n');
      expect(cli.stdout).toBe(`{"n":"${n}"}\n`);
    }
  });

  it("reads the last start's region without AWS_REGION, and names the regions when it cannot tell", () => {
    const cli = query({});
    expect(cli.status).toBe(2);
    expect(cli.stderr).toContain('lake buckets of stage dev in 2 regions (eu-west-1, us-east-1)');
    expect(cli.stderr).toContain('AWS_REGION');
    writeFileSync(join(stateDir, 'local-cloud.json'), JSON.stringify({ stage: 'dev', region: 'eu-west-1' }));
    expect(query({}).stdout).toBe('{"n":"5"}\n');
    expect(query({ AWS_REGION: 'us-east-1' }).stdout).toBe('{"n":"2"}\n');
  });
});
