/**
 * End to end: `npm start -- --replay <file> --once` runs the whole local pipeline (local cloud, the
 * template's processor on the local event source mapping, the producer) and prints its summary as
 * the last stdout line. Checked against counts taken from the file itself, the domain's own
 * detection of the same bars, and the table read back after the run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLake } from '../../scripts/local/lake-sql.ts';
import { startLocalCloud } from '../../scripts/local/local-cloud.ts';
import { SymbolAnalytics } from '../../src/domain/analytics/index.ts';
import { realTemplate } from '../support/local-cloud.ts';
import { AAPL_SAMPLE, aaplSampleBars } from '../support/samples.ts';

const SAMPLE = AAPL_SAMPLE;
const START = fileURLToPath(new URL('../../scripts/start.ts', import.meta.url));

interface Summary {
  ticksIn: number;
  recordsPut: number;
  processed: number;
  rejected: number;
  dlq: number;
  dynamodbMetricRows: number;
  lakeObjects: number;
  compactedDays: string[];
  compactedEvents: number;
  alertsPublished: number;
  interrupted: boolean;
}

/** `npm start -- <args> --once` in a child process: its exit code and output. */
function start(args: string[], cwd?: string) {
  return runChild(process.execPath, [START, ...args, '--once'], cwd ? { cwd } : {});
}

interface ChildOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Ctrl-C (SIGINT, once; or `signal`) `afterMs` after stderr or stdout first shows `when`. */
  readonly interrupt?: { readonly when: string; readonly afterMs: number; readonly signal?: NodeJS.Signals };
  /**
   * A closed terminal: at the interrupt, first close the reading ends of the child's stdout and
   * stderr (its writes then fail, EPIPE, as they fail with EIO on a hung-up terminal), then signal.
   */
  readonly hangUp?: boolean;
}

function runChild(
  command: string,
  args: string[],
  options: ChildOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string; interrupted: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const watch = () => {
      const at = options.interrupt;
      if (at && !interrupted && (stderr.includes(at.when) || stdout.includes(at.when))) {
        interrupted = true;
        setTimeout(() => {
          if (options.hangUp) {
            child.stdout.destroy();
            child.stderr.destroy();
          }
          child.kill(at.signal ?? 'SIGINT');
        }, at.afterMs);
      }
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      watch();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      watch();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, interrupted });
    });
  });
}

/** `start`, with the summary the last stdout line holds. */
async function runOnce(
  args: string[],
  cwd?: string,
): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  const { code, stdout, stderr } = await start(args, cwd);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return { code, summary: JSON.parse(last) as Summary, stderr };
  } catch {
    throw new Error(`last stdout line is not JSON: ${last}\nstderr:\n${stderr}`);
  }
}

async function readTable(stateDir: string) {
  const cloud = await startLocalCloud({ stateDir, template: await realTemplate(), countState: false });
  try {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await cloud.clients.documents.send(
        new ScanCommand({ TableName: cloud.env.MARKET_TABLE_NAME, ExclusiveStartKey: startKey }),
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items.sort((a, b) => `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`));
  } finally {
    await cloud.stop();
  }
}

