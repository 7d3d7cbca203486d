/**
 * Smoke test of the bench runner and the indicators bench part (a small BENCH_UPDATES so it runs
 * in a second or two). It checks the output contract — human lines, then ONE JSON object as the
 * last line — and that the libraries' final values agree with ours; speed is not asserted here.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function bench(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['scripts/bench/index.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, lines: r.stdout.trim().split('\n'), stderr: r.stderr };
}

describe('npm run bench', () => {
  it('runs one named part and ends with one JSON object of its figures', () => {
    const { status, lines, stderr } = bench(['indicators'], { BENCH_UPDATES: '20000' });
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const last = JSON.parse(lines.at(-1)!);
    expect(Object.keys(last)).toEqual(['indicators']);
    const figures = last.indicators;
    expect(figures.updates).toBe(20_000);
    expect(Object.keys(figures.indicators)).toEqual([
      'SMA(20)',
      'SMA(200)',
      'EMA(20)',
      'RSI(14)',
      'Bollinger(20,2)',
      'ATR(14)',
    ]);
    for (const [name, f] of Object.entries<Record<string, unknown>>(figures.indicators)) {
      for (const key of ['oursPerSecond', 'tradingSignalsPerSecond', 'technicalIndicatorsPerSecond']) {
        expect(f[key], `${name} ${key}`).toBeGreaterThan(0);
      }
      expect(f.vsFastestLibrary).toBeCloseTo(
        (f.oursPerSecond as number) /
          Math.max(f.tradingSignalsPerSecond as number, f.technicalIndicatorsPerSecond as number),
        1,
      );
    }
    expect(figures.crossChecksOk).toBe(true);
    expect(lines.slice(0, -1).every((l) => !l.startsWith('{'))).toBe(true);
    expect(lines.some((l) => l.includes('SMA(200)') && l.includes('trading-signals'))).toBe(true);
  });

  it('rejects an unknown part, listing the available ones', () => {
    const { status, stderr } = bench(['nosuchpart']);
    expect(status).toBe(2);
    expect(stderr).toContain('unknown bench part(s): nosuchpart');
    expect(stderr).toContain('indicators');
  });

  it('rejects a malformed BENCH_UPDATES and still ends with the JSON line', () => {
    const { status, lines } = bench(['indicators'], { BENCH_UPDATES: '12abc' });
    expect(status).toBe(1);
    expect(JSON.parse(lines.at(-1)!).indicators.error).toContain('BENCH_UPDATES');
  });
});
