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

describe('renderDashboard prices', () => {
  // With 2 decimals always, SHIB-USD's price and indicators showed as 0.00, DOGE-USD's as 0.12 and
  // EURUSD=X's pips were not seen.
  it('shows a price below 10 with the decimals that tell it apart, and a missing figure as —', () => {
    const cases: [number | null, string][] = [
      [625109.8123, '625109.81'],
      [226.8, '226.80'],
      [12.345, '12.35'],
      [5.12, '5.12'],
      [1.08231, '1.0823'],
      [0.12360903, '0.1236'],
      [0.5, '0.50'],
      [1.7915931e-5, '0.00001792'],
      [0, '0.00'],
      [-37.63, '-37.63'],
      [null, '—'],
      [Number.NaN, '—'],
    ];
    const symbols = cases.map(([p], i) => ({
      symbol: `S${i}`,
      price: p ?? undefined,
      sma20: p,
      ema20: p,
      vwap: p,
      rsi14: 50,
      changePct: null,
      anomalies: 0,
    }));
    const lines = renderDashboard(view({ symbols }), 200).split('\n');
    const header = lines.find((l) => l.startsWith('symbol'))!.split(/ {2,}/);
    cases.forEach(([, shown], i) => {
      const cells = lines.find((l) => l.startsWith(`S${i} `))!.split(/ {2,}/);
      const cell = (name: string) => cells[header.indexOf(name)];
      expect([cell('last'), cell('SMA20'), cell('EMA20'), cell('VWAP')], `case ${i}`).toEqual([
        shown,
        shown,
        shown,
        shown,
      ]);
    });
  });
});

describe('renderDashboard within a width', () => {
  // Cut at the terminal's width, a 60-column terminal lost RSI14, VWAP and the anomalies mid-cell.
  const symbols = ['^GSPC', 'BRK-B', 'EURUSD=X'].map((symbol, i) => ({
    ...view().symbols[0]!,
    symbol,
    price: 5000.25,
    anomalies: 10 + i,
  }));
  const header = (text: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith('symbol'))!
      .split(/ {2,}/);
  const rows = (text: string) => text.split('\n').filter((l) => /^(\^GSPC|BRK-B|EURUSD=X) /.test(l));

  it('leaves out whole columns, least wanted first, and keeps symbol, last, chg % and anomalies', () => {
    const wide = renderDashboard(view({ symbols }), 120);
    expect(header(wide)).toEqual([
      'symbol',
      'event time (UTC)',
      'last',
      'chg %',
      'SMA20',
      'EMA20',
      'RSI14',
      'VWAP',
      'anomalies',
    ]);
    const cases: [number, string[]][] = [
      [80, ['symbol', 'event time (UTC)', 'last', 'chg %', 'SMA20', 'RSI14', 'VWAP', 'anomalies']],
      [70, ['symbol', 'event time (UTC)', 'last', 'chg %', 'RSI14', 'VWAP', 'anomalies']],
      [61, ['symbol', 'event time (UTC)', 'last', 'chg %', 'RSI14', 'anomalies']],
      [60, ['symbol', 'last', 'chg %', 'RSI14', 'anomalies']],
      [40, ['symbol', 'last', 'chg %', 'anomalies']],
    ];
    for (const [width, columns] of cases) {
      const text = renderDashboard(view({ symbols }), width);
      expect(header(text), `${width} columns`).toEqual(columns);
      expect(rows(text).map((r) => r.split(/ {2,}/))).toEqual(
        symbols.map((s) => [
          s.symbol,
          ...columns.slice(1, -1).map(() => expect.any(String)),
          String(s.anomalies),
        ]),
      );
      for (const line of rows(text)) expect(line.length).toBeLessThanOrEqual(width);
    }
  });
});

/** A view of `symbols` symbols (SYM0…), `alerts` alerts (newest first) and `log` log lines (oldest first). */
const busy = (symbols: number, alerts: number, log: number) =>
  view({
    symbols: Array.from({ length: symbols }, (_, i) => ({ ...view().symbols[0]!, symbol: `SYM${i}` })),
    symbolsNotShown: 4,
    alerts: Array.from({ length: alerts }, (_, i) => ({
      symbol: 'AAPL',
      kind: 'volume-spike',
      severity: 'info',
      at: Date.parse('2024-10-02T19:59:00Z') - i * 60_000,
      message: `alert ${i}`,
    })),
    log: Array.from({ length: log }, (_, i) => `log line ${i}`),
  });

