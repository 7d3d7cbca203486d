/**
 * Command-line usage errors of `npm start`, `npm run replay` and `npm run backfill`, through the
 * real scripts: a contradictory or empty request exits 2 with its reason instead of running (or
 * doing nothing).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'cli-usage-'));
const scratchFile = (name: string, text: string) => {
  const f = join(scratch, name);
  writeFileSync(f, text);
  return f;
};
const EMPTY = scratchFile('empty.csv', '');
const UNKNOWN = scratchFile('notes.txt', 'hello world\n');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const run = (script: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', env, timeout: 60_000 });

describe('command-line usage errors', () => {
  it('npm start refuses --state-dir together with --ephemeral (one of them would be ignored)', () => {
    const r = run('scripts/start.ts', ['--ephemeral', '--state-dir', 'unused-state-dir', '--once']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--state-dir and --ephemeral are exclusive');
  });

  for (const [args, reason] of [
    [['--replay', 'no/such/file.csv', '--once'], /--replay: .*no\/such\/file\.csv is not a file/],
    [['--replay', 'data/samples', '--once'], /--replay: .*data\/samples is not a file/],
    [['--symbol', 'AAPL', '--once'], /--symbol applies to --replay only/],
    [['--synthetic', 'AAA', '--format', 'yahoo-chart', '--once'], /--format applies to --replay only/],
    [
      ['--cloud-only', '--synthetic', 'AAA', '--once'],
      /--cloud-only runs no feed: --synthetic would be ignored/,
    ],
    [['--json', '--once'], /--json applies to --cloud-only/],
    [['--synthetic', ',', '--once'], /--synthetic needs at least one symbol/],
    [['--synthetic', 'AAA,BBB', '--once'], /--synthetic is endless: --once would never end/],
    [['--stage', 'pr-1', '--once'], /--stage "pr-1" must be lower-case letters and digits/],
    // An empty state directory would be the project itself (--stage pr-1 would be refused later).
    [['--state-dir=', '--stage', 'pr-1', '--once'], /--state-dir needs a directory, got an empty one/],
    [['--state-dir', '', '--stage', 'pr-1', '--once'], /--state-dir needs a directory, got an empty one/],
    // An on/off flag given a value: refused, not taken as on (--stage pr-1 would be refused later).
    [['--once=false', '--stage', 'pr-1'], /--once is an on\/off flag and takes no value, got "--once=false"/],
    [
      ['--ephemeral=no', '--once', '--stage', 'pr-1'],
      /--ephemeral is an on\/off flag and takes no value, got "--ephemeral=no"/,
    ],
    [
      ['--cloud-only=0', '--json=false', '--once', '--stage', 'pr-1'],
      /--cloud-only is an on\/off flag and takes no value, got "--cloud-only=0"/,
    ],
    [['--replay', EMPTY, '--once'], /--replay .*empty\.csv: .*empty\.csv is empty/],
    [
      ['--replay', UNKNOWN, '--once'],
      /cannot detect the replay format from the first line "hello world"; pass --format/,
    ],
    [
      ['--replay', 'data/samples/spy-2011-01-ninjatrader.csv', '--once'],
      /--replay .*spy-2011-01-ninjatrader\.csv \(ninjatrader\) names no symbol: pass --symbol/,
    ],
    [
      ['--replay', 'data/samples/sp500-2019-11-05-to-08.csv', '--once'],
      /--replay .*sp500-2019-11-05-to-08\.csv \(mdy-ny\) names no symbol: pass --symbol/,
    ],
    [
      ['--replay', 'data/samples/yahoo-chart-AAPL-2024-10-02-1m.json', '--symbol', 'MSFT', '--once'],
      /--symbol MSFT: .*yahoo-chart-AAPL-2024-10-02-1m\.json \(yahoo-chart\) holds AAPL's bars only/,
    ],
  ] as const) {
    it(`npm start ${args.join(' ')}: refused before anything boots`, () => {
      const r = run('scripts/start.ts', [...args, '--ephemeral']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(/ready in \d+ ms/);
      expect(r.stdout).toBe('');
    });
  }

  it("npm start --help says how --once ends: the summary's interrupted, a Ctrl-C start-up with none, exit 1 for a file of rejected rows", () => {
    const r = run('scripts/start.ts', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const once = r.stderr
      .slice(r.stderr.indexOf('  --once'), r.stderr.indexOf('  --cloud-only'))
      .replace(/\s+/g, ' ');
    expect(once).toContain(
      'Ctrl-C that cuts the feed short or leaves the stream undrained: "interrupted": true in it, exit 130',
    );
    expect(once).toContain('after the last event was read and drained in time: a complete run, exit 0');
    expect(once).toContain('Ctrl-C during the start-up: exit 130, no summary');
    expect(once).toContain('every row of the replay file rejected: exit 1');
  });

  it('npm run query --help names the three tables the README documents', () => {
    const r = run('scripts/query.ts', ['--help']);
    expect(r.status).toBe(0);
    for (const table of ['events', 'raw_events', 'compacted_events'])
      expect(r.stderr).toContain(`tickstream_<stage>.${table} `);
  });

  it('dead-letters names the setting it lacks, and refuses a --max that is not a count or beyond SQS’s in-flight limit', () => {
    const r = run('scripts/dead-letters.ts', [], {
      ...process.env,
      DEAD_LETTER_QUEUE_URL: '',
      MARKET_TABLE_NAME: '',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('DEAD_LETTER_QUEUE_URL is not set');
    for (const bad of ['0', '0x10', '1e3', '2.0']) {
      const m = run('scripts/dead-letters.ts', ['--max', bad]);
      expect(m.status, bad).toBe(2);
      expect(m.stderr).toContain(`--max must be a positive whole number (like 100), got "${bad}"`);
      expect(m.stdout).toBe('');
    }
    // SQS keeps at most 120,000 of a queue's messages in flight: a receive beyond is refused.
    const over = run('scripts/dead-letters.ts', ['--max', '120001']);
    expect(over.status).toBe(2);
    expect(over.stderr).toContain('--max must be at most 120000');
    expect(over.stdout).toBe('');
  });

  it('replay --dry-run whose reader goes away (| head) ends quietly, exit 0, no stack trace', async () => {
    const child = spawn(
      process.execPath,
      ['scripts/replay.ts', '--file', 'data/samples/aapl-2024-10-02.csv', '--dry-run'],
      {
        cwd: root,
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // The first line read, the reader closes the pipe: the next writes fail with EPIPE.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
  });

  it('replay refuses a --tz the runtime does not know, instead of ignoring it', () => {
    const r = run('scripts/replay.ts', [
      '--file',
      'data/samples/aapl-2024-10-02.csv',
      '--tz',
      'Mars/Olympus_Mons',
      '--dry-run',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--tz: unknown time zone: Mars/Olympus_Mons');
    expect(r.stdout).toBe('');
  });

  it('replay refuses --tz for a file whose times are instants (NDJSON, Yahoo chart), instead of ignoring it', () => {
    for (const [file, format] of [
      ['test/fixtures/replay/dst-2024-11-03.ndjson', 'ndjson'],
      ['data/samples/yahoo-chart-AAPL-2024-10-02-1m.json', 'yahoo-chart'],
    ]) {
      const r = run('scripts/replay.ts', ['--file', file!, '--tz', 'America/Chicago', '--dry-run']);
      expect(r.status, file).toBe(2);
      expect(r.stderr).toContain(`--tz: ${file} (${format}) has no local times`);
      expect(r.stdout).toBe('');
    }
  });

  it('replay takes --limit as a positive whole decimal number, refusing what Number() would read (0x10, 1e3)', () => {
    for (const limit of ['0x10', '1e3', '2.0', '0']) {
      const r = run('scripts/replay.ts', [
        '--file',
        'data/samples/aapl-2024-10-02.csv',
        '--limit',
        limit,
        '--dry-run',
      ]);
      expect([limit, r.status]).toEqual([limit, 2]);
      expect(r.stderr).toContain(`--limit must be a positive whole number (like 100), got "${limit}"`);
      expect(r.stdout).toBe('');
    }
    const ok = run('scripts/replay.ts', [
      '--file',
      'data/samples/aapl-2024-10-02.csv',
      '--limit',
      '3',
      '--dry-run',
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(3);
  });

  it("replay takes --symbol for files that name no symbol, and not another than a chart's, before sending anything", () => {
    for (const [args, message] of [
      [
        ['--file', 'data/samples/yahoo-chart-AAPL-2024-10-02-1m.json', '--symbol', 'MSFT'],
        /\(yahoo-chart\) holds AAPL's bars only/,
      ],
      [
        ['--file', 'data/samples/spy-2011-01-ninjatrader.csv'],
        /\(ninjatrader\) names no symbol: pass --symbol/,
      ],
    ] as const) {
      const r = run('scripts/replay.ts', [...args, '--dry-run']);
      expect([args, r.status]).toEqual([args, 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('replay --symbol S of a file that names several replays S alone; a file without S exits 1 saying what it has', () => {
    const ok = run('scripts/replay.ts', [
      '--file',
      'test/fixtures/replay/dst-2024-11-03.ndjson',
      '--symbol',
      'SPY',
      '--dry-run',
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    const symbols = ok.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { data: { symbol: string } }).data.symbol);
    expect(symbols.length).toBeGreaterThan(0);
    expect(new Set(symbols)).toEqual(new Set(['SPY']));
    const none = run('scripts/replay.ts', [
      '--file',
      'data/samples/aapl-2024-10-02.csv',
      '--symbol',
      'MSFT',
      '--dry-run',
    ]);
    expect(none.status).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no row of MSFT in .*aapl-2024-10-02\.csv \(it has AAPL\)/);
  });

  it('backfill refuses a range wholly older than the 1-minute bars Yahoo keeps, instead of fetching nothing', () => {
    const r = run('scripts/backfill.ts', [
      '--symbols',
      'AAPL',
      '--from',
      '2024-10-01',
      '--to',
      '2024-10-03',
      '--dry-run',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--to \(2024-10-03T00:00:00.000Z\) is older than the 1-minute bars Yahoo keeps .*: nothing to fetch/,
    );
    expect(r.stdout).toBe('');
  });

  it('backfill refuses a --concurrency that is not 1 to 64 symbols at a time', () => {
    for (const [n, message] of [
      ['0', /--concurrency must be a positive whole number \(like 100\), got "0"/],
      ['65', /--concurrency must be at most 64, got 65/],
    ] as const) {
      const r = run('scripts/backfill.ts', ['--symbols', 'AAPL', '--concurrency', n, '--dry-run']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });
});
