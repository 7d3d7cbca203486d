/** `npm start`'s arguments: where a run keeps its state. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE_DIR } from '../../../scripts/local/state-dir.ts';
import {
  checkReplay,
  feedsFor,
  parseStartArgs,
  repeatedSignals,
  UsageError,
} from '../../../scripts/start.ts';
import type { ReplaySource } from '../../../src/adapters/replay/replay-source.ts';
import { eventTime } from '../../../src/domain/market/index.ts';

describe('npm start: the state directory', () => {
  it('keeps state in .local/ by default, or in the directory named', () => {
    expect(parseStartArgs([], {}).stateDir).toBe(DEFAULT_STATE_DIR);
    expect(parseStartArgs(['--state-dir', '/tmp/x'], {}).stateDir).toBe(resolve('/tmp/x'));
    expect(parseStartArgs([], { TICKSTREAM_STATE_DIR: '/tmp/y' }).stateDir).toBe(resolve('/tmp/y'));
    expect(parseStartArgs(['--ephemeral'], {}).stateDir).toBeUndefined();
  });

  it('runs the synthetic market ephemeral unless a directory is named: its seeded days never mix into kept real ones', () => {
    expect(parseStartArgs(['--synthetic', 'AAPL,MSFT'], {}).stateDir).toBeUndefined();
    expect(parseStartArgs(['--synthetic', 'AAPL', '--state-dir', '/tmp/x'], {}).stateDir).toBe(
      resolve('/tmp/x'),
    );
    expect(parseStartArgs(['--synthetic', 'AAPL'], { TICKSTREAM_STATE_DIR: '/tmp/y' }).stateDir).toBe(
      resolve('/tmp/y'),
    );
    // Replayed files are real data: they go to the kept state as before.
    expect(parseStartArgs(['--replay', 'package.json', '--format', 'ndjson'], {}).stateDir).toBe(
      DEFAULT_STATE_DIR,
    );
  });
});

describe('npm start: TICKSTREAM_START_ONCE', () => {
  it('reads it as the functions read an on/off setting: true or 1 on; false, 0, empty or unset off', () => {
    for (const on of ['true', '1']) expect(parseStartArgs([], { TICKSTREAM_START_ONCE: on }).once).toBe(true);
    for (const off of ['false', '0', '', undefined])
      expect(parseStartArgs([], { TICKSTREAM_START_ONCE: off }).once).toBe(false);
    expect(parseStartArgs(['--once'], { TICKSTREAM_START_ONCE: '0' }).once).toBe(true);
  });

  it('refuses any other value rather than run endlessly where a process manager asked for one run', () => {
    for (const bad of ['yes', 'TRUE', 'on', ' 1'])
      expect(() => parseStartArgs([], { TICKSTREAM_START_ONCE: bad })).toThrow(
        new UsageError(`TICKSTREAM_START_ONCE must be true or false (or 1 or 0), got "${bad}"`),
      );
  });
});

describe('npm start --replay … --tz', () => {
  const mdy = resolve('data/samples/sp500-2019-11-05-to-08.csv');
  const firstTime = async (argv: string[]) => {
    const [source] = feedsFor(parseStartArgs(argv, {}));
    for await (const e of source!.events()) return eventTime(e);
    throw new Error('no event');
  };

  it("reads the file's zone-less times in the zone given (the M/D/YYYY default is New York)", async () => {
    const newYork = await firstTime(['--replay', mdy, '--symbol', '^GSPC']);
    const chicago = await firstTime(['--replay', mdy, '--symbol', '^GSPC', '--tz', 'America/Chicago']);
    expect(new Date(newYork).toISOString()).toBe('2019-11-05T14:30:00.000Z');
    expect(chicago - newYork).toBe(3_600_000);
  });

  it('refuses a zone it does not know, --tz without --replay, and --tz for a file of instants', async () => {
    expect(() => parseStartArgs(['--replay', mdy, '--tz', 'Mars/Olympus'], {})).toThrow(
      /--tz: .*Mars\/Olympus/,
    );
    expect(() => parseStartArgs(['--tz', 'UTC'], {})).toThrow(/--tz applies to --replay only/);
    const chart = resolve('data/samples/yahoo-chart-AAPL-2024-10-02-1m.json');
    const args = parseStartArgs(['--replay', chart, '--tz', 'UTC'], {});
    await expect(checkReplay(args, feedsFor(args)[0] as ReplaySource)).rejects.toThrow(UsageError);
    await expect(checkReplay(args, feedsFor(args)[0] as ReplaySource)).rejects.toThrow(/has no local times/);
  });
});

describe('npm start --synthetic … --speed N', () => {
  /** Simulated seconds the market's clock advances per second of wall time, over about a second. */
  const clockRate = async (argv: string[]) => {
    const [source] = feedsFor(parseStartArgs(argv, {}));
    const abort = new AbortController();
    const stop = setTimeout(() => abort.abort(), 1_000);
    const started = performance.now();
    let first: number | undefined;
    let last = 0;
    for await (const e of source!.events(abort.signal)) {
      first ??= eventTime(e);
      last = eventTime(e);
    }
    clearTimeout(stop);
    return (last - first!) / (performance.now() - started);
  };

  it('runs the market N times real time, whatever the number of symbols (a tick per symbol per second)', async () => {
    // 10× real time: ten simulated seconds per second, for two symbols as for one.
    for (const symbols of ['AAPL', 'AAPL,MSFT,SPY,NVDA']) {
      const rate = await clockRate(['--synthetic', symbols, '--speed', '10']);
      expect(rate).toBeGreaterThan(6);
      expect(rate).toBeLessThan(12);
    }
  });
});

describe('npm start: a signal repeated during the stop', () => {
  function harness() {
    let now = 0;
    const lines: string[] = [];
    const quits: [number, string][] = [];
    const signal = repeatedSignals({
      doing: () => 'draining',
      left: 'the next start recovers .local',
      write: (line) => lines.push(line),
      quit: (code, why) => quits.push([code, why]),
      clock: () => now,
    });
    const at = (ms: number) => {
      now = ms;
    };
    return { signal, lines, quits, at };
  }

  it("ignores npm's forwarded copy, warns at a deliberate repeat, and quits at once at the next", () => {
    const h = harness();
    h.signal('SIGINT'); // the first: the clean stop starts (the caller's business)
    h.at(200);
    h.signal('SIGINT'); // npm's forwarded copy of the same Ctrl-C
    expect(h.lines).toEqual([]);
    h.at(1_500);
    h.signal('SIGINT');
    expect(h.lines).toEqual([
      'SIGINT again: still draining; Ctrl-C once more quits at once, without the clean stop',
    ]);
    expect(h.quits).toEqual([]);
    h.at(3_000);
    h.signal('SIGINT');
    expect(h.quits).toEqual([[130, 'SIGINT again: quit at once; the next start recovers .local']]);
  });

  it('quits with 128 + the signal that forced it', () => {
    const h = harness();
    h.signal('SIGINT');
    h.at(2_000);
    h.signal('SIGTERM');
    h.at(2_100);
    h.signal('SIGTERM');
    expect(h.lines[0]).toMatch(/^SIGTERM again: still draining; SIGTERM once more quits at once/);
    expect(h.quits.map(([code]) => code)).toEqual([143]);
  });
});
