/**
 * The live view of `npm start` (runPipeline without `once`, on a terminal): its per-symbol figures
 * are read back from the table, so a run on the state of an earlier one shows what is stored, not
 * only what this run wrote. Two runs of the same bundled AAPL day on one local cloud, Ctrl-C once the
 * feed is finished; the view's last frame is read as the terminal would show it.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../../scripts/local/local-cloud.ts';
import { runPipeline } from '../../../scripts/pipeline/run.ts';
import { ALERT_PREFIX, symbolPk } from '../../../src/adapters/aws/market-table.ts';
import type { MarketSource } from '../../../src/ports/market-source.ts';
import { useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

/** A terminal: what was drawn, frame by frame. */
function fakeTerminal() {
  const frames: string[] = [];
  const stream = {
    isTTY: true,
    columns: 160,
    write(chunk: string) {
      // Without the cursor moves that redraw the view in place.
      frames.push(['\x1b[2J', '\x1b[H', '\x1b[J'].reduce((text, code) => text.replaceAll(code, ''), chunk));
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, frames };
}

/** The bundled AAPL day, as a live-mode run (no `once`) stopped by Ctrl-C once its feed is finished. */
async function liveRun(cloud: LocalCloud) {
  const terminal = fakeTerminal();
  const abort = new AbortController();
  const feed: MarketSource = {
    name: 'aapl day',
    async *events() {
      for (const bar of aaplSampleBars()) yield { kind: 'bar', bar };
    },
    issues: () => [],
  };
  const stopWhenFinished = setInterval(() => {
    if (terminal.frames.at(-1)?.includes('feed finished')) abort.abort();
  }, 100);
  try {
    const summary = await runPipeline({
      cloud,
      feeds: [feed],
      once: false,
      signal: abort.signal,
      log: () => {},
      stdout: terminal.stream,
    });
    return { summary, lastFrame: terminal.frames.at(-1) ?? '' };
  } finally {
    clearInterval(stopWhenFinished);
  }
}

/** The symbol's anomalies in the table: its alert ledger items, one per anomaly detected. */
async function storedAnomalies(cloud: LocalCloud, symbol: string): Promise<number | undefined> {
  const out = await cloud.clients.documents.send(
    new QueryCommand({
      TableName: cloud.env.MARKET_TABLE_NAME,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :alert)',
      ExpressionAttributeValues: { ':pk': symbolPk(symbol), ':alert': ALERT_PREFIX },
      Select: 'COUNT',
    }),
  );
  return out.Count;
}

/** The view's row of a symbol, by column header. */
function row(frame: string, symbol: string): Record<string, string> {
  const lines = frame.split('\n');
  const header = lines.find((l) => l.startsWith('symbol'))!;
  const cells = lines.find((l) => l.startsWith(`${symbol} `))!.split(/ {2,}/);
  const names = header.split(/ {2,}/);
  return Object.fromEntries(names.map((n, i) => [n, cells[i]!]));
}

describe('the live view of the local pipeline', () => {
  const cloud = useLocalCloud();
  const console0 = { ...console };
  afterEach(() => {
    // runPipeline routes the functions' console output to the state directory's log file.
    Object.assign(console, console0);
  });

  it("shows each symbol's anomalies as stored, also on a run over an earlier run's state", async () => {
    const c = cloud();
    expect(await storedAnomalies(c, 'AAPL')).toBe(0);

    const first = await liveRun(c);
    expect(first.summary.interrupted).toBe(false);
    expect(first.summary.alertsPublished).toBeGreaterThan(0);
    const stored = await storedAnomalies(c, 'AAPL');
    expect(stored).toBe(first.summary.alertsPublished);
    expect(row(first.lastFrame, 'AAPL')).toMatchObject({ last: '226.81', anomalies: String(stored) });

    // The same day again: everything is already stored, no alert is sent again, and the view
    // still shows what the table holds.
    const second = await liveRun(c);
    expect(second.summary.alertsPublished).toBe(0);
    expect(second.lastFrame).toContain('stopped');
    expect(row(second.lastFrame, 'AAPL')).toMatchObject({ last: '226.81', anomalies: String(stored) });
  }, 90_000);
});
