/**
 * The contract every indicator must keep, run against each of them: warm-up, stability,
 * snapshot → JSON → restore → continue equals an uninterrupted run exactly, bounded retained
 * memory over a million updates, and bad input rejected without touching the state.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  type AnyIndicator,
  ATR,
  BollingerBands,
  EMA,
  INDICATOR_TYPES,
  IndicatorInputError,
  MACD,
  ReturnsZScore,
  ROC,
  RollingStdDev,
  RSI,
  restoreIndicator,
  SMA,
  VWAP,
  WMA,
} from '../../../src/domain/indicators/index.ts';
import { gbmCandles } from './data.ts';

const N = 1_000_000;
const series = gbmCandles(N, 42);

type Input = number | { high: number; low: number; close: number; volume: number; sessionId: string };
/** Price input for price indicators, a candle for ATR/VWAP (a new session every 390 bars). */
type Feed = (i: number) => Input;
const price: Feed = (i) => series.closes[i]!;
const candle: Feed = (i) => ({
  high: series.highs[i]!,
  low: series.lows[i]!,
  close: series.closes[i]!,
  volume: series.volumes[i]!,
  sessionId: `s${Math.floor(i / 390)}`,
});

interface Case {
  name: string;
  make: () => AnyIndicator;
  restore: (snapshot: unknown) => AnyIndicator;
  feed: Feed;
  /** Bad inputs and the field the error must name. */
  bad: [Input, string][];
  window: number;
}

const nanPrice: [Input, string][] = [
  [Number.NaN, 'value'],
  [Number.POSITIVE_INFINITY, 'value'],
];
const ok = { high: 101, low: 99, close: 100, volume: 10, sessionId: 's0' };
const badCandles: [Input, string][] = [
  [{ ...ok, high: Number.NaN }, 'high'],
  [{ ...ok, low: Number.NaN }, 'low'],
  [{ ...ok, close: Number.NaN }, 'close'],
  [{ ...ok, high: 98 }, 'high'],
];

const cases: Case[] = [
  {
    name: 'SMA(20)',
    make: () => new SMA({ period: 20 }),
    restore: SMA.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'SMA(200)',
    make: () => new SMA({ period: 200 }),
    restore: SMA.restore,
    feed: price,
    bad: nanPrice,
    window: 200,
  },
  {
    name: 'EMA(20)',
    make: () => new EMA({ period: 20 }),
    restore: EMA.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'WMA(20)',
    make: () => new WMA({ period: 20 }),
    restore: WMA.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'RSI(14)',
    make: () => new RSI({ period: 14 }),
    restore: RSI.restore,
    feed: price,
    bad: nanPrice,
    window: 14,
  },
  {
    name: 'MACD(12,26,9)',
    make: () => new MACD(),
    restore: MACD.restore,
    feed: price,
    bad: nanPrice,
    window: 26,
  },
  {
    name: 'BollingerBands(20,2)',
    make: () => new BollingerBands(),
    restore: BollingerBands.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'BollingerBands(20,2,sample)',
    make: () => new BollingerBands({ deviation: 'sample' }),
    restore: BollingerBands.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'ATR(14)',
    make: () => new ATR({ period: 14 }),
    restore: ATR.restore,
    feed: candle,
    bad: badCandles,
    window: 14,
  },
  {
    name: 'VWAP',
    make: () => new VWAP(),
    restore: VWAP.restore,
    feed: candle,
    bad: [...badCandles, [{ ...ok, volume: -1 }, 'volume'], [{ ...ok, sessionId: '' }, 'sessionId']],
    window: 390,
  },
  {
    name: 'RollingStdDev(20)',
    make: () => new RollingStdDev({ period: 20 }),
    restore: RollingStdDev.restore,
    feed: price,
    bad: nanPrice,
    window: 20,
  },
  {
    name: 'ReturnsZScore(20)',
    make: () => new ReturnsZScore({ period: 20 }),
    restore: ReturnsZScore.restore,
    feed: price,
    bad: [...nanPrice, [0, 'value'], [-1, 'value']],
    window: 20,
  },
  {
    name: 'ROC(10)',
    make: () => new ROC({ period: 10 }),
    restore: ROC.restore,
    feed: price,
    bad: [...nanPrice, [0, 'value']],
    window: 11,
  },
];

/** A value as data (object values are reused by the indicator, so copy them). */
const copy = (v: unknown) => (v !== null && typeof v === 'object' ? { ...v } : v);
const step = (x: AnyIndicator, input: Input) => copy((x.update as (i: Input) => unknown)(input));

