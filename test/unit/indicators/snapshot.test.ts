/** Snapshot validation on restore, option validation, and the restoreIndicator dispatcher. */
import { describe, expect, it } from 'vitest';
import {
  ATR,
  BollingerBands,
  EMA,
  IndicatorConfigError,
  IndicatorSnapshotError,
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

function snapshotError(fn: () => unknown): IndicatorSnapshotError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IndicatorSnapshotError);
    return e as IndicatorSnapshotError;
  }
  return expect.fail('restore accepted an invalid snapshot');
}

const closes = [10, 11, 12, 11.5, 12.5, 13, 12.75, 13.5, 14, 13.25, 13.75, 14.5];
function fed<T extends { update(x: number): unknown }>(x: T, n = closes.length): T {
  for (const c of closes.slice(0, n)) x.update(c);
  return x;
}
const json = (x: { snapshot(): unknown }) =>
  JSON.parse(JSON.stringify(x.snapshot())) as Record<string, unknown>;

describe('snapshots are compact, tagged plain JSON', () => {
  it('SMA(3) stores its window, ring position and running sum, nothing else', () => {
    expect(json(fed(new SMA({ period: 3 }), 4))).toStrictEqual({
      type: 'SMA',
      version: 1,
      period: 3,
      head: 1,
      window: [11.5, 11, 12],
      sum: 34.5,
    });
  });

  it('a 200-period SMA snapshot stays under 5 kB', () => {
    const sma = new SMA({ period: 200 });
    for (let i = 0; i < 1000; i++) sma.update(100 + Math.sin(i) * 3.3333333);
    expect(JSON.stringify(sma.snapshot()).length).toBeLessThan(5000);
  });

  it('restoreIndicator dispatches on the type tag', () => {
    const snapshots = [
      new SMA({ period: 3 }),
      new EMA({ period: 3 }),
      new WMA({ period: 3 }),
      new RSI({ period: 3 }),
      new MACD({ fast: 2, slow: 3, signal: 2 }),
      new BollingerBands({ period: 3 }),
      new RollingStdDev({ period: 3 }),
      new ReturnsZScore({ period: 3 }),
      new ROC({ period: 3 }),
    ].map((x) => json(fed(x)));
    for (const s of snapshots) expect(restoreIndicator(s).type).toBe(s.type);
    const atr = new ATR({ period: 2 });
    atr.update({ high: 2, low: 1, close: 1.5 });
    expect(restoreIndicator(json(atr))).toBeInstanceOf(ATR);
    const vwap = new VWAP();
    vwap.update({ high: 2, low: 1, close: 1.5, volume: 3, sessionId: '2024-10-02' });
    expect(restoreIndicator(json(vwap))).toBeInstanceOf(VWAP);
  });
});

