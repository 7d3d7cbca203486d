/**
 * The live mode of `npm start` (runPipeline without `once`). On a terminal, the view's per-symbol
 * figures are read back from the table, so a run on the state of an earlier one shows what is
 * stored, not only what this run wrote: two runs of the same bundled AAPL day on one local cloud,
 * Ctrl-C once the feed is finished, the view's last frame read as the terminal would show it. Where
 * stdout is not a terminal, nothing is drawn and the log says when the feed is finished.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../../scripts/local/local-cloud.ts';
import { runPipeline } from '../../../scripts/pipeline/run.ts';
import { ALERT_PREFIX, BAR_PREFIX, latestKey, symbolPk } from '../../../src/adapters/aws/market-table.ts';
import type { MarketSource } from '../../../src/ports/market-source.ts';
import { storeUnreadableState, useLocalCloud } from '../../support/local-cloud.ts';
import { aaplSampleBars } from '../../support/samples.ts';

/** A stdout, a terminal or not: what was drawn, frame by frame (and as written). */
function fakeStdout(isTTY: boolean) {
  const frames: string[] = [];
  const raw: string[] = [];
  const stream = {
    isTTY,
    columns: 160,
    write(chunk: string) {
      raw.push(chunk);
      // Without the cursor moves that redraw the view in place, and the alternate screen's switches.
      frames.push(
        ['\x1b[?1049h', '\x1b[?1049l', '\x1b[2J', '\x1b[H', '\x1b[J', '\x1b[K'].reduce(
          (text, code) => text.replaceAll(code, ''),
          chunk,
        ),
      );
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, frames, raw };
}

/**
 * The bundled AAPL day (under `symbol`) as a live-mode run (no `once`), stopped by Ctrl-C `idleMs`
 * after the run says its feed is finished (the view on a terminal, the log elsewhere) and, if
 * given, `settled` holds of the log, or after 15 s.
 */
async function liveRun(
  cloud: LocalCloud,
  {
    terminal = true,
    symbol = 'AAPL',
    idleMs = 0,
    progressEveryMs = 5_000,
    settled = (_logged: readonly string[]): boolean => true,
  } = {},
) {
  const stdout = fakeStdout(terminal);
  const logged: string[] = [];
  const abort = new AbortController();
  const feed: MarketSource = {
    name: `${symbol} day`,
    async *events() {
      for (const bar of aaplSampleBars(symbol)) yield { kind: 'bar', bar };
    },
    issues: () => [],
  };
  const deadline = Date.now() + 15_000;
  const finished = () =>
    (terminal
      ? stdout.frames.at(-1)?.includes('feed finished')
      : logged.some((line) => line.startsWith('feed finished'))) && settled(logged);
  let finishedAt: number | undefined;
  const stopWhenFinished = setInterval(() => {
    if (finished()) finishedAt ??= Date.now();
    if ((finishedAt !== undefined && Date.now() - finishedAt >= idleMs) || Date.now() > deadline)
      abort.abort();
  }, 100);
  try {
    const summary = await runPipeline({
      cloud,
      feeds: [feed],
      once: false,
      signal: abort.signal,
      log: (line) => logged.push(line),
      stdout: stdout.stream,
      progressEveryMs,
    });
    return { summary, frames: stdout.frames, raw: stdout.raw, lastFrame: stdout.frames.at(-1) ?? '', logged };
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
    // The view ran on the alternate screen and gave it back at the end, its last frame printed after.
    const screen = first.raw.join('');
    expect(screen.split('\x1b[?1049h')).toHaveLength(2);
    expect(screen.split('\x1b[?1049l')).toHaveLength(2);
    expect(first.raw.at(-1)!.startsWith('\x1b[?1049l')).toBe(true);

    // The same day again: everything is already stored, no alert is sent again, and the view
    // still shows what the table holds.
    const second = await liveRun(c);
    expect(second.summary.alertsPublished).toBe(0);
    expect(second.lastFrame).toContain('stopped');
    expect(row(second.lastFrame, 'AAPL')).toMatchObject({ last: '226.81', anomalies: String(stored) });
  }, 90_000);

  it('says on the log when its feed is finished where stdout is not a terminal, and stays up until Ctrl-C', async () => {
    const run = await liveRun(cloud(), { terminal: false, symbol: 'MSFT' });
    expect(run.logged.filter((line) => line.startsWith('feed finished'))).toEqual([
      'feed finished: 389 events in; the local cloud stays up until Ctrl-C',
    ]);
    expect(run.summary).toMatchObject({ ticksIn: 389, processed: 389, interrupted: false });
    expect(run.frames).toEqual([]);
  }, 90_000);

  it('where stdout is not a terminal, an idle run does not repeat its progress line', async () => {
    // Progress at most every 300 ms, and 3 s idle once the run has caught up: ten chances to repeat
    // it. The idle time is counted from the progress line that shows everything processed, not from
    // the end of the feed: on a loaded machine the processor was still behind 3 s after the feed
    // (its last line "389 events in, 340 processed, …, lag 496 ms"), and the run stopped there.
    const caughtUp = /^progress: 389 events in, 389 processed, \d+ alerts, \d+ rec\/s, lag 0 ms$/;
    const run = await liveRun(cloud(), {
      terminal: false,
      symbol: 'NVDA',
      idleMs: 3_000,
      progressEveryMs: 300,
      settled: (logged) => logged.some((line) => caughtUp.test(line)),
    });
    const progress = run.logged.filter((line) => line.startsWith('progress: '));
    expect(progress.length).toBeGreaterThan(0);
    expect(new Set(progress).size, progress.join('\n')).toBe(progress.length);
    // With the view's throughput and lag: the run caught up, nothing is behind.
    for (const line of progress)
      expect(line).toMatch(
        /^progress: \d+ events in, \d+ processed, \d+ alerts, \d+ rec\/s, lag (\d+ ms|—)$/,
      );
    expect(progress.at(-1)).toMatch(caughtUp);
    expect(run.summary).toMatchObject({ ticksIn: 389, processed: 389, interrupted: false });
  }, 90_000);

  it("shows each symbol's figures as the table holds them: no change % without a previous close", async () => {
    const c = cloud();
    const run = await liveRun(c, { symbol: 'NVDA' });
    const table = c.env.MARKET_TABLE_NAME;
    const latest = await c.clients.documents.send(
      new GetCommand({ TableName: table, Key: latestKey('NVDA') }),
    );
    const bars = await c.clients.documents.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :bar)',
        ExpressionAttributeValues: { ':pk': symbolPk('NVDA'), ':bar': BAR_PREFIX },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const stored = latest.Item?.values as Record<string, number | null>;
    const bar = bars.Items?.[0]?.values as Record<string, number>;
    // One day replayed: no previous close, so no change since it (the last bar's own change is not it).
    expect(stored.changePct).toBeNull();
    expect(stored.barChangePct).not.toBeNull();
    expect(row(run.lastFrame, 'NVDA')).toEqual({
      symbol: 'NVDA',
      'event time (UTC)': '2024-10-02 19:59',
      last: stored.close!.toFixed(2),
      'chg %': '—',
      SMA20: bar.sma20!.toFixed(2),
      EMA20: bar.ema20!.toFixed(2),
      RSI14: bar.rsi14!.toFixed(1),
      VWAP: bar.vwap!.toFixed(2),
      anomalies: String(await storedAnomalies(c, 'NVDA')),
    });
  }, 90_000);

  it('shows no lag once the processor has read everything the stream holds', async () => {
    // The feed done and the stream drained, the view showed the lag of the last batch for good
    // (8030 ms after a 16-symbol synthetic run at --speed max), as if the processor were behind.
    const run = await liveRun(cloud(), { symbol: 'AMD' });
    expect(run.summary).toMatchObject({ ticksIn: 389, processed: 389, interrupted: false });
    expect(run.lastFrame).toContain('stopped');
    expect(run.lastFrame).toMatch(/throughput \d+ rec\/s {2}· {2}lag 0 ms\n/);
  }, 90_000);

  it('keeps the latest progress lines in the view: a batch the processor fails is seen on a terminal', async () => {
    // Written to stderr below the view, they were wiped by its next redraw half a second later.
    const c = cloud();
    await storeUnreadableState(c, 'QQQ');
    const run = await liveRun(c, { symbol: 'QQQ' });
    expect(run.summary).toMatchObject({ ticksIn: 389, processed: 0, discarded: 389 });
    const log =
      run.lastFrame.split('log (latest lines; all of them on stderr: 2> FILE keeps them)\n')[1] ?? '';
    expect(log).toMatch(/^ {2}processor batch on shardId-\d+: discarded \(RetryAttemptsExhausted\)$/m);
  }, 90_000);
});
