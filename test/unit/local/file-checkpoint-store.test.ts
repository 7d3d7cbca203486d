import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCheckpointStore } from '../../../scripts/pipeline/local-pipeline.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tickstream-checkpoints-'));
  dirs.push(d);
  return d;
}

describe('FileCheckpointStore', () => {
  it('answers from memory at once and, once flushed, the file holds the newest position of every shard', async () => {
    const file = join(tempDir(), 'checkpoints.json');
    const store = new FileCheckpointStore(file);
    for (let i = 1; i <= 200; i++) {
      store.set('shardId-000000000000', String(1000 + i));
      if (i % 3 === 0) store.set('shardId-000000000001', String(5000 + i));
      expect(store.get('shardId-000000000000')).toBe(String(1000 + i));
    }
    await store.flush();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      'shardId-000000000000': '1200',
      'shardId-000000000001': '5198',
    });
    // A restart resumes from the file.
    expect(new FileCheckpointStore(file).get('shardId-000000000001')).toBe('5198');
  });

  it('reports a failed write on flush instead of losing it', async () => {
    const dir = tempDir();
    const store = new FileCheckpointStore(join(dir, 'gone', 'checkpoints.json'));
    store.set('shardId-000000000000', '1');
    await expect(store.flush()).rejects.toThrow(
      /writing checkpoints to .*gone.*checkpoints\.json failed: ENOENT/,
    );
    // Reported once, not again on every later call.
    await expect(store.flush()).resolves.toBeUndefined();
  });
});
