/**
 * `npm start`: the whole pipeline locally. Boots the local cloud (in-process emulators with the
 * synthesized template's resources), runs the template's stream processor on a local event source
 * mapping, and feeds the bundled real market data (or a given file, or a synthetic market) through
 * the producer into the stream, with a live terminal view; Ctrl-C drains and stops cleanly (state
 * kept under .local/).
 *
 *   node scripts/start.ts [--replay FILE [--format F] [--symbol S] [--tz ZONE]] [--speed max|N] [--synthetic SYMS]
 *                         [--once] [--cloud-only] [--stage dev] [--state-dir .local | --ephemeral] [--json]
 *
 * --once: process the whole feed, exit 0, and print one JSON summary as the LAST stdout line
 *         (Ctrl-C that cuts the feed short or leaves the stream undrained: the summary says
 *         "interrupted": true, and the exit code is 130 (SIGTERM 143, SIGHUP 129); a Ctrl-C after the last event was read,
 *         the stream drained in time, ends a complete run: exit 0; Ctrl-C during the start-up:
 *         exit 130 and no summary; every row of the replayed file rejected: exit 1 and no summary).
 * --cloud-only: boot the local cloud only, print what it created (with --once: and exit).
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPLAY_FORMATS, type ReplayFormat } from '../src/adapters/replay/formats.ts';
import {
  BUNDLED_SAMPLES,
  parseSpeed,
  type ReplayInspection,
  ReplaySource,
  type ReplaySpeed,
  symbolFlagProblem,
  timeZoneFlagProblem,
} from '../src/adapters/replay/replay-source.ts';
import { SyntheticMarket } from '../src/adapters/synthetic/synthetic-source.ts';
import { envFlag } from '../src/config/env-flag.ts';
import { assertTimeZone } from '../src/domain/calendar/zone.ts';
import { SymbolSchema } from '../src/domain/market/index.ts';
import { interruptedBy, signalRepeats } from '../src/pipeline/ingest/cli.ts';
import { issueCount, type MarketSource, type SourceIssue } from '../src/ports/market-source.ts';
import type { LocalCloud } from './local/local-cloud.ts';
import { startLocalCloud } from './local/local-cloud.ts';
import { DEFAULT_STATE_DIR } from './local/state-dir.ts';
import { describeLocalCloud } from './local/summary.ts';
import { runPipeline } from './pipeline/run.ts';
import { STAGE_NAME } from './template/synthesize.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface StartArgs {
  stage: string;
  /** undefined = ephemeral. */
  stateDir: string | undefined;
  once: boolean;
  json: boolean;
  cloudOnly: boolean;
  replay: string | undefined;
  format: ReplayFormat | 'auto';
  symbol: string | undefined;
  /** Zone of the replay file's zone-less times (undefined: the format's default). */
  tz: string | undefined;
  speed: ReplaySpeed;
  synthetic: string[] | undefined;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The flags that turn something on: given, they are on; they take no value. */
const ON_OFF_FLAGS = new Set(['--ephemeral', '--once', '--json', '--cloud-only', '--help']);

/**
 * TICKSTREAM_START_ONCE, read as every function reads an on/off setting (`envFlag`): `true` or `1`
 * is --once; `false`, `0`, empty or unset is not. Any other value (`yes`, `TRUE`) is refused, as
 * `--once=false` is: read as off, it would leave a process manager that asked for one run with a
 * run that never ends.
 */
function startOnceFromEnv(value: string | undefined): boolean {
  const flag = envFlag('TICKSTREAM_START_ONCE').safeParse(value);
  if (!flag.success)
    throw new UsageError(`TICKSTREAM_START_ONCE must be true or false (or 1 or 0), got "${value}"`);
  return flag.data;
}

