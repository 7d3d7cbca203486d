/** `npm start`'s arguments: where a run keeps its state. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE_DIR } from '../../../scripts/local/state-dir.ts';
import { parseStartArgs } from '../../../scripts/start.ts';

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