/** Counts every slot reachable from the indicator: keys, array/typed-array lengths, map sizes. */
function retainedSlots(root: unknown): number {
  const seen = new Set<object>();
  let slots = 0;
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      slots += (v as unknown as { length: number }).length;
      return;
    }
    if (v instanceof Map || v instanceof Set) {
      slots += v.size;
      for (const e of v) walk(e);
      return;
    }
    for (const k of Object.keys(v)) {
      slots++;
      walk((v as Record<string, unknown>)[k]);
    }
  };
  walk(root);
  return slots;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it('covers every indicator type restoreIndicator knows', () => {
  const covered = new Set(cases.map((c) => c.make().type));
  expect([...covered].sort()).toEqual([...INDICATOR_TYPES].sort());
});

describe.each(cases)('$name', (c) => {
  it('is undefined until requiredInputs inputs, then defined and stable', () => {
    const x = c.make();
    expect(x.requiredInputs).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < x.requiredInputs - 1; i++) {
      expect(step(x, c.feed(i)), `input ${i + 1}`).toBeUndefined();
      expect(x.value).toBeUndefined();
      expect(x.isStable).toBe(false);
    }
    for (let i = x.requiredInputs - 1; i < x.requiredInputs + 2 * c.window; i++) {
      const v = step(x, c.feed(i));
      expect(v, `input ${i + 1}`).toBeDefined();
      expect(copy(x.value)).toEqual(v);
      expect(x.isStable).toBe(true);
    }
  });

  it('snapshot → JSON → restore → continue equals an uninterrupted run exactly', () => {
    const total = c.make().requiredInputs + 3 * c.window + 7;
    const reference = c.make();
    const expected = Array.from({ length: total }, (_, i) => step(reference, c.feed(i)));
    const r = c.make().requiredInputs;
    const cuts = [0, 1, r - 1, r, r + 1, c.window - 1, c.window, c.window + 1, 2 * c.window + 3, total - 1];
    for (const cut of new Set(cuts.filter((k) => k >= 0 && k < total))) {
      const original = c.make();
      for (let i = 0; i < cut; i++) step(original, c.feed(i));
      const json = JSON.stringify(original.snapshot());
      for (const restored of [c.restore(JSON.parse(json)), restoreIndicator(JSON.parse(json))]) {
        expect(restored.type).toBe(original.type);
        expect(copy(restored.value), `value right after restore at ${cut}`).toStrictEqual(
          copy(original.value),
        );
        expect(restored.isStable).toBe(original.isStable);
        const continued = [];
        for (let i = cut; i < total; i++) continued.push(step(restored, c.feed(i)));
        expect(continued, `continuation after a cut at ${cut}`).toStrictEqual(expected.slice(cut));
        expect(restored.snapshot()).toStrictEqual(reference.snapshot());
      }
    }
  });

  it('retains no more memory after 1,000,000 updates than after warm-up', () => {
    const x = c.make();
    const warm = 2 * c.window + x.requiredInputs;
    for (let i = 0; i < warm; i++) step(x, c.feed(i));
    const slots = retainedSlots(x);
    const snapshotBytes = JSON.stringify(x.snapshot()).length;
    const heap = heapAfterGc();
    const update = x.update as (i: Input) => unknown;
    for (let i = warm; i < N; i++) update.call(x, c.feed(i));
    const grown = heapAfterGc() - heap;
    expect(retainedSlots(x)).toBe(slots);
    // digits of the stored numbers vary a little; a growing window would add ~18 bytes per update
    expect(JSON.stringify(x.snapshot()).length).toBeLessThan(snapshotBytes * 1.2 + 64);
    // a retained array of 1M numbers is >= 8 MB; allow noise well below that
    expect(grown).toBeLessThan(2_000_000);
  });

  it('rejects bad input with a specific error and leaves the state untouched', () => {
    const x = c.make();
    const twin = c.make();
    const warm = x.requiredInputs + 5;
    for (let i = 0; i < warm; i++) {
      step(x, c.feed(i));
      step(twin, c.feed(i));
    }
    for (const [input, field] of c.bad) {
      const before = x.snapshot();
      let error: unknown;
      try {
        step(x, input);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(input)).toBeInstanceOf(IndicatorInputError);
      expect((error as IndicatorInputError).field).toBe(field);
      expect((error as Error).message).toContain(field);
      expect(x.snapshot()).toStrictEqual(before);
    }
    for (let i = warm; i < warm + c.window; i++)
      expect(step(x, c.feed(i))).toStrictEqual(step(twin, c.feed(i)));
  });
});