export function parseStartArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartArgs {
  const args: StartArgs = {
    stage: env.TICKSTREAM_STAGE || 'dev',
    stateDir: env.TICKSTREAM_STATE_DIR ? resolve(env.TICKSTREAM_STATE_DIR) : DEFAULT_STATE_DIR,
    once: startOnceFromEnv(env.TICKSTREAM_START_ONCE),
    json: false,
    cloudOnly: false,
    replay: undefined,
    format: 'auto',
    symbol: undefined,
    tz: undefined,
    speed: 'max',
    synthetic: undefined,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = () => inline ?? value(i++, flag);
    given.add(flag);
    // `--once=false` would otherwise turn --once on: the value is refused, not ignored.
    if (inline !== undefined && ON_OFF_FLAGS.has(flag))
      throw new UsageError(`${flag} is an on/off flag and takes no value, got "${a}"`);
    switch (flag) {
      case '--stage':
        args.stage = take();
        break;
      case '--state-dir': {
        // An empty path would resolve to the current directory: the project itself.
        const dir = take();
        if (dir === '') throw new UsageError('--state-dir needs a directory, got an empty one');
        args.stateDir = resolve(dir);
        break;
      }
      case '--ephemeral':
        args.stateDir = undefined;
        break;
      case '--once':
        args.once = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--cloud-only':
        args.cloudOnly = true;
        break;
      case '--replay':
        args.replay = resolve(take());
        break;
      case '--format': {
        const f = take();
        if (f !== 'auto' && !(REPLAY_FORMATS as readonly string[]).includes(f))
          throw new UsageError(`--format must be auto or one of ${REPLAY_FORMATS.join(', ')}, got "${f}"`);
        args.format = f as ReplayFormat | 'auto';
        break;
      }
      case '--symbol': {
        const sym = SymbolSchema.safeParse(take().toUpperCase());
        if (!sym.success) throw new UsageError(`--symbol: ${sym.error.issues[0]?.message}`);
        args.symbol = sym.data;
        break;
      }
      case '--tz': {
        const tz = take();
        try {
          assertTimeZone(tz);
        } catch (e) {
          throw new UsageError(`--tz: ${(e as Error).message}`);
        }
        args.tz = tz;
        break;
      }
      case '--speed':
        try {
          args.speed = parseSpeed(take());
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case '--synthetic': {
        const list = take()
          .split(',')
          .map((x) => x.trim().toUpperCase())
          .filter(Boolean);
        if (list.length === 0) throw new UsageError('--synthetic needs at least one symbol (like AAPL,MSFT)');
        for (const sym of list)
          if (!SymbolSchema.safeParse(sym).success) throw new UsageError(`--synthetic: bad symbol "${sym}"`);
        args.synthetic = list;
        break;
      }
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  if (args.replay && args.synthetic) throw new UsageError('--replay and --synthetic are exclusive');
  // A flag that would be ignored is refused: the run would not be the one asked for.
  for (const flag of ['--symbol', '--format', '--tz'])
    if (given.has(flag) && !args.replay) throw new UsageError(`${flag} applies to --replay only`);
  if (args.cloudOnly) {
    const feedFlags = ['--replay', '--synthetic', '--speed'].filter((f) => given.has(f));
    if (feedFlags.length > 0)
      throw new UsageError(`--cloud-only runs no feed: ${feedFlags.join(', ')} would be ignored`);
  } else if (args.json) {
    throw new UsageError('--json applies to --cloud-only (the pipeline prints its --once summary as JSON)');
  }
  if (args.synthetic && args.once && !args.cloudOnly)
    throw new UsageError(
      `--synthetic is endless: ${given.has('--once') ? '--once' : 'TICKSTREAM_START_ONCE'} would never end (Ctrl-C stops it)`,
    );
  // Before the local cloud boots, not after.
  const replay = args.replay ? statSync(args.replay, { throwIfNoEntry: false }) : undefined;
  if (args.replay && !(replay?.isFile() || replay?.isFIFO()))
    // a FIFO: --replay <(zcat day.csv.gz)
    throw new UsageError(`--replay: ${args.replay} is not a file`);
  if (given.has('--state-dir') && given.has('--ephemeral'))
    throw new UsageError('--state-dir and --ephemeral are exclusive');
  // The synthetic market's seeded days (from 2024-10-02, real symbols' names) are not to be mixed
  // into the real days a kept state holds: unless a state directory is named, it runs ephemeral.
  if (args.synthetic && !given.has('--state-dir') && !env.TICKSTREAM_STATE_DIR) args.stateDir = undefined;
  if (!STAGE_NAME.test(args.stage))
    throw new UsageError(
      `--stage "${args.stage}" must be lower-case letters and digits (like dev, staging, prod)`,
    );
  return args;
}

const USAGE = `usage: npm start -- [--replay FILE [--format F] [--symbol S] [--tz ZONE]] [--speed max|N] [--synthetic SYMS]
                    [--once] [--cloud-only] [--stage dev] [--state-dir .local | --ephemeral] [--json]
  (no feed option)  replay the bundled real samples (data/samples: AAPL 2024-10-02, SPY Jan 2011, S&P 500 Nov 2019)
  --replay FILE     replay this file (formats: ${REPLAY_FORMATS.join(', ')}; detected unless --format)
  --symbol S        the symbol, for files that have none (NinjaTrader, M/D/YYYY, CSV without a symbol column);
                    in a file that names its symbols: replay only S's rows
  --tz ZONE         zone of the file's zone-less times (CSV, M/D/YYYY: default America/New_York;
                    NinjaTrader: default UTC, as NinjaTrader exports); refused for NDJSON and Yahoo chart files
  --speed max|N     as fast as the stream takes it (default), or N times real time (a gap of more
                    than an hour between events, a night or a weekend, is skipped, not waited out)
  --synthetic SYMS  a seeded synthetic market of these comma-separated symbols (endless; Ctrl-C;
                    ephemeral state unless --state-dir or TICKSTREAM_STATE_DIR names a directory)
  --once            process the whole feed, exit 0, print one JSON summary as the last stdout line
                    (Ctrl-C that cuts the feed short or leaves the stream undrained:
                    "interrupted": true in it, exit 130 (SIGTERM 143, SIGHUP 129); after the last event was read and
                    drained in time: a complete run, exit 0; Ctrl-C during the start-up: exit 130,
                    no summary; every row of the replay file rejected: exit 1 naming the first
                    reasons, no summary)
  --cloud-only      boot the local cloud only and print what it created (with --once: then exit)
  --stage S         stage whose template is provisioned (default dev; env TICKSTREAM_STAGE)
  --state-dir DIR   where emulator state persists (default .local/, --synthetic: ephemeral; env TICKSTREAM_STATE_DIR)
  --ephemeral       keep state in a temp directory, deleted on stop
  --json            with --cloud-only: print the local cloud as one JSON object (last stdout line)`;

/**
 * What can be known of --replay's file before anything boots: that it can be read as a replay
 * (not empty, of a known format), and that --symbol fits it (given when the file has no symbol of
 * its own; not another than a Yahoo chart's one).
 */
export async function checkReplay(args: StartArgs, source: ReplaySource): Promise<void> {
  let file: ReplayInspection;
  try {
    file = await source.inspect();
  } catch (e) {
    throw new UsageError(`--replay ${args.replay}: ${(e as Error).message}`);
  }
  const problem =
    symbolFlagProblem(file, '--replay', args.replay ?? '', args.symbol) ??
    timeZoneFlagProblem(file, args.replay ?? '', args.tz);
  if (problem) throw new UsageError(problem);
}

export function feedsFor(args: StartArgs): MarketSource[] {
  if (args.synthetic) {
    // N times real time: each symbol ticks once per simulated second (the market's step), so
    // N seconds of its clock pass per second, as many ticks a second as N × the symbols.
    return [
      new SyntheticMarket({
        symbols: args.synthetic,
        seed: 1,
        stepMs: 1_000,
        rate: args.speed === 'max' ? 'max' : args.speed * args.synthetic.length,
      }),
    ];
  }
  if (args.replay) {
    return [
      new ReplaySource({
        file: args.replay,
        format: args.format,
        speed: args.speed,
        ...(args.symbol ? { symbol: args.symbol } : {}),
        ...(args.tz ? { timeZone: args.tz } : {}),
        warn: (m) => process.stderr.write(`warning: ${m}\n`),
      }),
    ];
  }
  return BUNDLED_SAMPLES.map(
    (s) =>
      new ReplaySource({
        file: resolve(PROJECT_ROOT, s.file),
        format: s.format,
        symbol: s.symbol,
        speed: args.speed,
      }),
  );
}

export function summaryJson(cloud: LocalCloud) {
  return {
    stage: cloud.stage,
    region: cloud.region,
    bootMs: cloud.bootMs,
    endpoints: cloud.endpoints,
    env: cloud.env,
    resources: cloud.resources,
    state: cloud.state,
  };
}

/**
 * Boots the local cloud; when `signal` aborts meanwhile (Ctrl-C), what was started is stopped, an
 * ephemeral state directory removed, and undefined returned.
 */
async function bootLocalCloud(
  args: StartArgs,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<LocalCloud | undefined> {
  try {
    return await startLocalCloud({
      stage: args.stage,
      // An ephemeral run is endless too (a synthetic market, a cloud kept up): what it stores goes
      // to its temp directory, not to memory.
      ...(args.stateDir ? { stateDir: args.stateDir } : { ephemeralStore: 'disk' }),
      log,
      signal,
    });
  } catch (e) {
    if (!signal.aborted) throw e;
    log('interrupted during start-up; stopped cleanly');
    return undefined;
  }
}

/**
 * After SIGHUP the terminal is gone, and a write to it fails (EIO, EPIPE): the view's next frame
 * or a progress line must not end the process before its clean stop. Nothing can be shown there
 * any more; what matters is in the state directory and the function logs.
 */
function outliveTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EIO' && e.code !== 'EPIPE') throw e;
    });
  }
}

