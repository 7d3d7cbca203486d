import { beforeEach, describe, expect, it } from 'vitest';
import { createMemorySinks, type MemorySinks } from '../../../src/adapters/memory/index.ts';
import { type Bar, encodeMarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import type { SymbolEngineFactory } from '../../../src/pipeline/process/engine.ts';
import {
  EngineCache,
  type ProcessDeps,
  processBatch,
  type StreamRecord,
} from '../../../src/pipeline/process/process-batch.ts';
import {
  AlertNotPublishedError,
  RowsNotWrittenError,
  type SymbolStateStore,
  TimeseriesRowsRejectedError,
} from '../../../src/ports/processor.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const aaplBars = () => aaplSampleBars();

const NOW = Date.parse('2024-10-03T00:00:00Z');
let seq = 49_000_000_000_000_000_000n;

function nextSeq(): string {
  seq += 1_000n;
  return seq.toString();
}

function record(payload: string, partitionKey: string, sequenceNumber = nextSeq()): StreamRecord {
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber,
    partitionKey,
    data: Buffer.from(payload).toString('base64'),
    arrivalTime: NOW,
  };
}

function barRecord(bar: Bar, sequenceNumber?: string): StreamRecord {
  return record(encodeMarketEvent({ kind: 'bar', bar }), bar.symbol, sequenceNumber);
}

/**
 * A copy of the AAPL day under another symbol with a +8 % jump at bar 300: a 1-minute return far
 * beyond 4 standard deviations of the 200-bar window (the default return z-score detector).
 */
const JUMP_AT = 300;

function jumpDay(symbol: string): Bar[] {
  return aaplBars().map((b, i) => {
    if (i < JUMP_AT) return { ...b, symbol };
    const f = 1.08;
    return { ...b, symbol, open: b.open * f, high: b.high * f, low: b.low * f, close: b.close * f };
  });
}

/** The jump day with a second +8 % jump 30 bars after the first, in the same batch of 50. */
const SECOND_JUMP_AT = JUMP_AT + 30;

function twoJumpDay(symbol: string): Bar[] {
  return jumpDay(symbol).map((b, i) => {
    if (i < SECOND_JUMP_AT) return b;
    const f = 1.08;
    return { ...b, open: b.open * f, high: b.high * f, low: b.low * f, close: b.close * f };
  });
}

const silent = { info() {}, warn() {}, error() {} };

/** The session's first five bars of AAPL, and the same bars as MSFT's: two symbols in one batch. */
function twoSymbols() {
  const bars = aaplBars().slice(0, 5);
  return {
    aapl: bars.map((b) => barRecord(b)),
    msft: bars.map((b) => barRecord({ ...b, symbol: 'MSFT' })),
  };
}

function depsForShared(
  sinks: MemorySinks,
  engines: SymbolEngineFactory = analyticsEngines(),
  engineCache?: EngineCache,
): ProcessDeps {
  return { ...sinks, engines, clock: () => NOW, log: silent, ...(engineCache ? { engineCache } : {}) };
}

const depsFor = (sinks: MemorySinks, engines?: SymbolEngineFactory) => depsForShared(sinks, engines);

async function runInBatches(records: readonly StreamRecord[], deps: ProcessDeps, size = 100) {
  const reports = [];
  for (let i = 0; i < records.length; i += size)
    reports.push(await processBatch(records.slice(i, i + size), deps));
  return reports;
}

function tableOf(sinks: MemorySinks) {
  return JSON.stringify(
    sinks.metrics.rows().sort((a, b) => a.time - b.time || a.symbol.localeCompare(b.symbol)),
  );
}

