import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, synthesizeTemplate, templateInputsHash } from '../../scripts/template/synthesize.ts';

const CACHE_DIR = join(PROJECT_ROOT, '.tmp', 'template-cache');

describe('synthesizeTemplate', () => {
  it('caches the template under .tmp/template-cache keyed by the inputs, and serves it from there', async () => {
    const first = await synthesizeTemplate('dev');
    const key = await templateInputsHash('dev');
    const file = join(CACHE_DIR, `dev-${key}.json`);
    expect(existsSync(file)).toBe(true);
    const written = statSync(file).mtimeMs;
    const second = await synthesizeTemplate('dev');
    expect(second).toEqual(first);
    expect(statSync(file).mtimeMs).toBe(written); // not re-synthesized
  });

  it('keys the cache by stage and params', async () => {
    const dev = await templateInputsHash('dev');
    expect(await templateInputsHash('dev')).toBe(dev);
    expect(await templateInputsHash('prod')).not.toBe(dev);
    expect(await templateInputsHash('dev', { timestreamEnabled: 'true' })).not.toBe(dev);
  });

  it('re-synthesizes on force and leaves no packaging leftovers behind', async () => {
    const template = await synthesizeTemplate('dev', { force: true });
    expect(template.Resources.TicksStream?.Type).toBe('AWS::Kinesis::Stream');
    const work = join(PROJECT_ROOT, '.tmp', 'sls-package');
    const mine = readdirSync(work).filter((name) => name.includes(`-${process.pid}-`));
    expect(mine).toEqual([]);
  });

  it("leaves the project's own .serverless/ (an operator's sls package) and makes no .esbuild/ there", async () => {
    const own = join(PROJECT_ROOT, '.serverless');
    const hadOwn = existsSync(own);
    const marker = join(own, `synthesize-test-${process.pid}`);
    mkdirSync(own, { recursive: true });
    writeFileSync(marker, 'an earlier sls package');
    const hadEsbuild = existsSync(join(PROJECT_ROOT, '.esbuild'));
    try {
      await synthesizeTemplate('dev', { force: true });
      expect(readFileSync(marker, 'utf8')).toBe('an earlier sls package');
      if (!hadEsbuild) expect(existsSync(join(PROJECT_ROOT, '.esbuild'))).toBe(false);
    } finally {
      rmSync(hadOwn ? marker : own, { recursive: true, force: true });
    }
  });

  it('a packaging stopped part-way (Ctrl-C) leaves nothing behind, not even what the packager was writing', async () => {
    const work = join(PROJECT_ROOT, '.tmp', 'sls-package');
    const mine = () =>
      existsSync(work) ? readdirSync(work).filter((name) => name.includes(`-${process.pid}-`)) : [];
    const abort = new AbortController();
    // Stop it once the bundler is writing in the private directory.
    const poll = setInterval(() => {
      if (mine().some((name) => existsSync(join(work, name, 'service', '.esbuild'))))
        abort.abort(new Error('stopped'));
    }, 20);
    try {
      await expect(synthesizeTemplate('dev', { force: true, signal: abort.signal })).rejects.toThrow(
        'stopped',
      );
    } finally {
      clearInterval(poll);
    }
    await new Promise((r) => setTimeout(r, 3000));
    expect(mine()).toEqual([]);
  });

  it('rejects a stage name that cannot be a stack name', async () => {
    await expect(synthesizeTemplate('dev; rm -rf /')).rejects.toThrow(
      'synthesizeTemplate: stage "dev; rm -rf /" must match',
    );
  });
});
