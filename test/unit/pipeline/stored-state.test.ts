import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MarketEvent } from '../../../src/domain/market/index.ts';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import { encodeStoredSnapshot } from '../../../src/pipeline/process/snapshot-codec.ts';
import {
  nextStoredState,
  readStoredState,
  restoreEngine,
  type StateParts,
  StoredStateError,
  stateWriteUnits,
} from '../../../src/pipeline/process/stored-state.ts';
import type { SymbolStateRecord } from '../../../src/ports/processor.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const record = (snapshot: unknown, lastEventTime = 0): SymbolStateRecord => ({
  symbol: 'AAPL',
  lastSequenceNumber: '1',
  lastEventTime,
  snapshot,
});

/** Runs the real AAPL day through one engine in batches, storing its state after each as the pipeline does. */
function storeDay(batchSize: number) {
  const engines = analyticsEngines();
  const engine = engines.create('AAPL');
  const events: MarketEvent[] = aaplSampleBars().map((bar) => ({ kind: 'bar', bar }));
  let current: Partial<StateParts> = {};
  const saves: { bytes: Uint8Array; rebased: boolean; baseOnlyUnits: number; expected: string }[] = [];
  for (let i = 0; i < events.length; i += batchSize) {
    const batch = events.slice(i, i + batchSize);
    for (const e of batch) engine.apply(e);
    const last = batch[batch.length - 1]!;
    const watermarks = { bar: last.kind === 'bar' ? last.bar.start : 0 };
    let rebased = false;
    const next = nextStoredState('AAPL', current as StateParts, batch, watermarks, watermarks.bar, () => {
      rebased = true;
      return engine.snapshot();
    });
    current = next.parts;
    saves.push({
      bytes: next.bytes,
      rebased,
      baseOnlyUnits: stateWriteUnits(next.bytes.length - next.parts.log.bytes.length),
      expected: JSON.stringify(engine.snapshot()),
    });
  }
  return { engines, saves };
}

describe('stored state: a snapshot and the events applied since', () => {
  it.each([
    1, 3, 10,
  ])('restores exactly the saved engine after every batch of %i, appending while it costs no extra write unit', (batchSize) => {
    const { engines, saves } = storeDay(batchSize);
    expect(saves[0]!.rebased).toBe(true);
    const appended = saves.filter((s) => !s.rebased);
    const rebased = saves.filter((s) => s.rebased);
    // Most saves append at live density; larger batches fill the room faster.
    expect(appended.length).toBeGreaterThan(0);
    expect(rebased.length).toBeGreaterThan(1);
    if (batchSize === 1) expect(appended.length).toBeGreaterThan(saves.length * 0.8);
    for (const s of appended) expect(stateWriteUnits(s.bytes.length)).toBe(s.baseOnlyUnits);
    for (const [i, s] of saves.entries()) {
      const stored = readStoredState(record(s.bytes));
      const restored = JSON.stringify(restoreEngine('AAPL', stored, engines).snapshot());
      if (restored !== s.expected) expect.fail(`save ${i}: the restored engine differs from the saved one`);
      expect(stored.events.length).toBe(stored.log!.count);
    }
  });

  it('a restored engine continues exactly as the one that never stopped', () => {
    const { engines, saves } = storeDay(1);
    const bars = aaplSampleBars();
    // Stop after a batch whose save appended to the log, a good way into the day.
    const at = saves.findIndex((s, i) => i >= 150 && !s.rebased) + 1;
    expect(at).toBeGreaterThan(150);
    const stored = readStoredState(record(saves[at - 1]!.bytes));
    expect(stored.events.length).toBeGreaterThan(0);
    const restored = restoreEngine('AAPL', stored, engines);
    const reference = engines.create('AAPL');
    for (const bar of bars.slice(0, at)) reference.apply({ kind: 'bar', bar });
    for (const bar of bars.slice(at)) {
      expect(restored.apply({ kind: 'bar', bar })).toEqual(reference.apply({ kind: 'bar', bar }));
    }
  });

  it('reads a version-2 state as a base with an empty log, and a version-1 JSON state without one', () => {
    const engines = analyticsEngines();
    const engine = engines.create('AAPL');
    for (const bar of aaplSampleBars().slice(0, 30)) engine.apply({ kind: 'bar', bar });
    const watermarks = { bar: aaplSampleBars()[29]!.start };
    const v2 = encodeStoredSnapshot({ v: 2, watermarks, latestRowTime: 5, engine: engine.snapshot() });
    const two = readStoredState(record(v2));
    expect(two.base).toBe(v2);
    expect(two.log!.count).toBe(0);
    expect(two.latestRowTime).toBe(5);
    expect(two.engine).toEqual(engine.snapshot());

    const one = readStoredState(record({ v: 1, watermarks, engine: engine.snapshot() }, 777));
    expect(one.base).toBeUndefined();
    expect(one.log).toBeUndefined();
    expect(one.latestRowTime).toBe(777);
    expect(JSON.stringify(restoreEngine('AAPL', one, engines).snapshot())).toBe(
      JSON.stringify(engine.snapshot()),
    );
  });

  it('restores a whole state an earlier release stored (frozen fixture), and saves on from it', () => {
    // Release 648987a, the AAPL day in batches of 10, saved after bar 250: TSC1 base, kind-2 log.
    const bytes = Buffer.from(
      readFileSync(new URL('../../fixtures/state/tsl1-aapl-250.b64', import.meta.url), 'utf8'),
      'base64',
    );
    const bars = aaplSampleBars();
    const engines = analyticsEngines();
    const reference = engines.create('AAPL');
    for (const bar of bars.slice(0, 250)) reference.apply({ kind: 'bar', bar });
    const stored = readStoredState(record(bytes));
    expect(stored.events.length).toBe(50);
    expect(stored.watermarks).toEqual({ bar: bars[249]!.start });
    const restored = restoreEngine('AAPL', stored, engines);
    expect(JSON.stringify(restored.snapshot())).toBe(JSON.stringify(reference.snapshot()));
    // This release appends the next batch to that log, in short, keeping the old base's bytes.
    const batch: MarketEvent[] = bars.slice(250, 260).map((bar) => ({ kind: 'bar', bar }));
    for (const e of batch) {
      expect(restored.apply(e)).toEqual(reference.apply(e));
    }
    const watermarks = { bar: bars[259]!.start };
    const next = nextStoredState('AAPL', stored, batch, watermarks, watermarks.bar, () =>
      restored.snapshot(),
    );
    expect(next.parts.base).toBe(stored.base);
    expect(next.parts.log.count).toBe(60);
    const again = restoreEngine('AAPL', readStoredState(record(next.bytes)), engines);
    expect(JSON.stringify(again.snapshot())).toBe(JSON.stringify(reference.snapshot()));
  });

  it('names what is wrong with a damaged state', () => {
    const { saves } = storeDay(1);
    const good = saves.find((s) => !s.rebased)!.bytes;
    expect(() => readStoredState(record(good.subarray(0, 20)))).toThrow(StoredStateError);
    const header = Buffer.from(good);
    header[9] = 0x7b; // the header JSON no longer parses
    expect(() => readStoredState(record(header))).toThrow(/stored state of AAPL: damaged header/);
    expect(() => readStoredState(record({ v: 9, watermarks: {} }))).toThrow(
      /not a version-1 pipeline snapshot/,
    );
  });
});