/**
 * Signals repeated while a stop is under way, counted by signalRepeats (npm's forwarded copy of
 * the first is none): the first deliberate repeat says what the stop is doing and that one more
 * quits at once; the next quits at once, exit 128 + the signal, without the clean stop (a
 * stop waiting on an emulator that hangs would wait out the function's timeout). The next start
 * recovers a kept state directory (its stream keeps what was not processed; the local SQS saves its
 * queues every 2 s, so their last changes can be lost) and removes an ephemeral one.
 */
export function repeatedSignals(o: {
  readonly doing: () => string;
  /** What becomes of the state when the process quits at once. */
  readonly left: string;
  readonly write: (line: string) => void;
  /** Ends the process with `code`, `why` written last (after the view has given the screen back). */
  readonly quit: (code: number, why: string) => void;
  readonly clock?: () => number;
}) {
  const repeat = signalRepeats(o.clock);
  return (signal: NodeJS.Signals): void => {
    const n = repeat();
    const key = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    if (n === 1)
      o.write(`${signal} again: still ${o.doing()}; ${key} once more quits at once, without the clean stop`);
    else if (n > 1) o.quit(interruptedBy(signal), `${signal} again: quit at once; ${o.left}`);
  };
}

/** What a quit without the clean stop leaves: a kept state directory is recovered by the next start. */
const leftOnQuit = (stateDir: string | undefined): string =>
  stateDir
    ? `the next start recovers ${stateDir} (what was not processed is still in its stream; the queues' last 2 s of changes may be lost)`
    : 'the next start removes the ephemeral state directory';