describe('ReturnsZScore stores the prices of its window (version 2) and still reads version 1', () => {
  /** ReturnsZScore(3) after the first 7 closes, as release d192358 (version 1) stored it. */
  const version1 = {
    type: 'ReturnsZScore',
    version: 1,
    period: 3,
    deviation: 'sample',
    previous: 12.75,
    z: -0.7322563032494896,
    head: 0,
    window: [0.08695652173913038, 0.040000000000000036, -0.019230769230769273],
    mean: 0.035908584169453715,
    m2: 0.005662979907010733,
  };
  const continuation = (x: ReturnsZScore, from: number) => closes.slice(from).map((c) => x.update(c));

  it('a snapshot holds the window as the prices its returns came from, oldest first', () => {
    for (const n of [0, 1, 3, 4, 7, closes.length]) {
      const s = json(fed(new ReturnsZScore({ period: 3 }), n));
      expect(s.version).toBe(2);
      expect(s.window).toBeUndefined();
      expect(s.previous).toBeUndefined();
      // n prices give n − 1 returns; the window keeps the last 3 of them and the price before each.
      expect(s.prices, `after ${n} prices`).toStrictEqual(closes.slice(Math.max(0, n - 4), n));
      expect(s.head).toBe(Math.max(0, n - 1) % 3);
    }
  });

  it('restoring version 2 recomputes each return bit for bit: the run continues exactly', () => {
    for (const cut of [0, 1, 2, 3, 4, 5, 7, 9]) {
      const restored = ReturnsZScore.restore(json(fed(new ReturnsZScore({ period: 3 }), cut)));
      expect(continuation(restored, cut), `cut at ${cut}`).toStrictEqual(
        continuation(fed(new ReturnsZScore({ period: 3 }), cut), cut),
      );
    }
  });

  it("an earlier release's version-1 snapshot continues exactly, and is stored as version 1 until its window has turned over", () => {
    const restored = ReturnsZScore.restore(structuredClone(version1));
    const reference = fed(new ReturnsZScore({ period: 3 }), 7);
    expect(restored.value).toBe(version1.z);
    const versions: unknown[] = [];
    for (const c of closes.slice(7)) {
      expect(restored.update(c)).toBe(reference.update(c));
      versions.push(json(restored).version);
    }
    // The base prices of the 3 returns it was restored with are unknown until 3 new prices pushed them out.
    expect(versions).toStrictEqual([1, 1, 2, 2, 2]);
    expect(json(restored)).toStrictEqual(json(reference));
  });

  it.each([
    ['a non-positive price', { prices: [12, 0, 13] }, 'prices[1]', 'positive price'],
    ['more prices than the window needs', { prices: [1, 2, 3, 4, 5] }, 'prices', 'at most 4'],
    ['a head inconsistent with a filling window', { prices: [12, 13], head: 0 }, 'head', 'must be 1'],
    ['no prices at all', { prices: undefined }, 'prices', 'array of numbers'],
    ['a z-score without prices', { prices: [], head: 0 }, 'z', 'cannot exist before'],
  ])('version 2 with %s is rejected naming the field', (_what, change, field, reason) => {
    const s = { ...json(fed(new ReturnsZScore({ period: 3 }), 7)), ...change };
    const e = snapshotError(() => ReturnsZScore.restore(s));
    expect(e.field).toBe(field);
    expect(e.reason).toContain(reason);
  });

  it('a version it does not know is rejected, naming both it does', () => {
    const e = snapshotError(() => ReturnsZScore.restore({ ...version1, version: 3 }));
    expect(e.field).toBe('version');
    expect(e.reason).toContain('must be 1 or 2');
  });
});