describe('renderDashboard within a height', () => {
  // 16 symbols, 8 alerts and 6 log lines are 41 lines: on a 24-line terminal the title, counters,
  // throughput, lag and the table's header scrolled away, and only the rows below them were seen.
  it('keeps the head and the table header, leaving out the log first, then alerts and symbols', () => {
    const full = renderDashboard(busy(16, 8, 6)).split('\n');
    expect(full).toHaveLength(41);

    const within = (height: number) => renderDashboard(busy(16, 8, 6), 120, height).split('\n');
    for (const height of [40, 30, 23, 17, 11]) {
      const lines = within(height);
      expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(height);
      expect(lines[0]).toBe('tickstream — local pipeline  ·  running');
      expect(lines[2]).toBe('throughput 0 rec/s  ·  lag 0 ms');
      expect(lines[4]).toMatch(/^symbol {2}/);
      // The symbols left out are counted with those the run had no room for.
      const shown = lines.filter((l) => l.startsWith('SYM')).length;
      expect(lines).toContain(`… and ${16 - shown + 4} more symbols (npm run query for every one)`);
    }
    // The log's latest lines stay, then none; then alerts down to the 3 most recent, symbols down to 3.
    expect(within(40).filter((l) => l.startsWith('  log line'))).toEqual([
      '  log line 1',
      '  log line 2',
      '  log line 3',
      '  log line 4',
      '  log line 5',
    ]);
    const at23 = within(23);
    expect(at23).not.toContain('log (latest lines; all of them on stderr: 2> FILE keeps them)');
    expect(at23.filter((l) => l.startsWith('SYM'))).toHaveLength(
      23 - 4 - 2 - 1 - 1 - 1 - 3, // head, table header, 'more' line, blank, alerts header, 3 alerts
    );
    expect(at23).toContain('alerts (3 most recent)');
    expect(at23.filter((l) => l.includes('alert '))).toHaveLength(3);
    const at11 = within(11);
    expect(at11.filter((l) => l.startsWith('SYM'))).toEqual([expect.stringMatching(/^SYM0 /)]);
    expect(at11.slice(-2)).toEqual(['alerts (1 most recent)', expect.stringContaining('alert 0')]);
    // Smaller still, the frame is cut at the bottom: the head stays.
    expect(within(6)).toEqual(within(11).slice(0, 6));
  });

  it('leaves out nothing when the view fits', () => {
    expect(renderDashboard(busy(3, 2, 2), 120, 19)).toBe(renderDashboard(busy(3, 2, 2)));
  });
});

/** A stdout: a terminal or not, and everything written to it. */
function terminal(isTTY = true, rows?: number) {
  const written: string[] = [];
  const out = { isTTY, columns: 120, rows, write: (chunk: string) => written.push(chunk) > 0 };
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
    expect(written[1]!.startsWith('\x1b[H')).toBe(true);
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

  it("draws one line less than the terminal's height, and prints the last frame whole on close", () => {
    const { out, written } = terminal(true, 24);
    const dashboard = new TerminalDashboard(out);
    dashboard.draw(busy(16, 8, 6));
    // The frame and the newline after it: 23 lines, so the cursor ends on the 24th and nothing scrolls.
    expect(written[0]!.split('\n')).toHaveLength(24);
    expect(written[0]).toContain('throughput 0 rec/s');
    dashboard.close();
    expect(written.at(-1)).toBe(`${ALT_OFF}${renderDashboard(busy(16, 8, 6))}\n`);
  });

  it('redraws over the last frame, never clearing the screen before it (no flicker)', () => {
    const { out, written } = terminal(true, 40);
    const dashboard = new TerminalDashboard(out);
    dashboard.draw(view({ status: 'running' }));
    // A frame with a line of the terminal's full width (cut there with …).
    const next = view({ status: 'running', log: ['x'.repeat(200)] });
    dashboard.draw(next);
    const redraw = written[1]!;
    // The cursor goes home; then the frame's lines, each erasing what is left of the last frame's
    // line after it; then what the last frame had below. Nothing is erased before the text.
    expect(redraw.startsWith('\x1b[H')).toBe(true);
    expect(redraw.endsWith('\n\x1b[J')).toBe(true);
    const lines = redraw.slice('\x1b[H'.length, -'\n\x1b[J'.length).split('\n');
    const expected = renderDashboard(next, 120, 39).split('\n');
    expect(lines).toEqual(expected.map((l) => (l.length < 120 ? `${l}\x1b[K` : l)));
    // The full-width line is not followed by an erase, which would wipe its last character.
    expect(lines.at(-1)).toBe(`  ${'x'.repeat(117)}…`);
    dashboard.close();
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
