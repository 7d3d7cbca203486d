/**
 * `npm run local:reset`: deletes the local cloud's persisted state (.local/ by default), so the
 * next `npm start` begins empty. Refuses while a running local cloud holds the directory's lock, and
 * a directory that is not a local cloud's state (no local-cloud.json in it, and entries no local cloud
 * writes: `--state-dir .`, say).
 *
 *   node scripts/local-reset.ts [--state-dir DIR]
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  acquireLock,
  DEFAULT_STATE_DIR,
  isLocalStateDir,
  LOCK_FILE,
  META_FILE,
  StateDirLockedError,
} from './local/state-dir.ts';

export class ResetRefusedError extends Error {
  override name = 'ResetRefusedError';
}

/** Clears a state directory; returns the entries removed. Throws while a local cloud holds it. */
export function resetLocalState(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const entries = readdirSync(dir);
  if (!isLocalStateDir(entries))
    throw new ResetRefusedError(
      `${dir} is not a local cloud's state directory (it has no ${META_FILE}) and holds entries no local cloud writes: nothing deleted`,
    );
  let release: () => void;
  try {
    // Hold the lock while deleting, so no local cloud can start on a half-deleted directory.
    release = acquireLock(dir);
  } catch (e) {
    if (!(e instanceof StateDirLockedError)) throw e;
    const h = e.holder;
    throw new ResetRefusedError(
      `${dir} is in use by a running local cloud (pid ${h.pid} on ${h.host}, started ${h.startedAt}); ` +
        'stop it (Ctrl-C) before resetting',
    );
  }
  const removed = readdirSync(dir).filter((entry) => entry !== LOCK_FILE);
  try {
    for (const entry of removed) rmSync(join(dir, entry), { recursive: true, force: true });
  } finally {
    release();
  }
  rmSync(dir, { recursive: true, force: true });
  return removed;
}

const USAGE = `usage: npm run local:reset [-- --state-dir DIR]

Deletes the local cloud's state (default .local/ in the project; env TICKSTREAM_STATE_DIR), so the
next npm start begins empty. Refused (exit 1) while a local cloud runs on it, or when DIR is not a
local cloud's state directory (no ${META_FILE} in it).`;

function main(argv: string[]): number {
  // As `npm start` reads it: empty is unset (resolved, an empty path would name the whole project).
  let dir = process.env.TICKSTREAM_STATE_DIR ? resolve(process.env.TICKSTREAM_STATE_DIR) : DEFAULT_STATE_DIR;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--state-dir' && argv[i + 1]) dir = resolve(argv[++i]!);
    else if (a?.startsWith('--state-dir=') && a.length > '--state-dir='.length)
      dir = resolve(a.slice('--state-dir='.length));
    else if (a === '--state-dir' || a === '--state-dir=') {
      console.error(
        'local:reset: --state-dir needs a directory\nusage: npm run local:reset [-- --state-dir DIR]',
      );
      return 2;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return 0;
    } else {
      console.error(`local:reset: unknown option ${a}\nusage: npm run local:reset [-- --state-dir DIR]`);
      return 2;
    }
  }
  try {
    const removed = resetLocalState(dir);
    console.log(
      removed.length
        ? `removed ${dir} (${removed.join(', ')})`
        : `nothing to reset: ${dir} is empty or absent`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof ResetRefusedError)) throw e;
    console.error(`local:reset: ${e.message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