describe('restore rejects invalid snapshots naming the field', () => {
  const sma = () => json(fed(new SMA({ period: 3 }), 4));

  it.each([
    ['not an object', () => SMA.restore('x'), 'snapshot', 'must be an object'],
    ['a different type tag', () => SMA.restore({ ...sma(), type: 'EMA' }), 'type', 'must be "SMA"'],
    ['an unknown version', () => SMA.restore({ ...sma(), version: 2 }), 'version', 'must be 1'],
    ['a zero period', () => SMA.restore({ ...sma(), period: 0 }), 'period', 'between 1 and'],
    [
      'NaN in the window (serialised as null)',
      () => SMA.restore({ ...sma(), window: [1, null, 3] }),
      'window[1]',
      'finite number, got null',
    ],
    [
      'a window longer than the period',
      () => SMA.restore({ ...sma(), window: [1, 2, 3, 4] }),
      'window',
      'at most 3',
    ],
    ['a head outside the ring', () => SMA.restore({ ...sma(), head: 3 }), 'head', 'between 0 and 2'],
    [
      'a head inconsistent with a partial window',
      () => SMA.restore({ ...sma(), window: [1, 2], head: 0 }),
      'head',
      'must be 2 while the window holds 2 of 3',
    ],
    ['a missing running sum', () => SMA.restore({ ...sma(), sum: undefined }), 'sum', 'got undefined'],
    [
      'an EMA count beyond its period',
      () => EMA.restore({ ...json(new EMA({ period: 3 })), count: 4 }),
      'count',
      'between 0 and 3',
    ],
    [
      'a negative RSI average loss',
      () => RSI.restore({ ...json(fed(new RSI({ period: 3 }))), loss: -1 }),
      'loss',
      'must not be negative',
    ],
    [
      'an RSI that has seen prices but has no previous price',
      () => RSI.restore({ ...json(fed(new RSI({ period: 3 }))), previous: undefined }),
      'previous',
      'finite number',
    ],
    [
      'an unknown Bollinger deviation',
      () => BollingerBands.restore({ ...json(fed(new BollingerBands({ period: 3 }))), deviation: 'biased' }),
      'deviation',
      "'population', 'sample'",
    ],
    [
      'a negative M2',
      () => RollingStdDev.restore({ ...json(fed(new RollingStdDev({ period: 3 }))), m2: -0.5 }),
      'm2',
      'must not be negative',
    ],
    [
      'a non-positive price in a ROC window',
      () => ROC.restore({ ...json(fed(new ROC({ period: 3 }))), window: [1, 0, 2, 3] }),
      'window[1]',
      'positive price',
    ],
    [
      'a z-score before the window is full',
      () => ReturnsZScore.restore({ ...json(fed(new ReturnsZScore({ period: 3 }), 2)), z: 1 }),
      'z',
      'cannot exist before',
    ],
    [
      'a VWAP session that is an object',
      () => VWAP.restore({ type: 'VWAP', version: 1, sessionId: {}, pv: 0, pvc: 0, vol: 0, volc: 0 }),
      'sessionId',
      'non-empty string',
    ],
  ])('%s', (_what, restore, field, reason) => {
    const e = snapshotError(restore);
    expect(e.field).toBe(field);
    expect(e.reason).toContain(reason);
    expect(e.message).toContain(field);
  });

  it('MACD names the nested field', () => {
    const s = json(fed(new MACD({ fast: 2, slow: 3, signal: 2 })));
    const e = snapshotError(() => MACD.restore({ ...s, slow: { ...(s.slow as object), count: -1 } }));
    expect(e.indicator).toBe('MACD');
    expect(e.field).toBe('slow.count');
    const swapped = snapshotError(() => MACD.restore({ ...s, fast: s.slow, slow: s.fast }));
    expect(swapped.field).toBe('fast.period');
  });

  it('restoreIndicator rejects an unknown tag, listing the known ones', () => {
    const e = snapshotError(() => restoreIndicator({ type: 'KAMA', version: 1 }));
    expect(e.field).toBe('type');
    expect(e.reason).toContain('SMA, EMA');
    expect(snapshotError(() => restoreIndicator(null)).reason).toContain('got null');
  });

  it('a ±Infinity z-score survives the JSON round trip', () => {
    const z = new ReturnsZScore({ period: 2 });
    for (const p of [10, 10, 10, 10, 11]) z.update(p);
    expect(z.value).toBe(Number.POSITIVE_INFINITY);
    expect(ReturnsZScore.restore(json(z)).value).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('options are validated with specific errors', () => {
  it.each([
    ['SMA period 0', () => new SMA({ period: 0 }), 'period'],
    ['SMA period 2.5', () => new SMA({ period: 2.5 }), 'period'],
    ['SMA period as a string', () => new SMA({ period: '20' as unknown as number }), 'period'],
    ['SMA without options', () => new SMA(undefined as unknown as { period: number }), 'period'],
    ['EMA period above the maximum', () => new EMA({ period: 10_001 }), 'period'],
    ['sample SD over 1 value', () => new RollingStdDev({ period: 1, deviation: 'sample' }), 'period'],
    ['an unknown deviation', () => new BollingerBands({ deviation: 'x' as 'sample' }), 'deviation'],
    ['a negative multiplier', () => new BollingerBands({ multiplier: -2 }), 'multiplier'],
    ['MACD fast not shorter than slow', () => new MACD({ fast: 26, slow: 12 }), 'fast'],
  ])('%s', (_what, make, field) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IndicatorConfigError);
    expect((error as IndicatorConfigError).field).toBe(field);
  });

  it('uses the documented defaults', () => {
    const bb = new BollingerBands();
    expect([bb.period, bb.multiplier, bb.deviation]).toEqual([20, 2, 'population']);
    const macd = new MACD();
    expect([macd.fast, macd.slow, macd.signal]).toEqual([12, 26, 9]);
    expect(new RollingStdDev({ period: 5 }).deviation).toBe('population');
    expect(new ReturnsZScore({ period: 5 }).deviation).toBe('sample');
  });
});
