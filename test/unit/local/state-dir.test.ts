import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EPHEMERAL_PREFIX,
  LOCK_FILE,
  META_FILE,
  sweepStaleEphemeralDirs,
} from '../../../scripts/local/state-dir.ts';

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

describe('sweepStaleEphemeralDirs: ephemeral state left by a local cloud that was killed', () => {
  let parent: string;
  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'sweep-test-'));
  });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  const dir = (name: string, lock?: string) => {
    const d = join(parent, name);
    mkdirSync(join(d, 's3'), { recursive: true });
    if (lock !== undefined) writeFileSync(join(d, LOCK_FILE), lock);
    return d;
  };
  const lockOf = (pid: number, host = hostname()) =>
    JSON.stringify({ pid, host, startedAt: '2026-11-24T00:00:00.000Z' });

  it('removes a directory whose holder no longer runs, and keeps every other', () => {
    const dead = dir(`${EPHEMERAL_PREFIX}dead`, lockOf(deadPid()));
    const live = dir(`${EPHEMERAL_PREFIX}live`, lockOf(process.pid));
    const starting = dir(`${EPHEMERAL_PREFIX}starting`);
    const elsewhere = dir(`${EPHEMERAL_PREFIX}elsewhere`, lockOf(deadPid(), `not-${hostname()}`));
    const notOurs = dir('someone-else-dead', lockOf(deadPid()));
    // A persistent --state-dir that happens to be named so (it records its starts): not swept.
    const persistent = dir(`${EPHEMERAL_PREFIX}kept`, lockOf(deadPid()));
    writeFileSync(join(persistent, META_FILE), '{"stage":"dev"}');

    expect(sweepStaleEphemeralDirs(parent)).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    for (const kept of [live, starting, elsewhere, notOurs, persistent]) expect(existsSync(kept)).toBe(true);
  });

  it('keeps a lock it cannot read until it is a minute old (it may be being written)', () => {
    const fresh = dir(`${EPHEMERAL_PREFIX}fresh`, '');
    const old = dir(`${EPHEMERAL_PREFIX}old`, '{"pid":');
    const then = (Date.now() - 120_000) / 1000;
    utimesSync(join(old, LOCK_FILE), then, then);

    expect(sweepStaleEphemeralDirs(parent)).toEqual([old]);
    expect(existsSync(fresh)).toBe(true);
  });

  it('takes a lock that is JSON but no lock object (null, a number) as stale, without throwing', () => {
    const nulled = dir(`${EPHEMERAL_PREFIX}null`, 'null');
    const number = dir(`${EPHEMERAL_PREFIX}number`, '42');
    expect(sweepStaleEphemeralDirs(parent).sort()).toEqual([nulled, number].sort());
  });

  it('returns nothing for a parent that does not exist', () => {
    expect(sweepStaleEphemeralDirs(join(parent, 'missing'))).toEqual([]);
  });
});