describe('npm start -- --replay <file> --once (the local pipeline end to end)', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tickstream-e2e-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('processes a bundled real day with exact counts, and a second replay changes nothing', async () => {
    const bars = aaplSampleBars();
    expect(bars).toHaveLength(389);
    // What the domain detects on the same bars, applied directly: the pipeline must deliver exactly
    // these alerts, no more, no fewer.
    const domain = new SymbolAnalytics('AAPL');
    const expectedAlerts = bars.reduce((n, b) => n + (domain.applyBar(b).row?.anomalies.length ?? 0), 0);
    expect(expectedAlerts).toBeGreaterThan(0);

    const stateDir = tempDir();
    const first = await runOnce(['--state-dir', stateDir, '--replay', SAMPLE]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.summary, first.stderr).toMatchObject({
      ticksIn: 389,
      recordsPut: 389,
      processed: 389,
      rejected: 0,
      dlq: 0,
      dynamodbMetricRows: 389,
      alertsPublished: expectedAlerts,
      interrupted: false,
    });
    // Batched objects: never one per record.
    expect(first.summary.lakeObjects).toBeGreaterThan(0);
    expect(first.summary.lakeObjects).toBeLessThan(389 / 5);

    const table = await readTable(stateDir);
    const barRows = table.filter((i) => String(i.sk).startsWith('BAR#'));
    expect(barRows.map((r) => (r.values as { close: number }).close)).toEqual(bars.map((b) => b.close));

    // The day the run wrote, compacted at its end: each bar once in the Parquet zone.
    expect(first.summary.compactedDays).toEqual(['2024-10-02']);
    expect(first.summary.compactedEvents).toBe(389);
    // Each function's logs carry its own memory size from the template (dev: 1024 and 2048 MB).
    // The log holds Powertools' records pretty-printed (its dev mode), one JSON object per block.
    const logged = (
      readFileSync(join(stateDir, 'logs', 'functions.log'), 'utf8').match(/^\{\n[\s\S]*?^\}$/gm) ?? []
    ).map((block) => JSON.parse(block) as { service?: string; function_memory_size?: string });
    const memoryOf = (service: string) =>
      new Set(logged.filter((l) => l.service === service).map((l) => l.function_memory_size));
    expect(memoryOf('tickstream-processor')).toEqual(new Set(['1024']));
    expect(memoryOf('tickstream-compaction')).toEqual(new Set(['2048']));
    const lake = await LocalLake.open({ s3Dir: join(stateDir, 's3'), stage: 'dev' });
    try {
      const compacted = await lake.query("SELECT event.close FROM compacted_events WHERE dt = '2024-10-02'");
      expect(compacted.map((r) => r.close)).toEqual(bars.map((b) => b.close));
    } finally {
      lake.close();
    }

    // The same file again: new records on the stream, the same events — nothing changes twice.
    const second = await runOnce(['--state-dir', stateDir, '--replay', SAMPLE]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.summary, second.stderr).toMatchObject({
      ticksIn: 389,
      recordsPut: 389,
      processed: 389,
      dynamodbMetricRows: 389,
      alertsPublished: 0,
      lakeObjects: 0,
      compactedDays: [],
      compactedEvents: 0,
    });
    expect(await readTable(stateDir)).toEqual(table);
  });

  it('a file of ticks replayed a second time leaves the same table and publishes no alert', async () => {
    // Quotes made from the bundled day's first 40 bars: the open at :02 (inside the previous bar's
    // grace), the high at :20, the close at :50, with a growing day volume.
    const ticks = aaplSampleBars()
      .slice(0, 40)
      .flatMap((b, k) =>
        [
          [2_000, b.open],
          [20_000, b.high],
          [50_000, b.close],
        ].map(
          ([at, price], j) =>
            `AAPL,${new Date(b.start + at!).toISOString()},${price},${(3 * k + j + 1) * 1_000}`,
        ),
      );
    const file = join(tempDir(), 'ticks.csv');
    writeFileSync(file, `symbol,timestamp,price,volume\n${ticks.join('\n')}\n`);
    const stateDir = tempDir();
    const first = await runOnce(['--state-dir', stateDir, '--replay', file]);
    expect(first.code, first.stderr).toBe(0);
    // 120 quote rows, and a row for each bar the quotes closed (the last minute's is still open).
    expect(first.summary, first.stderr).toMatchObject({
      ticksIn: 120,
      processed: 120,
      rejected: 0,
      dynamodbMetricRows: 159,
    });
    // Every item but the symbol's state, which records the records it applied (their sequence
    // numbers); and without the rows' expiry, which a row written again restarts (2024's rows
    // expire a TTL after they are written).
    const data = async () =>
      (await readTable(stateDir)).filter((i) => i.sk !== 'STATE').map(({ expiresAt: _, ...item }) => item);
    const table = await data();
    expect(table.filter((i) => String(i.sk).startsWith('TICK#'))).toHaveLength(120);
    const second = await runOnce(['--state-dir', stateDir, '--replay', file]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.summary, second.stderr).toMatchObject({
      ticksIn: 120,
      processed: 120,
      dynamodbMetricRows: 159,
      alertsPublished: 0,
    });
    // The ticks inside the reorder window (the last minute's) were folded in again: same rows.
    expect(await data()).toEqual(table);
    // The raw zone is at-least-once: those ticks' lines were written again, and the compaction
    // keeps each (symbol, kind, time) once.
    expect(second.summary.compactedEvents).toBe(first.summary.compactedEvents);
  });

  it('reports rows the feed rejects and goes on with the rest', async () => {
    const dir = tempDir();
    const file = join(dir, 'bars.csv');
    const rows = readFileSync(SAMPLE, 'utf8').trim().split('\n').slice(0, 11);
    // Row 6: high below low — rejected with its reason, the other nine go through.
    const bad = rows[6]!.split(',');
    [bad[4], bad[5]] = ['1.00', '2.00'];
    rows[6] = bad.join(',');
    writeFileSync(file, `${rows.join('\n')}\n`);
    const run = await runOnce(['--ephemeral', '--replay', file]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary, run.stderr).toMatchObject({
      ticksIn: 9,
      recordsPut: 9,
      processed: 9,
      rejected: 1,
      dynamodbMetricRows: 9,
    });
    expect(run.stderr).toMatch(/high/);
  });

  it("counts every dead letter of the run, none of an earlier run's, and leaves them all in the queue", async () => {
    // SPY bars claiming the regular session on a Saturday: the processor rejects each to the DLQ.
    const saturdayBars = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({
          v: 1,
          kind: 'bar',
          data: {
            symbol: 'SPY',
            start: Date.parse('2024-11-02T14:00:00Z') + (from + i) * 60_000,
            interval: '1m',
            open: 570,
            high: 571,
            low: 569,
            close: 570.5,
            volume: 1000,
            session: 'regular',
            source: 'replay',
          },
        }),
      ).join('\n');
    const stateDir = tempDir();
    const file = join(stateDir, 'saturday.ndjson');
    writeFileSync(file, saturdayBars(0, 25));
    const first = await runOnce(['--state-dir', stateDir, '--replay', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.summary, first.stderr).toMatchObject({ ticksIn: 25, processed: 25, rejected: 25, dlq: 25 });

    writeFileSync(file, saturdayBars(25, 3));
    const second = await runOnce(['--state-dir', stateDir, '--replay', file]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.summary, second.stderr).toMatchObject({ ticksIn: 3, processed: 3, rejected: 3, dlq: 3 });

    // Counting consumed nothing: every message is there, visible, never received.
    const cloud = await startLocalCloud({ stateDir, template: await realTemplate(), countState: false });
    try {
      const seen = new Set<string>();
      for (let got = 1; got > 0; ) {
        const out = await cloud.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: cloud.env.DEAD_LETTER_QUEUE_URL,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 60,
            AttributeNames: ['All'],
          }),
        );
        got = out.Messages?.length ?? 0;
        for (const m of out.Messages ?? []) {
          seen.add(m.MessageId!);
          expect(m.Attributes?.ApproximateReceiveCount).toBe('1');
        }
      }
      expect(seen.size).toBe(28);
    } finally {
      await cloud.stop();
    }
  });

  it('--symbol S of a file that names several symbols processes S alone; a file without S exits 1', async () => {
    // The first ten rows of the bundled day, once as AAPL's and once as MSFT's.
    const rows = readFileSync(SAMPLE, 'utf8').trim().split('\n');
    const file = join(tempDir(), 'two.csv');
    const ten = rows.slice(1, 11);
    writeFileSync(file, `${[rows[0], ...ten, ...ten.map((r) => r.replace(/^AAPL,/, 'MSFT,'))].join('\n')}\n`);
    const run = await runOnce(['--ephemeral', '--replay', file, '--symbol', 'MSFT']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary, run.stderr).toMatchObject({
      ticksIn: 10,
      recordsPut: 10,
      processed: 10,
      rejected: 0,
      dynamodbMetricRows: 10,
      symbols: ['MSFT'],
    });
    const none = await start(['--ephemeral', '--replay', SAMPLE, '--symbol', 'MSFT', '--once']);
    expect(none.code, none.stderr).toBe(1);
    expect(none.stderr).toMatch(
      /no event could be read from .*: no row of MSFT in .*aapl-2024-10-02\.csv \(it has AAPL\)$/m,
    );
    // A row naming no symbol is rejected too; the missing symbol is still what is said first.
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')},2024-10-02T09:50:00-04:00,2024-10-02T13:50:00Z,1,2,1,1.5,10\n`,
    );
    const nvda = await start(['--ephemeral', '--replay', file, '--symbol', 'NVDA', '--once']);
    expect(nvda.code, nvda.stderr).toBe(1);
    expect(nvda.stderr).toMatch(
      /: no row of NVDA in .*two\.csv \(it has AAPL, MSFT\); 1 other row\(s\) rejected, first: line 22: symbol: /,
    );
  });

  it('runs from any current directory (the handler is found under the project, not the cwd)', async () => {
    const elsewhere = tempDir();
    const file = join(elsewhere, 'bars.csv');
    writeFileSync(file, `${readFileSync(SAMPLE, 'utf8').trim().split('\n').slice(0, 6).join('\n')}\n`);
    const run = await runOnce(['--ephemeral', '--replay', 'bars.csv'], elsewhere);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary, run.stderr).toMatchObject({
      ticksIn: 5,
      recordsPut: 5,
      processed: 5,
      dynamodbMetricRows: 5,
    });
  });

  it('exits 1 naming the first reasons when every row of the file is rejected (a CSV read as NDJSON)', async () => {
    const run = await start(['--ephemeral', '--replay', SAMPLE, '--format', 'ndjson']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /npm start: no event could be read from replay:.*aapl-2024-10-02\.csv: all 390 rows were rejected \(check --format\); first: line 1: /,
    );
    expect(run.stdout).not.toMatch(/"ticksIn"/);
  });

  it('without --once too, a file with no row of --symbol exits 1 saying so, not staying up for Ctrl-C', async () => {
    // Ctrl-C only if the run waits for it (a run that had nothing to serve stayed up, exit 1 only after it).
    const run = await runChild(
      process.execPath,
      [START, '--ephemeral', '--replay', SAMPLE, '--symbol', 'MSFT'],
      {
        interrupt: { when: 'stays up until Ctrl-C', afterMs: 0 },
      },
    );
    expect(run.interrupted, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /no event could be read from .*: no row of MSFT in .*aapl-2024-10-02\.csv \(it has AAPL\)$/m,
    );
  });

  it('replays a pipe whose format it detects from the head it reads (--replay <(cat file))', async () => {
    // bash's process substitution hands start.ts a pipe (/dev/fd/N): it cannot be read twice.
    const { code, stdout, stderr } = await runChild('bash', [
      '-c',
      'exec "$0" "$1" --ephemeral --replay <(cat "$2") --once',
      process.execPath,
      START,
      SAMPLE,
    ]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({
      ticksIn: 389,
      processed: 389,
      dynamodbMetricRows: 389,
    });
  });

  for (const mode of [['--replay', SAMPLE, '--once'], ['--cloud-only']]) {
    it(`Ctrl-C during the start-up (${mode.join(' ')}) stops cleanly, exits 130 and removes the ephemeral directory`, async () => {
      const tmp = tempDir();
      const run = await runChild(process.execPath, [START, '--ephemeral', ...mode], {
        env: { TMPDIR: tmp },
        // The emulators run and the ephemeral directory exists; the resources are not made yet.
        interrupt: { when: 'sns: topic', afterMs: 0 },
      });
      expect(run.interrupted).toBe(true);
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain('interrupted during start-up; stopped cleanly');
      // Nothing ran: no summary, nothing at all on stdout.
      expect(run.stdout).toBe('');
      expect(readdirSync(tmp).filter((f) => f.startsWith('tickstream-local-'))).toEqual([]);
    });
  }

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    it(`${signal} during a --once run: the summary says interrupted, and the exit code is ${code} (128 + the signal)`, async () => {
      // At real-time speed the day takes hours (a minute per bar): the run is surely mid-feed when
      // the signal comes. The signal waits for the progress line that shows the first bar in, not
      // for a time after the boot: between "local cloud ready" and the first bar the run starts the
      // processor's environment and drains the alerts inbox, over 500 ms on a loaded machine, and
      // a signal before the first bar left ticksIn 0. (A first progress line of 0 events is
      // followed by the next, 5 s on, once the bar is in.)
      const run = await runChild(
        process.execPath,
        [START, '--ephemeral', '--replay', SAMPLE, '--speed', '1', '--once'],
        { interrupt: { when: 'progress: 1 events in', afterMs: 0, signal } },
      );
      expect(run.code, run.stderr).toBe(code);
      const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Summary;
      expect(summary.interrupted).toBe(true);
      expect(summary.ticksIn, run.stderr).toBeGreaterThan(0);
      expect(summary.ticksIn).toBeLessThan(389);
      expect(run.stderr).toContain(
        'interrupted: the summary covers what was read and processed before the stop',
      );
    });

  // With --once a stop short of the end is reported by the exit code (128 + SIGHUP); without it a
  // signal is how a run ends, exit 0.
  for (const [mode, code] of [
    [['--replay', SAMPLE, '--speed', '1', '--once'], 129],
    [['--replay', SAMPLE, '--speed', '1'], 0],
    [['--cloud-only'], 0],
  ] as const)
    it(`the terminal closed (SIGHUP, then every write fails) during ${mode.join(' ')}: the clean stop still runs, exit ${code}`, async () => {
      const stateDir = tempDir();
      const run = await runChild(process.execPath, [START, '--state-dir', stateDir, ...mode], {
        interrupt: { when: 'ready in ', afterMs: 500, signal: 'SIGHUP' },
        hangUp: true,
      });
      // The exit code and the stop recorded in the state directory: nothing else can be seen any more.
      expect(run.code).toBe(code);
      const cloud = JSON.parse(readFileSync(join(stateDir, 'local-cloud.json'), 'utf8')) as {
        startedAt: string;
        stoppedAt?: string;
      };
      expect(cloud.stoppedAt, 'the local cloud recorded its clean stop').toBeDefined();
      expect(Date.parse(cloud.stoppedAt!)).toBeGreaterThanOrEqual(Date.parse(cloud.startedAt));
    });
});
