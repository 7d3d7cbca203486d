/**
 * The local pipeline's live terminal view: per symbol the last price, change %, a few indicators and
 * anomalies — read back from the table the processor writes, end to end — plus throughput, lag and
 * the alerts as the local SNS delivers them.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { countSymbolItems } from '../../src/adapters/aws/dynamodb-metric-row-index.ts';
import { ALERT_PREFIX, BAR_PREFIX, LATEST_SK, symbolPk } from '../../src/adapters/aws/market-table.ts';

export interface SymbolLine {
  readonly symbol: string;
  readonly time?: number;
  readonly price?: number;
  readonly changePct?: number | null;
  readonly barTime?: number;
  readonly sma20?: number | null;
  readonly ema20?: number | null;
  readonly rsi14?: number | null;
  readonly vwap?: number | null;
  /** Anomalies the processor detected for the symbol: its alert ledger items in the table (any run's). */
  readonly anomalies: number;
}

export interface AlertLine {
  readonly symbol: string;
  readonly kind: string;
  readonly severity: string;
  readonly at: number;
  readonly message: string;
}

export interface DashboardView {
  readonly title: string;
  readonly symbols: readonly SymbolLine[];
  /** Symbols of the run the view has no room for (0 or absent: none). */
  readonly symbolsNotShown?: number;
  readonly counters: Readonly<Record<string, number>>;
  /** Records per second processed over the last few seconds. */
  readonly throughput: number;
  /**
   * How far behind the processor is (ms): at its last batch, the time from its newest record's
   * arrival to the batch's end; 0 once the stream is read to its end.
   */
  readonly lagMs: number | undefined;
  readonly alerts: readonly AlertLine[];
  readonly status: string;
  /** The latest progress lines (stderr's), oldest first. */
  readonly log?: readonly string[];
}

const fmt = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
/**
 * A price: 2 decimals from 10 up (226.81), 4 below it (EURUSD=X at 1.0823: 2 hid its pips), and
 * below 1 four significant digits (DOGE-USD 0.1236, SHIB-USD 0.00001792, which 2 decimals showed
 * as 0.00); trailing zeros past the second decimal are dropped (5.12, not 5.1200).
 */
