/**
 * `npm run local:reset` deletes the state directory `npm start` uses, and nothing else: an empty
 * TICKSTREAM_STATE_DIR or `--state-dir=` must not name the project itself. The script runs from a
 * copy in a temp directory (its project root there), so a regression deletes only that copy.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const sandboxes: string[] = [];
afterEach(() => {
  for (const d of sandboxes.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A project copy holding the script, a file of its own and a default state directory. */
function sandbox(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-reset-'));
  sandboxes.push(dir);
  for (const f of ['scripts/local-reset.ts', 'scripts/local/state-dir.ts'])
    cpSync(join(root, f), join(dir, f), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'README.md'), 'keep me');
  mkdirSync(join(dir, '.local', 'kinesis'), { recursive: true });
  writeFileSync(join(dir, '.local', 'local-cloud.json'), '{"stage":"dev"}');
  return dir;
}

const reset = (dir: string, args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [join(dir, 'scripts/local-reset.ts'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });

describe('npm run local:reset', () => {
  it('reads an empty TICKSTREAM_STATE_DIR as unset, as npm start does: it clears .local/ only', () => {
    const dir = sandbox();
    const r = reset(dir, [], { TICKSTREAM_STATE_DIR: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed ${join(dir, '.local')} (`);
    expect(r.stdout).toContain('kinesis');
    expect(existsSync(join(dir, '.local'))).toBe(false);
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });

  it('refuses --state-dir= with no directory (exit 2) and deletes nothing', () => {
    const dir = sandbox();
    const r = reset(dir, ['--state-dir='], { TICKSTREAM_STATE_DIR: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--state-dir needs a directory');
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
    expect(existsSync(join(dir, '.local', 'kinesis'))).toBe(true);
  });

  it('refuses a directory that is not a local cloud state (no local-cloud.json) and deletes nothing', () => {
    const dir = sandbox();
    for (const target of ['.', 'scripts']) {
      const r = reset(dir, ['--state-dir', target], { TICKSTREAM_STATE_DIR: '' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("is not a local cloud's state directory (it has no local-cloud.json)");
    }
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
    expect(existsSync(join(dir, 'scripts', 'local-reset.ts'))).toBe(true);
  });

  it("clears the state a start killed before it recorded itself left (its lock, its emulators' directories)", () => {
    const dir = sandbox();
    for (const [name, emulators] of [
      ['.killed-in-synthesis', false],
      ['.killed-in-emulators', true],
    ] as const) {
      const state = join(dir, name);
      // What startLocalCloud has written by then: the lock (synthesis), then the emulators' state.
      const code = [
        `import { mkdirSync } from 'node:fs';`,
        `import { acquireLock } from ${JSON.stringify(join(root, 'scripts/local/state-dir.ts'))};`,
        `import { startEmulators } from ${JSON.stringify(join(root, 'scripts/local/emulators.ts'))};`,
        `const dir = ${JSON.stringify(state)};`,
        `mkdirSync(dir, { recursive: true });`,
        `acquireLock(dir);`,
        emulators
          ? `await startEmulators({ stateDir: dir, s3Directory: dir + '/s3', region: 'us-east-1', accountId: '000000000000' });`
          : '',
        `process.kill(process.pid, 'SIGKILL');`,
      ].join('\n');
      const killed = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect(existsSync(join(state, 'lock.json'))).toBe(true);
      const r = reset(dir, ['--state-dir', name], { TICKSTREAM_STATE_DIR: '' });
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(state)).toBe(false);
    }
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });

  it('prints its usage for --help', () => {
    const dir = sandbox();
    const r = reset(dir, ['--help'], {});
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: npm run local:reset [-- --state-dir DIR]');
    expect(existsSync(join(dir, '.local', 'kinesis'))).toBe(true);
  });
});
