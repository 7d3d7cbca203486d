import { describe, expect, it } from 'vitest';
import {
  type DashboardView,
  renderDashboard,
  TerminalDashboard,
} from '../../../scripts/pipeline/dashboard.ts';

const view = (over: Partial<DashboardView> = {}): DashboardView => ({
  title: 'tickstream — local pipeline',
  status: 'running',
  symbols: [
    {
      symbol: 'AAPL',
      time: Date.parse('2024-10-02T19:59:00Z'),
      price: 226.78,
      changePct: 0.3,
      sma20: 226.5,
      ema20: 226.6,
      rsi14: 55.1,
      vwap: 225.9,
      anomalies: 2,
    },
  ],
  counters: { 'ticks in': 389 },
  throughput: 0,
  lagMs: 0,
  alerts: [],
  ...over,
});

describe('renderDashboard', () => {
  it('says how many symbols of the run the view has no room for', () => {
    expect(renderDashboard(view({ symbolsNotShown: 4 }))).toContain(
      '… and 4 more symbols (npm run query for every one)',
    );
    expect(renderDashboard(view({ symbolsNotShown: 1 }))).toContain('… and 1 more symbol (');
    for (const symbolsNotShown of [0, undefined])
      expect(renderDashboard(view({ symbolsNotShown }))).not.toContain('more symbol');
  });
});

/** A stdout: a terminal or not, and everything written to it. */
function terminal(isTTY = true) {
  const written: string[] = [];
  const out = { isTTY, columns: 120, write: (chunk: string) => written.push(chunk) > 0 };
  return { out: out as unknown as NodeJS.WriteStream, written };
}

const ALT_ON = '\x1b[?1049h';
const ALT_OFF = '\x1b[?1049l';

describe('TerminalDashboard', () => {
  it('draws on the alternate screen, and on close gives the screen back with the last frame below what was there', () => {
    const { out, written } = terminal();
    const dashboard = new TerminalDashboard(out);
    const exitListeners = process.listenerCount('exit');
    dashboard.draw(view({ status: 'running' }));
    dashboard.draw(view({ status: 'stopped' }));
    // The first frame enters the alternate screen; the next ones redraw there in place.
    expect(written[0]!.startsWith(ALT_ON)).toBe(true);
    expect(written[1]!.startsWith('\x1b[H\x1b[J')).toBe(true);
    expect(written.slice(1).join('')).not.toContain(ALT_ON);
    // Should the process end with the view open, the screen is given back.
    expect(process.listenerCount('exit')).toBe(exitListeners + 1);

    dashboard.close();
    const last = written.at(-1)!;
    expect(last.startsWith(ALT_OFF)).toBe(true);
    expect(last).toContain('stopped');
    expect(last).toContain('AAPL');
    expect(process.listenerCount('exit')).toBe(exitListeners);
    // A refresh still in flight draws nothing once the view is closed; a second close is a no-op.
    const count = written.length;
    dashboard.draw(view());
    dashboard.close();
    expect(written).toHaveLength(count);
  });

  it('writes nothing when stdout is not a terminal, nor when closed before any frame', () => {
    const piped = terminal(false);
    const a = new TerminalDashboard(piped.out);
    a.draw(view());
    a.close();
    expect(piped.written).toEqual([]);
    const tty = terminal();
    new TerminalDashboard(tty.out).close();
    expect(tty.written).toEqual([]);
  });
});