const price = (v: number | null | undefined) => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  const digits = a >= 10 ? 2 : a >= 1 || a === 0 ? 4 : Math.min(12, 3 - Math.floor(Math.log10(a)));
  return v.toFixed(digits).replace(/(\.\d\d\d*?)0+$/, '$1');
};
const pct = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}%`;
const time = (t: number | undefined) =>
  t === undefined ? '—' : new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/**
 * The symbols' columns, and the order they are left out in when the table is wider than the
 * terminal: cut at its width, a 60-column terminal lost RSI14, VWAP and the anomalies mid-cell.
 * The symbol, last price, change % and anomalies always stay.
 */
const COLUMNS = [
  'symbol',
  'event time (UTC)',
  'last',
  'chg %',
  'SMA20',
  'EMA20',
  'RSI14',
  'VWAP',
  'anomalies',
];
const LEFT_OUT_FIRST = ['EMA20', 'SMA20', 'VWAP', 'event time (UTC)', 'RSI14'];

function table(headers: readonly string[], rows: readonly (readonly string[])[], width: number): string[] {
  let shown = headers.map((_, i) => i);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const total = () => shown.reduce((n, i) => n + widths[i]!, 0) + 2 * (shown.length - 1);
  for (const header of LEFT_OUT_FIRST) {
    if (total() <= width) break;
    shown = shown.filter((i) => headers[i] !== header);
  }
  const line = (cells: readonly string[]) =>
    shown
      .map((i) => (i === 0 ? cells[i]!.padEnd(widths[i]!) : (cells[i] ?? '').padStart(widths[i]!)))
      .join('  ');
  return [line(headers), shown.map((i) => '─'.repeat(widths[i]!)).join('  '), ...rows.map(line)];
}

/**
 * Renders the view as plain text lines (no colour codes), `width` columns wide and `height` lines
 * tall at most. A frame taller than the terminal scrolled its top away (the title, throughput, lag
 * and the table's header: a 24-line terminal showed only the rows below them), so what does not fit
 * goes, least wanted first: the log's oldest lines (then the log), alerts down to the 3 most recent,
 * symbols down to 3 (counted in the "more" line), then down to 1 of each.
 */
export function renderDashboard(view: DashboardView, width = 120, height = Number.POSITIVE_INFINITY): string {
  let symbols = view.symbols.length;
  let alerts = view.alerts.length;
  let log = view.log?.length ?? 0;
  let out = frame(view, width, symbols, alerts, log);
  while (out.length > height) {
    if (log > 0) log--;
    else if (alerts > 3) alerts--;
    else if (symbols > 3) symbols--;
    else if (alerts > 1) alerts--;
    else if (symbols > 1) symbols--;
    else {
      out = out.slice(0, Math.max(1, height));
      break;
    }
    out = frame(view, width, symbols, alerts, log);
  }
  return out.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
}

/** The view's lines with the first `symbols` symbols, the `alerts` most recent alerts and the `log` latest lines. */
function frame(view: DashboardView, width: number, symbols: number, alerts: number, log: number): string[] {
  const out: string[] = [];
  out.push(`${view.title}  ·  ${view.status}`);
  out.push(
    Object.entries(view.counters)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ·  '),
  );
  out.push(
    `throughput ${view.throughput.toFixed(0)} rec/s  ·  lag ${view.lagMs === undefined ? '—' : `${Math.max(0, view.lagMs).toFixed(0)} ms`}`,
  );
  out.push('');
  out.push(
    ...table(
      COLUMNS,
      view.symbols
        .slice(0, symbols)
        .map((s) => [
          s.symbol,
          time(s.time),
          price(s.price),
          pct(s.changePct),
          price(s.sma20),
          price(s.ema20),
          fmt(s.rsi14, 1),
          price(s.vwap),
          String(s.anomalies),
        ]),
      width,
    ),
  );
  const notShown = (view.symbolsNotShown ?? 0) + view.symbols.length - symbols;
  if (notShown > 0)
    out.push(`… and ${notShown} more symbol${notShown === 1 ? '' : 's'} (npm run query for every one)`);
  out.push('');
  out.push(`alerts (${alerts} most recent)`);
  if (view.alerts.length === 0) out.push('  none yet');
  for (const a of view.alerts.slice(0, alerts)) {
    out.push(
      `  ${time(a.at)}  ${a.severity.toUpperCase().padEnd(8)} ${a.symbol.padEnd(8)} ${a.kind.padEnd(14)} ${a.message}`,
    );
  }
  if (view.log && log > 0) {
    out.push('');
    out.push('log (latest lines; all of them on stderr: 2> FILE keeps them)');
    for (const line of view.log.slice(-log)) out.push(`  ${line.split('\n')[0]}`);
  }
  return out;
}

const num = (v: unknown): number | null | undefined =>
  typeof v === 'number' ? v : v === null ? null : undefined;

/**
 * Reads a symbol's LATEST item, newest bar row and anomalies (its alert ledger items) from the
 * table: what every run stored, not only this one's.
 */
export async function readSymbolLine(
  documents: DynamoDBDocumentClient,
  tableName: string,
  symbol: string,
): Promise<SymbolLine> {
  const [latest, bar, anomalies] = await Promise.all([
    documents.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': symbolPk(symbol), ':sk': LATEST_SK },
      }),
    ),
    documents.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :bar)',
        ExpressionAttributeValues: { ':pk': symbolPk(symbol), ':bar': BAR_PREFIX },
        ScanIndexForward: false,
        Limit: 1,
      }),
    ),
    countSymbolItems(documents, tableName, symbol, ALERT_PREFIX),
  ]);
  const l = latest.Items?.[0] as { time?: number; values?: Record<string, unknown> } | undefined;
  const b = bar.Items?.[0] as { time?: number; values?: Record<string, unknown> } | undefined;
  const lv = l?.values ?? {};
  const bv = b?.values ?? {};
  const price = num(lv.price) ?? num(lv.close) ?? undefined;
  return {
    symbol,
    ...(l?.time !== undefined ? { time: l.time } : {}),
    ...(price !== null && price !== undefined ? { price } : {}),
    // The change since the previous close: unknown (—) without one, not the last bar's change.
    changePct: num(lv.changePct) ?? null,
    ...(b?.time !== undefined ? { barTime: b.time } : {}),
    sma20: num(bv.sma20) ?? null,
    ema20: num(bv.ema20) ?? null,
    rsi14: num(bv.rsi14) ?? null,
    vwap: num(bv.vwap) ?? null,
    anomalies,
  };
}

/** The terminal's alternate screen (as `less` and `top` use it): entered, and left. */
const ALT_SCREEN_ON = '\x1b[?1049h';
const ALT_SCREEN_OFF = '\x1b[?1049l';
/** Erases from the cursor to the end of its line; to the end of the screen. */
const ERASE_LINE_RIGHT = '\x1b[K';
const ERASE_BELOW = '\x1b[J';

/**
 * Redraws the view in place on a terminal; prints nothing when stdout is not a terminal. The view
 * lives on the alternate screen, so what was printed before it (the local cloud's endpoints and
 * environment) is still there once it is closed; `close` then prints the last frame once, so the
 * final figures stay on the screen too.
 */
export class TerminalDashboard {
  readonly #out: NodeJS.WriteStream;
  #lastView: DashboardView | undefined;
  #closed = false;
  /** Should the process end with the view open (a crash), the terminal is given its screen back. */
  readonly #leaveOnExit = () => {
    this.#out.write(ALT_SCREEN_OFF);
  };

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
  }

  get interactive(): boolean {
    return this.#out.isTTY === true;
  }

  draw(view: DashboardView): void {
    // A refresh still in flight when the view was closed draws nothing.
    if (!this.interactive || this.#closed) return;
    // One line fewer than the screen: the newline after the last one must not scroll the top away.
    const rows = this.#out.rows;
    const width = this.#out.columns ?? 120;
    const text = renderDashboard(view, width, rows ? Math.max(1, rows - 1) : undefined);
    if (this.#lastView === undefined) {
      process.once('exit', this.#leaveOnExit);
      this.#out.write(`${ALT_SCREEN_ON}\x1b[2J\x1b[H${text}\n`);
    } else {
      // From the top, each line written over the last frame's, the rest of that line erased after
      // it, then what the last frame had below: the screen is never blank between two frames (a
      // clear before the frame, as before, could be shown on its own: a flicker twice a second).
      // A line of the full width is not followed by the erase: the cursor waits on its last
      // character, which the erase would wipe.
      const lines = text.split('\n').map((l) => (l.length < width ? `${l}${ERASE_LINE_RIGHT}` : l));
      this.#out.write(`\x1b[H${lines.join('\n')}\n${ERASE_BELOW}`);
    }
    this.#lastView = view;
  }

  /**
   * Leaves the view: back to the screen as it was before it, the last frame printed below, whole
   * (the screen scrolls there: nothing is left out for its height).
   */
  close(): void {
    this.#closed = true;
    if (this.#lastView === undefined) return;
    process.off('exit', this.#leaveOnExit);
    this.#out.write(`${ALT_SCREEN_OFF}${renderDashboard(this.#lastView, this.#out.columns ?? 120)}\n`);
    this.#lastView = undefined;
  }
}
