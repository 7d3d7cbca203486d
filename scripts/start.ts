/**
 * `npm start`: boots the local cloud (in-process emulators with the synthesized template's
 * resources), prints what it created and where, and stays up until Ctrl-C / SIGTERM, then stops
 * cleanly (state kept under .local/).
 *
 *   node scripts/start.ts [--stage dev] [--state-dir .local | --ephemeral] [--once] [--json]
 *
 * --once (or TICKSTREAM_START_ONCE=1): boot, print, stop, exit 0 — for tests and scripts.
 * --json: also print one JSON object (endpoints, env, resources, state, bootMs) as the last stdout line.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalCloud } from './local/local-cloud.ts';
import { startLocalCloud } from './local/local-cloud.ts';
import { describeLocalCloud } from './local/summary.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_STATE_DIR = resolve(PROJECT_ROOT, '.local');

export interface StartArgs {
  stage: string;
  /** undefined = ephemeral. */
  stateDir: string | undefined;
  once: boolean;
  json: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseStartArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartArgs {
  const args: StartArgs = {
    stage: env.TICKSTREAM_STAGE || 'dev',
    stateDir: env.TICKSTREAM_STATE_DIR ? resolve(env.TICKSTREAM_STATE_DIR) : DEFAULT_STATE_DIR,
    once: env.TICKSTREAM_START_ONCE === '1' || env.TICKSTREAM_START_ONCE === 'true',
    json: false,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = () => inline ?? value(i++, flag);
    switch (flag) {
      case '--stage':
        args.stage = take();
        break;
      case '--state-dir':
        args.stateDir = resolve(take());
        break;
      case '--ephemeral':
        args.stateDir = undefined;
        break;
      case '--once':
        args.once = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  if (!/^[a-zA-Z][a-zA-Z0-9-]{0,15}$/.test(args.stage))
    throw new UsageError(`--stage "${args.stage}" must be letters, digits and '-' (like dev, staging, prod)`);
  return args;
}

const USAGE = `usage: npm start -- [--stage dev] [--state-dir .local | --ephemeral] [--once] [--json]
  --stage S        stage whose template is provisioned (default dev; env TICKSTREAM_STAGE)
  --state-dir DIR  where emulator state persists (default .local/; env TICKSTREAM_STATE_DIR)
  --ephemeral      keep state in a temp directory, deleted on stop
  --once           boot, print, stop (env TICKSTREAM_START_ONCE=1)
  --json           print one JSON summary object as the last stdout line`;

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

async function main(): Promise<number> {
  let args: StartArgs;
  try {
    args = parseStartArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`npm start: ${e.message}`);
    console.error(USAGE);
    return e.message ? 2 : 0;
  }
  const cloud = await startLocalCloud({
    stage: args.stage,
    ...(args.stateDir ? { stateDir: args.stateDir } : {}),
    log: (line) => console.error(line),
  });
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
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        // npm forwards the terminal's signal too: only a later, deliberate repeat gets an answer.
        if (Date.now() - firstSignalAt > 1000)
          console.error(`${signal} again: still stopping (flushing state), please wait`);
        return;
      }
      firstSignalAt = Date.now();
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
      console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
