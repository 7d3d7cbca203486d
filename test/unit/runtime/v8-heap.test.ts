/**
 * The processor's V8 heap setting takes effect: V8 silently ignores a flag it does not know, so a
 * Node upgrade that dropped or renamed it would otherwise go unnoticed. A child process keeps two
 * million fresh object literals alive (every one survives: V8 decides to pretenure their allocation
 * site) and V8 prints the pretenuring feedback it weighs; after `keepBatchObjectsYoung()` it weighs none.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const module = new URL('../../../src/runtime/v8-heap.ts', import.meta.url).href;
const script = `
  if (process.argv[1] === 'off') (await import(${JSON.stringify(module)})).keepBatchObjectsYoung();
  const keep = [];
  const make = (i) => ({ a: i, b: i + 1, c: [i] });
  for (let i = 0; i < 2_000_000; i++) keep.push(make(i));
  console.log(keep.length);
`;

function pretenuringFeedback(mode: 'on' | 'off'): string[] {
  const r = spawnSync(
    process.execPath,
    ['--trace-pretenuring-statistics', '--input-type=module', '-e', script, mode],
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l.includes('pretenuring:'));
}

describe('keepBatchObjectsYoung', () => {
  it("turns V8's pretenuring heuristic off: it weighs no survival feedback at all", {
    timeout: 120_000,
  }, () => {
    // With the heuristic on, V8 reports the survival it weighs at each collection (whether it then
    // decides to pretenure depends on the collections' timing); with it off, it weighs nothing.
    expect(pretenuringFeedback('on')).not.toEqual([]);
    expect(pretenuringFeedback('off')).toEqual([]);
  });
});