describe('processBatch', () => {
  let sinks: MemorySinks;
  beforeEach(() => {
    sinks = createMemorySinks({ now: () => NOW });
  });

  it('processes a real session in sequence order: one row per bar, state at the last record, one lake object per batch', async () => {
    const bars = aaplBars();
    const records = bars.map((b) => barRecord(b));
    // Deliver each batch shuffled: the pipeline must still apply records in sequence order.
    const reports = [];
    for (let i = 0; i < records.length; i += 100) {
      const batch = records.slice(i, i + 100).reverse();
      reports.push(await processBatch(batch, depsFor(sinks)));
    }
    expect(reports.flatMap((r) => r.failures)).toEqual([]);
    expect(reports.reduce((n, r) => n + r.processed, 0)).toBe(389);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(389);
    expect(sinks.lake.objectCount).toBe(4);
    const state = sinks.state.get('AAPL')!;
    expect(state.lastSequenceNumber).toBe(records[records.length - 1]!.sequenceNumber);
    expect(state.lastEventTime).toBe(bars[bars.length - 1]!.start);
    // The closes are the file's closes, in order: nothing was applied out of sequence.
    const closes = sinks.metrics.rows('AAPL', 'bar').map((r) => r.values.close);
    expect(closes).toEqual(bars.map((b) => b.close));
    expect(sinks.metrics.latest('AAPL')!.time).toBe(bars[bars.length - 1]!.start);
    // IteratorLag: the clock less the newest event time of each batch (its last bar's start).
    expect(reports.map((r) => r.maxLagMs)).toEqual([99, 199, 299, 388].map((i) => NOW - bars[i]!.start));
  });

  it('rejects a poison record with its reason and stores every other record; the shard moves on', async () => {
    const bars = aaplBars().slice(0, 50);
    const records = bars.map((b) => barRecord(b));
    const broken = { ...bars[25]!, start: bars[25]!.start + 30_000, high: 1, low: 2 };
    records.splice(10, 0, record('{"v":1,"kind":"bar","data":', 'AAPL'));
    records.splice(20, 0, barRecord(broken as Bar));
    records.splice(
      30,
      0,
      record(encodeMarketEvent({ kind: 'bar', bar: { ...bars[0]!, symbol: 'MSFT' } }), 'AAPL'),
    );
    // A time past the last instant a Date holds (its validation once threw, failing the batch).
    records.splice(
      40,
      0,
      record(
        '{"v":1,"kind":"tick","data":{"symbol":"AAPL","time":8640000000000001,"price":1,"source":"replay"}}',
        'AAPL',
      ),
    );
    // Sequence numbers must stay increasing in batch order.
    const ordered = records.map((r, i) => ({ ...r, sequenceNumber: (10n ** 20n + BigInt(i)).toString() }));

    const report = await processBatch(ordered, depsFor(sinks));

    expect(report.failures).toEqual([]);
    expect(report.rejected.map((r) => r.sequenceNumber)).toEqual([
      ordered[10]!.sequenceNumber,
      ordered[20]!.sequenceNumber,
      ordered[30]!.sequenceNumber,
      ordered[40]!.sequenceNumber,
    ]);
    const reasons = sinks.rejects.records.map((r) => r.reason);
    expect(reasons[0]).toMatch(/not JSON/);
    expect(reasons[1]).toMatch(/start: start must be aligned to a whole minute|high/);
    expect(reasons[2]).toMatch(/partitionKey 'AAPL' does not match the event's symbol 'MSFT'/);
    expect(reasons[3]).toMatch(/time must be a date/);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(50);
    expect(sinks.state.get('AAPL')!.lastSequenceNumber).toBe(ordered[ordered.length - 1]!.sequenceNumber);
  });

  it('reports rejected records as failures when the dead-letter queue is down, so nothing is lost', async () => {
    sinks.rejects.faults.failNext();
    const good = barRecord(aaplBars()[0]!);
    const bad = record('not json', 'AAPL');
    const report = await processBatch([good, bad], depsFor(sinks));
    expect(report.failures).toEqual([bad.sequenceNumber]);
  });

  it('keeps a symbol with a record its engine rejected where it was while the dead-letter queue is down, so the retry sends the record', async () => {
    const [first, , third] = aaplBars() as [Bar, Bar, Bar];
    const closed = { ...first, start: Date.parse('2024-10-02T02:00:00Z') }; // 22:00 New York: closed
    const batch = [
      barRecord(closed),
      barRecord(first),
      barRecord(third),
      barRecord({ ...first, symbol: 'MSFT' }),
    ];
    sinks.rejects.faults.failNext();
    const report = await processBatch(batch, depsFor(sinks));
    expect(report.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/outside trading hours/)]);
    // AAPL fails from its first record (the rejected one); MSFT, with nothing rejected, goes on.
    expect(report.failures).toEqual([batch[0]!.sequenceNumber]);
    expect(sinks.state.get('AAPL')).toBeUndefined();
    expect(sinks.state.get('MSFT')!.lastSequenceNumber).toBe(batch[3]!.sequenceNumber);
    // The retry, from the first failure, rejects the record again and this time it reaches the queue.
    const retry = await processBatch(batch, depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(sinks.rejects.records.map((r) => r.sequenceNumber)).toEqual([batch[0]!.sequenceNumber]);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(2);
  });

  it("takes a symbol's bars from its bar feed when quotes come too (the poller's both mode): nothing goes to the dead-letter queue", async () => {
    const bars = aaplBars().slice(0, 30);
    const quote = (b: Bar, offset: number, price: number) =>
      record(
        encodeMarketEvent({
          kind: 'tick',
          tick: { symbol: 'AAPL', time: b.start + offset, price, source: 'yahoo' },
        }),
        'AAPL',
      );
    // Each poll: the quote, then the bar that just completed (the first poll's look-back: bar 0).
    const records = [
      barRecord(bars[0]!),
      ...bars
        .slice(1)
        .flatMap((b, k) => [quote(b, 5_000, b.open), quote(b, 35_000, b.close), barRecord(bars[k]!)]),
    ].filter((r, i, all) => all.findIndex((x) => x.data === r.data) === i);
    const reports = await runInBatches(records, depsFor(sinks), 7);
    expect(reports.flatMap((r) => r.rejected)).toEqual([]);
    expect(reports.reduce((n, r) => n + r.duplicates, 0)).toBe(0);
    expect(sinks.rejects.records).toEqual([]);
    // Every bar row is the feed's bar, volume included (a bar built from quotes has none here).
    const rows = sinks.metrics.rows('AAPL', 'bar');
    expect(rows.map((r) => r.time)).toEqual(bars.slice(0, 29).map((b) => b.start));
    expect(rows.map((r) => [r.values.close, r.values.volume])).toEqual(
      bars.slice(0, 29).map((b) => [b.close, b.volume]),
    );
    expect(sinks.metrics.count('AAPL', 'tick')).toBe(58);
  });

  it('counts a feed bar whose minute the quotes already built as a duplicate: no row, no lake line, nothing to the dead-letter queue', async () => {
    const [b0, b1, b2] = aaplBars() as [Bar, Bar, Bar];
    const quote = (time: number, price: number) =>
      record(
        encodeMarketEvent({ kind: 'tick', tick: { symbol: 'AAPL', time, price, source: 'yahoo' } }),
        'AAPL',
      );
    // Quotes only at first: the quote at 13:32:05 closes the 13:31 bar built from quotes.
    const quotes = [
      quote(b1.start + 5_000, b1.open),
      quote(b1.start + 35_000, b1.close),
      quote(b2.start + 5_000, b2.open),
    ];
    await processBatch(quotes, depsFor(sinks));
    expect(sinks.metrics.rows('AAPL', 'bar').map((r) => r.time)).toEqual([b1.start]);
    // Then the feed delivers the bars of 13:30 and 13:31: both minutes are covered.
    const late = [barRecord(b0), barRecord(b1)];
    const report = await processBatch(late, depsFor(sinks));
    expect(report.duplicates).toBe(2);
    expect(report.processed).toBe(0);
    expect(report.rejected).toEqual([]);
    expect(sinks.rejects.records).toEqual([]);
    expect(sinks.metrics.rows('AAPL', 'bar').map((r) => [r.time, r.values.open])).toEqual([
      [b1.start, b1.open],
    ]);
    expect(sinks.lake.records().map((r) => r.kind)).toEqual(['tick', 'tick', 'tick']);
  });

  it('retried and replayed records change nothing twice and publish no second alert', async () => {
    const records = [...aaplBars(), ...jumpDay('JUMP')]
      .sort((a, b) => a.start - b.start)
      .map((b) => barRecord(b));
    await runInBatches(records, depsFor(sinks));
    const table = tableOf(sinks);
    const states = JSON.stringify([sinks.state.get('AAPL'), sinks.state.get('JUMP')]);
    const alerts = sinks.notifier.published.length;
    expect(alerts).toBeGreaterThan(0);
    expect(
      sinks.notifier.published.some(
        ({ alert: a }) =>
          a.symbol === 'JUMP' && a.kind === 'return-zscore' && a.at === jumpDay('JUMP')[JUMP_AT]!.start,
      ),
    ).toBe(true);

    // The same records again (a retry after a timeout, say): all duplicates.
    const retry = await runInBatches(records, depsFor(sinks));
    expect(retry.reduce((n, r) => n + r.duplicates, 0)).toBe(records.length);
    expect(retry.reduce((n, r) => n + r.behindWatermark, 0)).toBe(0);
    // The same file replayed through the producer: new sequence numbers, same events; skipped by
    // event time, and said so once per symbol and batch.
    const replayed = records.map((r) => ({ ...r, sequenceNumber: nextSeq() }));
    const logged: Record<string, unknown>[] = [];
    const replay = await runInBatches(replayed, {
      ...depsFor(sinks),
      log: { ...silent, info: (message, attributes) => logged.push({ message, ...attributes }) },
    });
    expect(replay.reduce((n, r) => n + r.duplicates, 0)).toBe(records.length);
    expect(replay.reduce((n, r) => n + r.behindWatermark, 0)).toBe(records.length);
    expect(logged).toHaveLength(replay.length * 2);
    expect(logged[0]).toEqual({
      message: 'events at or behind the watermark skipped (a replay, or later than the reorder window)',
      symbol: 'AAPL',
      count: 50,
      kind: 'bar',
      firstSequenceNumber: replayed[0]!.sequenceNumber,
      firstEventTime: aaplBars()[0]!.start,
      watermark: aaplBars().at(-1)!.start,
    });

    expect(tableOf(sinks)).toBe(table);
    expect(sinks.notifier.published.length).toBe(alerts);
    // Nothing advanced: the stored states are the ones of the first run.
    expect(JSON.stringify([sinks.state.get('AAPL'), sinks.state.get('JUMP')])).toBe(states);
  });

  it('a file of ticks replayed gives the same table: a re-applied tick keeps its row (previous bar as of its own time)', async () => {
    // Quotes at :02, :20 and :50 of 30 minutes (the :02 ones inside the previous bar's grace); then
    // the same file through the producer again: new sequence numbers. The ticks of the last 65 s
    // (the reorder window) are folded in again; their rows must come out as they did.
    const bars = aaplBars().slice(0, 30);
    const tick = (time: number, price: number, i: number) =>
      record(
        encodeMarketEvent({
          kind: 'tick',
          tick: { symbol: 'AAPL', time, price, dayVolume: 1_000 * (i + 1), source: 'replay' },
        }),
        'AAPL',
      );
    const ticks = bars.flatMap((b, k) => [
      tick(b.start + 2_000, b.open, 3 * k),
      tick(b.start + 20_000, b.high, 3 * k + 1),
      tick(b.start + 50_000, b.close, 3 * k + 2),
    ]);
    await runInBatches(ticks, depsFor(sinks), 25);
    const table = tableOf(sinks);
    expect(sinks.metrics.count('AAPL', 'tick')).toBe(90);
    const replay = await runInBatches(
      ticks.map((r) => ({ ...r, sequenceNumber: nextSeq() })),
      depsFor(sinks),
      25,
    );
    expect(replay.flatMap((r) => r.rejected)).toEqual([]);
    expect(tableOf(sinks)).toBe(table);
  });

  it('a crypto tick file ending just after midnight UTC replayed gives the same table: a quote keeps its previous close', async () => {
    // BTC-USD trades round the clock on UTC days: the day before's close is its last bar's. A quote
    // at 00:00:02 comes while the 23:59 bar is still open (its grace); the file ends at 00:00:30.
    const midnight = Date.parse('2024-10-03T00:00:00Z');
    const ticks = Array.from({ length: 15 }, (_, i) => midnight - 300_000 + 20_000 * i)
      .concat([midnight + 2_000, midnight + 30_000])
      .map((time, i) =>
        record(
          encodeMarketEvent({
            kind: 'tick',
            tick: { symbol: 'BTC-USD', time, price: 60_000 + 10 * i, source: 'replay' },
          }),
          'BTC-USD',
        ),
      );
    const deps = { ...depsFor(sinks), clock: () => midnight + 3_600_000 };
    await runInBatches(ticks, deps, 5);
    const quotes = () =>
      sinks.metrics.rows('BTC-USD', 'tick').map((r) => [r.time, r.values.previousClose, r.values.changePct]);
    const first = quotes();
    // The quote at 00:00:02 is measured against the 23:58 bar (its last tick, the 12th), the one
    // closed by its time.
    expect(first.find(([t]) => t === midnight + 2_000)?.[1]).toBe(60_000 + 10 * 11);
    const replay = await runInBatches(
      ticks.map((r) => ({ ...r, sequenceNumber: nextSeq() })),
      deps,
      5,
    );
    expect(replay.flatMap((r) => r.rejected)).toEqual([]);
    expect(quotes()).toEqual(first);
  });

  it("a capture of the poller's both mode replayed gives the same table: a quote keeps the feed bars it had", async () => {
    // Each 30 s poll as the poller sends it: the quote first, then the feed's bars completed by
    // then. A minute's first quote (:20) comes before the previous minute's feed bar, which that
    // poll brings after it; the capture ends on a minute's last poll.
    const bars = aaplBars().slice(0, 30);
    const quote = (time: number, price: number) =>
      record(
        encodeMarketEvent({ kind: 'tick', tick: { symbol: 'AAPL', time, price, source: 'yahoo' } }),
        'AAPL',
      );
    const capture = [
      barRecord(bars[0]!),
      ...bars
        .slice(1)
        .flatMap((b, k) => [
          quote(b.start + 20_000, b.open),
          barRecord(bars[k]!),
          quote(b.start + 50_000, b.close),
        ]),
    ];
    await runInBatches(capture, depsFor(sinks), 7);
    const table = tableOf(sinks);
    // A warm container computes what one restoring every batch does, state bytes included.
    const warm = createMemorySinks({ now: () => NOW });
    await runInBatches(capture, depsForShared(warm, analyticsEngines(), new EngineCache()), 7);
    expect(tableOf(warm)).toBe(table);
    expect(Buffer.from(warm.state.get('AAPL')!.snapshot as Uint8Array)).toEqual(
      Buffer.from(sinks.state.get('AAPL')!.snapshot as Uint8Array),
    );
    // Live, a :20 quote is measured against the bar two minutes back (its previous minute's feed
    // bar has not come yet; the first minute's, against the look-back's bar), a :50 quote against
    // the previous minute's.
    const previousBars = sinks.metrics.rows('AAPL', 'tick').map((r) => r.values.previousBarClose);
    expect(previousBars).toEqual(
      bars.slice(1).flatMap((_, k) => [bars[Math.max(k - 1, 0)]!.close, bars[k]!.close]),
    );
    const replay = await runInBatches(
      capture.map((r) => ({ ...r, sequenceNumber: nextSeq() })),
      depsFor(sinks),
      7,
    );
    expect(replay.flatMap((r) => r.rejected)).toEqual([]);
    expect(tableOf(sinks)).toBe(table);
  });

  for (const [sink, cached] of (['metrics', 'lake', 'timeseries', 'notifier', 'state'] as const).flatMap(
    (s) =>
      [
        [s, false],
        [s, true],
      ] as const,
  )) {
    it(`a crash right after the ${sink} write, then the retry, leaves exactly the uninterrupted result${cached ? ' (warm engine cache)' : ''}`, async () => {
      const records = jumpDay('JUMP').map((b) => barRecord(b));
      const reference = createMemorySinks({ now: () => NOW });
      await runInBatches(records, depsFor(reference), 50);
      // With a cache, engines stay warm across batches; the crashed batch's engine must not be reused.
      const cache = cached ? new EngineCache() : undefined;
      const warm = (s: MemorySinks) => depsForShared(s, analyticsEngines(), cache);

      // Crash after the effect in the batch holding the jump (records 300..349), then retry it.
      await runInBatches(records.slice(0, JUMP_AT), warm(sinks), 50);
      sinks[sink].faults.failNext({ timing: 'after' });
      const crashed = records.slice(JUMP_AT, JUMP_AT + 50);
      const first = await processBatch(crashed, warm(sinks));
      // The effect landed, yet the invocation saw an error: the symbol is reported from its first record.
      expect(first.failures).toEqual([crashed[0]!.sequenceNumber]);
      await processBatch(crashed, warm(sinks));
      await runInBatches(records.slice(JUMP_AT + 50), warm(sinks), 50);

      expect(tableOf(sinks)).toBe(tableOf(reference));
      expect(sinks.metrics.count('JUMP', 'bar')).toBe(389);
      expect(JSON.stringify(sinks.state.get('JUMP'))).toBe(JSON.stringify(reference.state.get('JUMP')));
      const key = (a: { symbol: string; kind: string; at: number }) => `${a.symbol}|${a.kind}|${a.at}`;
      expect(sinks.notifier.published.map((p) => key(p.alert))).toEqual(
        reference.notifier.published.map((p) => key(p.alert)),
      );
    });
  }

  it('reports the time-series rows its store refuses for good and fails no symbol for them', async () => {
    const { aapl, msft } = twoSymbols();
    const refused = ['MSFT', 'AAPL'].map((symbol) => ({
      symbol,
      kind: 'bar' as const,
      time: aaplBars()[0]!.start,
      reason: 'outside the ingestion window',
    }));
    sinks.timeseries.faults.failNext({
      timing: 'after',
      error: new TimeseriesRowsRejectedError('refused', refused),
    });
    const report = await processBatch([...aapl, ...msft], depsFor(sinks));
    expect(report.failures).toEqual([]);
    // Counted per row refused, not per error.
    expect(report.timeseriesRejected).toBe(2);
    expect(sinks.state.get('AAPL')?.lastSequenceNumber).toBe(aapl[4]!.sequenceNumber);
    expect(sinks.state.get('MSFT')?.lastSequenceNumber).toBe(msft[4]!.sequenceNumber);
    // Any other failure of the store is a fault: the batch's symbols are retried.
    sinks.timeseries.faults.failNext({ timing: 'before' });
    const next = aaplBars()
      .slice(5, 7)
      .map((b) => barRecord(b));
    const failed = await processBatch(next, depsFor(sinks));
    expect(failed.failures).toEqual([next[0]!.sequenceNumber]);
    expect(failed.timeseriesRejected).toBe(0);
  });

  it('names in a failed write’s error line each symbol and the record it will be retried from', async () => {
    const { aapl, msft } = twoSymbols();
    // AAPL's first two records are stored already: its retry starts at its third.
    await processBatch(aapl.slice(0, 2), depsFor(sinks));
    sinks.lake.faults.failNext({ timing: 'before', error: new Error('lake unavailable') });
    const logged: Record<string, unknown>[] = [];
    const log = {
      ...silent,
      error: (message: string, attributes?: object) => logged.push({ message, ...attributes }),
    };
    const report = await processBatch([...aapl, ...msft], { ...depsFor(sinks), log });
    expect(report.failures).toEqual([aapl[2]!.sequenceNumber, msft[0]!.sequenceNumber]);
    expect(logged).toEqual([
      {
        message: 'lake write failed',
        error: 'Error: lake unavailable',
        symbols: ['AAPL', 'MSFT'],
        from: { AAPL: aapl[2]!.sequenceNumber, MSFT: msft[0]!.sequenceNumber },
      },
    ]);
  });

  it('fails only the symbols whose rows the store could not write (a hot partition); the others advance', async () => {
    const { aapl, msft } = twoSymbols();
    sinks.metrics.faults.failNext({ timing: 'after', error: new RowsNotWrittenError('throttled', ['MSFT']) });
    const report = await processBatch([...aapl, ...msft], depsFor(sinks));
    expect(report.failures).toEqual([msft[0]!.sequenceNumber]);
    expect(sinks.state.get('AAPL')?.lastSequenceNumber).toBe(aapl[4]!.sequenceNumber);
    expect(sinks.state.get('MSFT')).toBeUndefined();
    // The retry writes MSFT's rows and advances it; AAPL's records are covered.
    const retry = await processBatch([...aapl, ...msft], depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(sinks.state.get('MSFT')?.lastSequenceNumber).toBe(msft[4]!.sequenceNumber);
    expect(sinks.metrics.count('MSFT', 'bar')).toBe(5);
  });

  it('sends every anomaly, each under its own id: two return z-score alerts of one symbol and day', async () => {
    const bars = twoJumpDay('JUMP');
    await runInBatches(
      bars.map((b) => barRecord(b)),
      depsFor(sinks),
      50,
    );
    const sent = sinks.notifier.published.map((p) => p.alert).filter((a) => a.kind === 'return-zscore');
    expect(sent.map((a) => a.at)).toEqual([bars[JUMP_AT]!.start, bars[SECOND_JUMP_AT]!.start]);
    expect(new Set(sent.map((a) => a.id)).size).toBe(2);
  });

  it('publishes no alert of a symbol whose rows were not written; the retry publishes it once rows are stored', async () => {
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    sinks.metrics.faults.failNext({ timing: 'before' });
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([batch[0]!.sequenceNumber]);
    expect(sinks.metrics.count('JUMP', 'bar')).toBe(JUMP_AT);
    const sent = () => sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore');
    expect(sent()).toHaveLength(0);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([]);
    expect(sinks.metrics.count('JUMP', 'bar')).toBe(JUMP_AT + 50);
    expect(sent().map((p) => p.alert.at)).toEqual([jumpDay('JUMP')[JUMP_AT]!.start]);
  });

  it("a symbol's alerts go out in order: after a refused publish, its later alerts wait for the retry", async () => {
    const bars = twoJumpDay('JUMP');
    const records = bars.map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    // The first alert of the batch is refused (nothing sent, its claim given back).
    sinks.notifier.faults.failNext({ timing: 'before', error: new AlertNotPublishedError('x', 'throttled') });
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    const sentBefore = sinks.notifier.published.length;
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([batch[0]!.sequenceNumber]);
    expect(sinks.notifier.published.length).toBe(sentBefore);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([]);
    const zs = sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore');
    expect(zs.map((p) => p.alert.at)).toEqual([bars[JUMP_AT]!.start, bars[SECOND_JUMP_AT]!.start]);
  });

  it('a container whose warm engine is behind the stored state (another container saved since) restores it', async () => {
    // Lambda may hand a shard's next batch to another container: two containers taking turns,
    // each with its own warm engines, must compute what one container restoring every batch does.
    const records = twoJumpDay('JUMP').map((b) => barRecord(b));
    const reference = createMemorySinks({ now: () => NOW });
    await runInBatches(records, depsFor(reference), 20);
    const containers = [new EngineCache(), new EngineCache()];
    for (let i = 0, turn = 0; i < records.length; i += 20, turn++) {
      const deps = depsForShared(sinks, analyticsEngines(), containers[turn % 2]);
      expect((await processBatch(records.slice(i, i + 20), deps)).failures).toEqual([]);
    }
    expect(tableOf(sinks)).toBe(tableOf(reference));
    expect(sinks.notifier.published.map((p) => p.alert.id)).toEqual(
      reference.notifier.published.map((p) => p.alert.id),
    );
    expect(Buffer.from(sinks.state.get('JUMP')!.snapshot as Uint8Array)).toEqual(
      Buffer.from(reference.state.get('JUMP')!.snapshot as Uint8Array),
    );
  });

  it('a failed publish releases its claim so the retry sends the alert', async () => {
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    sinks.notifier.faults.failNext({ timing: 'before', error: new AlertNotPublishedError('x', 'throttled') });
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([batch[0]!.sequenceNumber]);
    expect(sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore')).toHaveLength(0);
    await processBatch(batch, depsFor(sinks));
    expect(sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore')).toHaveLength(1);
  });

  it('a claim whose reply was lost is given back, so the retry sends the alert once', async () => {
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    // The claim is stored, then the call fails: nothing was published.
    sinks.ledger.faults.failNext({ timing: 'after' });
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([batch[0]!.sequenceNumber]);
    const sent = () => sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore');
    expect(sent()).toHaveLength(0);
    await processBatch(batch, depsFor(sinks));
    expect(sent()).toHaveLength(1);
    await processBatch(batch, depsFor(sinks));
    expect(sent()).toHaveLength(1);
  });

  it('says so when an unpublished claim cannot be given back: the alert stays claimed, never sent twice', async () => {
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    sinks.notifier.faults.failNext({ timing: 'before', error: new AlertNotPublishedError('x', 'throttled') });
    const release = sinks.ledger.release.bind(sinks.ledger);
    sinks.ledger.release = async () => {
      throw new Error('ledger unavailable');
    };
    const errors: string[] = [];
    const log = { ...silent, error: (message: string) => errors.push(message) };
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    expect((await processBatch(batch, { ...depsFor(sinks), log })).failures).toEqual([
      batch[0]!.sequenceNumber,
    ]);
    expect(errors).toContain('alert not published and its claim not given back: it will not be sent');
    sinks.ledger.release = release;
    const retry = await processBatch(batch, depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(retry.alertsSuppressed).toBeGreaterThan(0);
    expect(sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore')).toHaveLength(0);
  });

  it('an alert whose publish outcome is unknown stays claimed: never sent twice', async () => {
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    await runInBatches(records.slice(0, JUMP_AT), depsFor(sinks), 50);
    // The connection breaks after the request left: SNS may or may not have it.
    sinks.notifier.faults.failNext({ timing: 'after', error: new Error('socket hang up') });
    const batch = records.slice(JUMP_AT, JUMP_AT + 50);
    expect((await processBatch(batch, depsFor(sinks))).failures).toEqual([batch[0]!.sequenceNumber]);
    const retry = await processBatch(batch, depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(retry.alertsSuppressed).toBe(1);
    expect(sinks.notifier.published.filter((p) => p.alert.kind === 'return-zscore')).toHaveLength(1);
  });

  it('continues from state an earlier release stored as a JSON document (version 1), as if never interrupted', async () => {
    const bars = aaplBars();
    const records = bars.map((b) => barRecord(b));
    const reference = createMemorySinks({ now: () => NOW });
    await runInBatches(records, depsFor(reference));

    // The state as version 1 wrote it after the first 150 bars: the same document, plain JSON.
    const engine = analyticsEngines().create('AAPL');
    for (const bar of bars.slice(0, 150)) engine.apply({ kind: 'bar', bar });
    const first = await runInBatches(records.slice(0, 150), depsFor(sinks));
    expect(first.flatMap((r) => r.failures)).toEqual([]);
    const upgraded = createMemorySinks({ now: () => NOW });
    await upgraded.state.save(
      {
        symbol: 'AAPL',
        lastSequenceNumber: records[149]!.sequenceNumber,
        lastEventTime: bars[149]!.start,
        snapshot: JSON.parse(
          JSON.stringify({ v: 1, watermarks: { bar: bars[149]!.start }, engine: engine.snapshot() }),
        ),
      },
      undefined,
    );
    for (const row of sinks.metrics.rows()) await upgraded.metrics.write([row]);
    const rest = await runInBatches(records.slice(150), depsFor(upgraded));
    expect(rest.flatMap((r) => r.failures)).toEqual([]);
    expect(tableOf(upgraded)).toBe(tableOf(reference));
    // From then on the state is stored in the binary form.
    expect(upgraded.state.get('AAPL')!.snapshot).toBeInstanceOf(Uint8Array);
  });

  it('a container restoring every batch from the stored snapshot and log computes what a warm one does', async () => {
    // Live trading: about one bar per symbol per batch, so most saves append to the state's log.
    const records = jumpDay('JUMP').map((b) => barRecord(b));
    const warm = createMemorySinks();
    await runInBatches(records, depsForShared(warm, analyticsEngines(), new EngineCache()), 2);
    await runInBatches(records, depsFor(sinks), 2);
    expect(tableOf(sinks)).toBe(tableOf(warm));
    expect(sinks.notifier.published.map((p) => p.alert.id)).toEqual(
      warm.notifier.published.map((p) => p.alert.id),
    );
    expect(sinks.notifier.published.length).toBeGreaterThan(0);
    expect(Buffer.from(sinks.state.get('JUMP')!.snapshot as Uint8Array)).toEqual(
      Buffer.from(warm.state.get('JUMP')!.snapshot as Uint8Array),
    );
  });

  it('isolates a failing symbol: it fails from its first unprocessed record, the others succeed', async () => {
    const aapl = aaplBars().slice(0, 20);
    const msft = aapl.map((b) => ({ ...b, symbol: 'MSFT' }));
    const records = aapl.flatMap((b, i) => [barRecord(b), barRecord(msft[i]!)]);
    // MSFT's stored state is unusable (written by an incompatible version, say).
    await sinks.state.save(
      {
        symbol: 'MSFT',
        lastSequenceNumber: '1',
        lastEventTime: 0,
        snapshot: { v: 1, watermarks: {}, engine: { v: 99 } },
      },
      undefined,
    );
    const report = await processBatch(records, depsFor(sinks));
    expect(report.failures).toEqual([records[1]!.sequenceNumber]);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(20);
    expect(sinks.metrics.count('MSFT', 'bar')).toBe(0);
    expect(sinks.state.get('AAPL')!.lastSequenceNumber).toBe(records[records.length - 2]!.sequenceNumber);
    expect(sinks.state.get('MSFT')!.lastSequenceNumber).toBe('1');
  });

  it('a retry that writes part of a batch to the lake adds an object and never overwrites one with fewer records', async () => {
    const [a0, a1] = aaplBars() as [Bar, Bar];
    const batch = [barRecord(a0), barRecord({ ...a0, symbol: 'MSFT' }), barRecord(a1)];
    const save = sinks.state.save.bind(sinks.state);
    let throttled = false; // AAPL's first state save is throttled
    sinks.state.save = async (state, expected) => {
      if (state.symbol !== 'AAPL' || throttled) return save(state, expected);
      throttled = true;
      throw new Error('ProvisionedThroughputExceededException');
    };
    const first = await processBatch(batch, depsFor(sinks));
    expect(first.failures).toEqual([batch[0]!.sequenceNumber]);
    // Lambda retries from there: MSFT has advanced, so only AAPL's two records reach the lake.
    const retry = await processBatch(batch, depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(retry.duplicates).toBe(1);
    expect(sinks.lake.objectCount).toBe(2);
    expect(sinks.lake.objects().map((o) => o.records.map((r) => r.symbol))).toEqual(
      expect.arrayContaining([
        ['AAPL', 'MSFT', 'AAPL'],
        ['AAPL', 'AAPL'],
      ]),
    );
    expect(new Set(sinks.lake.records().map((r) => r.sequenceNumber))).toEqual(
      new Set(batch.map((r) => r.sequenceNumber)),
    );
  });

  it("isolates a symbol whose state cannot be encoded: its state stays where it was, the others' advance", async () => {
    const real = analyticsEngines();
    const unsavable: SymbolEngineFactory = {
      tickReorderWindowMs: real.tickReorderWindowMs,
      create(symbol) {
        const engine = real.create(symbol);
        if (symbol !== 'MSFT') return engine;
        return {
          apply: (event) => engine.apply(event),
          snapshot: () => {
            throw new Error('engine state cannot be captured');
          },
        };
      },
      restore: (symbol, snapshot) => real.restore(symbol, snapshot),
    };
    const aapl = aaplBars().slice(0, 10);
    const records = aapl.flatMap((b) => [barRecord(b), barRecord({ ...b, symbol: 'MSFT' })]);
    const report = await processBatch(records, depsFor(sinks, unsavable));
    expect(report.failures).toEqual([records[1]!.sequenceNumber]);
    expect(sinks.state.get('AAPL')!.lastSequenceNumber).toBe(records[records.length - 2]!.sequenceNumber);
    expect(sinks.state.get('MSFT')).toBeUndefined();
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(10);
  });
  it('retries a symbol whose state another writer advanced after the batch loaded it, and continues from that state', async () => {
    const records = aaplBars()
      .slice(0, 30)
      .map((b) => barRecord(b));
    const reference = createMemorySinks({ now: () => NOW });
    await runInBatches(records, depsFor(reference), 10);

    await processBatch(records.slice(0, 10), depsFor(sinks));
    // Another writer (here: an invocation holding only record 10) saves between this batch's load
    // and its save.
    const store = sinks.state;
    let otherWriter: (() => Promise<unknown>) | undefined = () =>
      processBatch(records.slice(10, 11), depsFor(sinks));
    const racing: SymbolStateStore = {
      loadMany: (symbols) => store.loadMany(symbols),
      save: async (state, expected) => {
        const other = otherWriter;
        otherWriter = undefined;
        await other?.();
        return store.save(state, expected);
      },
    };
    const raced = await processBatch(records.slice(10, 20), { ...depsFor(sinks), state: racing });
    expect(raced.stateConflicts).toBe(1);
    expect(raced.failures).toEqual([records[10]!.sequenceNumber]);
    expect(raced.processed).toBe(0);

    // Lambda retries from the reported record: record 10 is covered, 11–19 are applied on top.
    const retry = await processBatch(records.slice(10, 20), depsFor(sinks));
    expect(retry.failures).toEqual([]);
    expect(retry.duplicates).toBe(1);
    await processBatch(records.slice(20), depsFor(sinks));
    expect(store.get('AAPL')!.lastSequenceNumber).toBe(records.at(-1)!.sequenceNumber);
    expect(tableOf(sinks)).toBe(tableOf(reference));
  });

  it('fails the whole batch from its first record when state cannot be loaded', async () => {
    sinks.state.faults.failNext();
    const records = aaplBars()
      .slice(0, 5)
      .map((b) => barRecord(b));
    const report = await processBatch(records, depsFor(sinks));
    expect(report.failures).toEqual([records[0]!.sequenceNumber]);
    expect(sinks.metrics.count()).toBe(0);
  });

  it('a bar its engine refuses moves no watermark: the bars after it are stored, the refused one dead-lettered', async () => {
    const bars = aaplBars().slice(0, 20);
    // 20:03 New York, after the close: outside every session, and newer than the bars after it.
    const outside = { ...bars[0]!, start: Date.parse('2024-10-03T00:03:00Z') };
    const batch = [...bars.slice(0, 10), outside, ...bars.slice(10)].map((b) => barRecord(b));
    const report = await processBatch(batch, depsFor(sinks));
    expect(report.failures).toEqual([]);
    expect(sinks.rejects.records.map((r) => r.sequenceNumber)).toEqual([batch[10]!.sequenceNumber]);
    expect(report.behindWatermark).toBe(0);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(20);
    // The saved state was not moved to 20:03 either: the next batch's bars are taken.
    const next = aaplBars()
      .slice(20, 25)
      .map((b) => barRecord(b));
    expect((await processBatch(next, depsFor(sinks))).failures).toEqual([]);
    expect(sinks.metrics.count('AAPL', 'bar')).toBe(25);
  });

  it('a tick after the close is refused but closes the open bar: session ticks after it in the stream are late', async () => {
    const tick = (iso: string, price: number, dayVolume: number) =>
      record(
        encodeMarketEvent({
          kind: 'tick',
          tick: {
            symbol: 'AAPL',
            time: Date.parse(iso),
            price,
            dayVolume,
            previousClose: 226.78,
            source: 'replay',
          },
        }),
        'AAPL',
      );
    const batch = [
      tick('2024-10-02T19:58:10Z', 226.1, 40_000_000),
      tick('2024-10-02T19:58:40Z', 226.3, 40_100_000),
      // 20:05 New York, after the close: refused, but time has moved past the 15:58 bar's grace.
      tick('2024-10-03T00:05:00Z', 226.5, 40_900_000),
      // In the session, but behind the refused tick: their bars (15:58, 15:59) have closed.
      tick('2024-10-02T19:58:50Z', 226.2, 40_200_000),
      tick('2024-10-02T19:59:20Z', 226.4, 40_300_000),
    ];
    const report = await processBatch(batch, depsFor(sinks));
    expect(report.failures).toEqual([]);
    expect(report.behindWatermark).toBe(0);
    expect(sinks.rejects.records.map((r) => r.sequenceNumber)).toEqual(
      [2, 3, 4].map((i) => batch[i]!.sequenceNumber),
    );
    expect(sinks.rejects.records.map((r) => r.reason)).toEqual([
      expect.stringMatching(/outside trading hours/),
      expect.stringMatching(/is late: its bar 2024-10-02T19:58:00.000Z closed/),
      expect.stringMatching(/is late: its bar 2024-10-02T19:59:00.000Z closed/),
    ]);
    // The two ticks before it made the 15:58 bar, closed by the refused tick's time.
    expect(sinks.metrics.count('AAPL', 'tick')).toBe(2);
    expect(sinks.metrics.rows('AAPL', 'bar').map((b) => [b.time, b.values.open, b.values.close])).toEqual([
      [Date.parse('2024-10-02T19:58:00Z'), 226.1, 226.3],
    ]);
  });

  it('a replayed tick file sends nothing to the dead-letter queue and leaves the table as it was', async () => {
    const bars = aaplBars().slice(0, 60);
    // The day's volume so far, half of each bar's at each of its two ticks.
    const before = (n: number) => 1_000_000 + bars.slice(0, n).reduce((v, b) => v + b.volume, 0);
    const ticks = bars.flatMap((b, n) =>
      [5_000, 35_000].map((offset, i) =>
        encodeMarketEvent({
          kind: 'tick',
          tick: {
            symbol: 'AAPL',
            time: b.start + offset,
            price: i === 0 ? b.open : b.close,
            dayVolume: before(n) + (b.volume / 2) * (i + 1),
            previousClose: 226.78,
            source: 'replay',
          },
        }),
      ),
    );
    // Each run puts the ticks under new sequence numbers.
    const run = () =>
      runInBatches(
        ticks.map((t) => record(t, 'AAPL')),
        depsFor(sinks),
        20,
      );
    const first = await run();
    expect(first.flatMap((r) => r.failures)).toEqual([]);
    expect(sinks.rejects.records).toEqual([]);
    const table = tableOf(sinks);
    // The same events under new sequence numbers: the last batch's ticks are inside the reorder
    // window, and the ones whose bar has closed are refused by the engine as late.
    const replay = await run();
    expect(replay.flatMap((r) => r.failures)).toEqual([]);
    expect(sinks.rejects.records).toEqual([]);
    expect(replay.reduce((n, r) => n + r.behindWatermark, 0)).toBeGreaterThan(100);
    expect(tableOf(sinks)).toBe(table);
  });

  it('turns ticks into quote rows and closed 1-minute bars', async () => {
    const t0 = Date.parse('2024-10-02T13:30:05Z');
    const prices = [225.9, 226.1, 225.4, 225.7, 225.95];
    const tickRecords = prices.map((price, i) =>
      record(
        encodeMarketEvent({
          kind: 'tick',
          tick: {
            symbol: 'AAPL',
            time: t0 + i * 20_000,
            price,
            dayVolume: 1_000_000 + i * 10_000,
            previousClose: 226.78,
            source: 'replay',
          },
        }),
        'AAPL',
      ),
    );
    // The :25 tick arrives after the :45 one, in a later batch: it is still folded into its open bar.
    const [a, b, c, d, e] = tickRecords as [
      StreamRecord,
      StreamRecord,
      StreamRecord,
      StreamRecord,
      StreamRecord,
    ];
    const first = await processBatch([{ ...a }, { ...c, sequenceNumber: b.sequenceNumber }], depsFor(sinks));
    const report = await processBatch([{ ...b, sequenceNumber: c.sequenceNumber }, d, e], depsFor(sinks));
    expect(first.failures).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.duplicates).toBe(0);
    expect(sinks.metrics.count('AAPL', 'tick')).toBe(5);
    // Ticks at :05, :25, :45 make the 13:30 bar; the tick at 13:31:05 closes it.
    const bars = sinks.metrics.rows('AAPL', 'bar');
    expect(bars).toHaveLength(1);
    expect(bars[0]!.time).toBe(Date.parse('2024-10-02T13:30:00Z'));
    expect(bars[0]!.values).toMatchObject({ open: 225.9, high: 226.1, low: 225.4, close: 225.4 });
    const quote = sinks.metrics.rows('AAPL', 'tick')[0]!;
    expect(quote.values.changePct).toBeCloseTo(((225.9 - 226.78) / 226.78) * 100, 10);
  });

  it('moves LATEST only forward: a late tick folded into its bar does not replace a newer quote', async () => {
    for (const cache of [undefined, new EngineCache()]) {
      const own = createMemorySinks({ now: () => NOW });
      const deps = depsForShared(own, analyticsEngines(), cache);
      const tick = (second: number, price: number) =>
        record(
          encodeMarketEvent({
            kind: 'tick',
            tick: {
              symbol: 'AAPL',
              time: Date.parse('2024-10-02T13:30:00Z') + second * 1000,
              price,
              dayVolume: 1_000_000 + second,
              previousClose: 226.78,
              source: 'replay',
            },
          }),
          'AAPL',
        );
      expect((await processBatch([tick(5, 225.9), tick(45, 226.2)], deps)).failures).toEqual([]);
      expect(own.metrics.latest('AAPL')).toMatchObject({ kind: 'tick', values: { price: 226.2 } });
      // 13:30:35 arrives late (inside the bar's grace window): its quote row is stored, LATEST stays.
      const late = await processBatch([tick(35, 225.5)], deps);
      expect(late.failures).toEqual([]);
      expect(own.metrics.count('AAPL', 'tick'), cache ? 'warm' : 'restored').toBe(3);
      expect(own.metrics.latest('AAPL')!.time).toBe(Date.parse('2024-10-02T13:30:45Z'));
      // 13:31:05 closes the 13:30 bar (an older row) and is the newest quote: LATEST is the quote.
      expect((await processBatch([tick(65, 225.7)], deps)).failures).toEqual([]);
      expect(own.metrics.latest('AAPL')).toMatchObject({
        kind: 'tick',
        time: Date.parse('2024-10-02T13:31:05Z'),
        values: { price: 225.7 },
      });
    }
  });
});
