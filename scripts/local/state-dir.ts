import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The local cloud's state directory (`.local/` for `npm start`): one sub-directory per emulator,
 * the SQS snapshot, and a lock file so that two local clouds never share it.
 */

export const LOCK_FILE = 'lock.json';
/** What the local cloud records of its last start (stage, region, pid, stop time). */
export const META_FILE = 'local-cloud.json';

/** The record of a state directory's last start (META_FILE). */
export interface StateMeta {
  stage: string;
  region: string;
  startedAt: string;
  stoppedAt?: string;
  pid: number;
}

/** The directory's start record; undefined when it has none (never started) or it cannot be read. */
export function readStateMeta(dir: string): StateMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as StateMeta;
  } catch {
    return undefined;
  }
}

/**
 * Every entry a local cloud writes in its state directory, from its lock on: the emulators'
 * directories (emulators.ts, sns.ts), the SQS snapshot (sqs.ts SQS_SNAPSHOT_FILE) and the start
 * record, each file with the temporary sibling an atomic write leaves when it is cut short.
 */
const STATE_ENTRIES = new Set([LOCK_FILE, META_FILE, 'kinesis', 'dynamodb', 's3', 'sns', 'sqs.json']);

/**
 * Whether a directory's entries are a local cloud's state: its start record among them, or nothing
 * but what a local cloud writes (a start killed before it recorded itself leaves its lock, then
 * the emulators' directories, and no record).
 */
export function isLocalStateDir(entries: readonly string[]): boolean {
  return (
    entries.includes(META_FILE) ||
    entries.every((e) => STATE_ENTRIES.has(e) || /^(local-cloud|sqs)\.json\.[0-9a-f]+$/.test(e))
  );
}

/** Where `npm start` keeps the local cloud's state unless told otherwise: `.local/` in the project. */
export const DEFAULT_STATE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.local');

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

export class StateDirLockedError extends Error {
  override name = 'StateDirLockedError';
  readonly holder: LockInfo;
  constructor(dir: string, holder: LockInfo) {
    super(
      `${dir} is in use by another local cloud (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}); ` +
        'stop it first (Ctrl-C in its terminal)',
    );
    this.holder = holder;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the lock of a state directory; undefined when there is none or its holder has exited. */
export function readLiveLock(dir: string): LockInfo | undefined {
  let info: LockInfo;
  try {
    info = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A lock file cut short by a crash while it was being written: treat as stale.
    return undefined;
  }
  if (typeof info?.pid !== 'number') return undefined; // not a lock object (`null`, a number): stale
  if (info.host !== hostname()) return info; // cannot check another host's process: respect it
  return isAlive(info.pid) ? info : undefined;
}

/**
 * Takes the lock of a state directory (exclusive create). A lock left by a process that no longer
 * runs is taken over. Returns the release function (idempotent).
 */
export function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, JSON.stringify(info));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          const current = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
          if (current.pid === process.pid) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLiveLock(dir);
      if (holder) throw new StateDirLockedError(dir, holder);
      rmSync(path, { force: true }); // stale: its holder is gone
    }
  }
  throw new Error(`${path}: could not take the lock (another local cloud keeps re-creating it)`);
}

/** A lock not parsed yet may be one being written this instant: stale only once this old. */
const UNREADABLE_LOCK_GRACE_MS = 60_000;

/** The directory's lock exists and its holder is gone (see sweepStaleEphemeralDirs). */
function staleLock(dir: string): boolean {
  const path = join(dir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // no lock yet: a start in progress
  }
  try {
    JSON.parse(text);
  } catch {
    try {
      return Date.now() - statSync(path).mtimeMs > UNREADABLE_LOCK_GRACE_MS;
    } catch {
      return false;
    }
  }
  return readLiveLock(dir) === undefined;
}

/** The prefix of an ephemeral state directory's name in the OS temp directory. */
export const EPHEMERAL_PREFIX = 'tickstream-local-';

/**
 * Removes the ephemeral state directories (`<parent>/tickstream-local-*`) that local clouds killed
 * before they could stop (SIGKILL, a crash, a power cut) left behind: those whose lock names a
 * process of this host that no longer runs. A directory with no lock yet (a start in progress), with
 * a live holder, or with another host's lock is kept. Returns the directories removed.
 */
export function sweepStaleEphemeralDirs(parent: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(EPHEMERAL_PREFIX));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    // A persistent state directory records its starts (an ephemeral one never does): not ours.
    if (existsSync(join(dir, META_FILE)) || !staleLock(dir)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // another start removing it too, or not ours to remove: left for the next sweep
    }
  }
  return removed;
}