/** Exits at once, `why` written on the way out: after the view's own exit handler left its screen. */
const quitNow =
  (write: (line: string) => void) =>
  (code: number, why: string): void => {
    process.once('exit', () => write(why));
    process.exit(code);
  };

/** The pipeline mode: cloud + processor + feed; the view (or, with --once, a JSON summary) on stdout. */
async function runWholePipeline(args: StartArgs, feeds: MarketSource[]): Promise<number> {
  // The functions' console output is routed to a log file once the pipeline starts: write directly.
  const err = (line: string) => process.stderr.write(`${line}\n`);
  // Signals are handled from before the boot: Ctrl-C at any point stops cleanly.
  const abort = new AbortController();
  let booted = false;
  let stoppedBy: NodeJS.Signals = 'SIGINT';
  const repeated = repeatedSignals({
    doing: () => (booted ? 'draining and compacting' : 'stopping'),
    left: leftOnQuit(args.stateDir),
    write: err,
    quit: quitNow(err),
  });
  const onSignal = (signal: NodeJS.Signals) => {
    repeated(signal);
    if (abort.signal.aborted) return;
    stoppedBy = signal;
    if (signal === 'SIGHUP') outliveTerminal();
    err(
      booted
        ? `\n${signal}: stopping the feed, draining the stream, then stopping…`
        : `\n${signal}: stopping the start-up…`,
    );
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // the terminal closed
  const cloud = await bootLocalCloud(args, abort.signal, err);
  if (!cloud) return interruptedBy(stoppedBy);
  booted = true;
  for (const line of describeLocalCloud(cloud)) err(line);
  err(`local cloud ready in ${cloud.bootMs} ms; feed: ${feeds.map((f) => f.name).join(', ')}`);
  try {
    const summary = await runPipeline({ cloud, feeds, once: args.once, signal: abort.signal, log: err });
    for (const f of feeds)
      for (const i of f.issues().slice(0, 20)) err(`feed rejected ${i.at ?? ''} ${i.reason}`);
    err(
      `done: ${summary.ticksIn} events in, ${summary.recordsPut} records put, ${summary.processed} processed, ` +
        `${summary.rejected} rejected, ${summary.dynamodbMetricRows} metric rows, ${summary.lakeObjects} lake objects, ` +
        `${summary.alertsPublished} alerts in ${(summary.durationMs / 1000).toFixed(1)} s`,
    );
    await cloud.stop();
    err(args.stateDir ? `stopped cleanly; state kept in ${args.stateDir}` : 'stopped cleanly');
    if (args.once && summary.interrupted) {
      // The summary is of the part that ran: it says so, and so does the exit code.
      err('interrupted: the summary covers what was read and processed before the stop');
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return interruptedBy(stoppedBy);
    }
    const rejected = summary.ticksIn === 0 && !summary.interrupted ? feeds.flatMap((f) => f.issues()) : [];
    if (rejected.length > 0) {
      // Not one event: the file is not what it was taken for (say --format ndjson on a CSV).
      const line = (i: SourceIssue) => `${i.at ? `${i.at}: ` : ''}${i.reason}`;
      const first = rejected.slice(0, 3).map(line);
      const all = feeds.reduce((n, f) => n + issueCount(f), 0);
      // --symbol named a symbol the file does not have: that is the reason, whatever else was rejected.
      const picked = rejected.find((i) => i.at === '--symbol');
      const others = rejected.filter((i) => i !== picked).slice(0, 3);
      err(
        `npm start: no event could be read from ${feeds.map((f) => f.name).join(', ')}: ` +
          (picked
            ? `${picked.reason}${all > 1 ? `; ${all - 1} other row(s) rejected, first: ${others.map(line).join('; ')}` : ''}`
            : `all ${all} rows were rejected (check --format); first: ${first.join('; ')}`),
      );
      return 1;
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } catch (e) {
    await cloud.stop();
    throw e;
  }
}

async function main(): Promise<number> {
  let args: StartArgs;
  let feeds: MarketSource[] = [];
  try {
    args = parseStartArgs(process.argv.slice(2));
    if (!args.cloudOnly) {
      feeds = feedsFor(args);
      if (args.replay) await checkReplay(args, feeds[0] as ReplaySource);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`npm start: ${e.message}`);
    console.error(USAGE);
    return e.message ? 2 : 0;
  }
  if (!args.cloudOnly) return runWholePipeline(args, feeds);
  // Ctrl-C during the boot stops it cleanly; once booted, the handler below takes over.
  const boot = new AbortController();
  let stoppedBy: NodeJS.Signals = 'SIGINT';
  const onBootSignal = (signal: NodeJS.Signals) => {
    if (boot.signal.aborted) return;
    stoppedBy = signal;
    if (signal === 'SIGHUP') outliveTerminal();
    console.error(`\n${signal}: stopping the start-up…`);
    boot.abort();
  };
  process.on('SIGINT', onBootSignal);
  process.on('SIGTERM', onBootSignal);
  process.on('SIGHUP', onBootSignal);
  const booted = await bootLocalCloud(args, boot.signal, (line) => console.error(line));
  process.off('SIGINT', onBootSignal);
  process.off('SIGTERM', onBootSignal);
  process.off('SIGHUP', onBootSignal);
  if (!booted) return interruptedBy(stoppedBy);
  const cloud = booted;
  if (boot.signal.aborted) {
    // The signal came as the boot finished.
    await cloud.stop();
    console.error('interrupted during start-up; stopped cleanly');
    return interruptedBy(stoppedBy);
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= cloud.stop();
    return stopping;
  };
  for (const line of describeLocalCloud(cloud)) console.log(line);
  console.log('');
  console.log(`ready in ${cloud.bootMs} ms${args.once ? '' : ' — Ctrl-C to stop'}`);
  if (args.json) console.log(JSON.stringify(summaryJson(cloud)));

  if (args.once) {
    await stop();
    return 0;
  }
  return await new Promise<number>((resolveExit) => {
    const repeated = repeatedSignals({
      doing: () => 'stopping (flushing state)',
      left: leftOnQuit(args.stateDir),
      write: (line) => console.error(line),
      quit: quitNow((line) => console.error(line)),
    });
    const onSignal = (signal: NodeJS.Signals) => {
      repeated(signal);
      if (stopping) return;
      if (signal === 'SIGHUP') outliveTerminal();
      console.error(`\n${signal}: stopping the local cloud…`);
      stop().then(
        () => {
          console.error(
            args.stateDir ? `stopped cleanly; state kept in ${args.stateDir}` : 'stopped cleanly',
          );
          resolveExit(0);
        },
        (err: unknown) => {
          console.error(`stopping failed: ${err instanceof Error ? err.message : String(err)}`);
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
      // Everything is closed by now; should a library keep a handle open, do not hang on it.
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (error: unknown) => {
      // Straight to stderr: by now `console` may be routed to the functions' log file.
      process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
