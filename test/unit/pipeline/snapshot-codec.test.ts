import { describe, expect, it } from 'vitest';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  encodeStoredSnapshot,
  isEncodedSnapshot,
  SnapshotCodecError,
} from '../../../src/pipeline/process/snapshot-codec.ts';
import { aaplSampleBars } from '../../support/samples.ts';

/** The engine of the real AAPL session after its first `n` bars. */
function engineAfter(n: number) {
  const engines = analyticsEngines();
  const engine = engines.create('AAPL');
  for (const bar of aaplSampleBars().slice(0, n)) engine.apply({ kind: 'bar', bar });
  return { engines, engine };
}

describe('snapshot codec', () => {
  it('gives back the snapshot a JSON round trip gives, for a real engine state', () => {
    const snapshot = { v: 2, watermarks: { bar: 1 }, engine: engineAfter(250).engine.snapshot() };
    const bytes = encodeSnapshot(snapshot);
    expect(isEncodedSnapshot(bytes)).toBe(true);
    expect(decodeSnapshot(bytes)).toEqual(JSON.parse(JSON.stringify(snapshot)));
    // The windows (hundreds of doubles) are 8 bytes each instead of printed decimals.
    expect(bytes.length).toBeLessThan(Buffer.byteLength(JSON.stringify(snapshot)) * 0.85);
  });

  it('restores an engine that continues exactly as the one that was saved', () => {
    const bars = aaplSampleBars();
    const { engines, engine } = engineAfter(200);
    const restored = engines.restore('AAPL', decodeSnapshot(encodeSnapshot(engine.snapshot())));
    for (const bar of bars.slice(200)) {
      expect(restored.apply({ kind: 'bar', bar })).toEqual(engine.apply({ kind: 'bar', bar }));
    }
  });

  it('keeps every double bit for bit, including values JSON cannot hold', () => {
    const values = [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.1 + 0.2, 5e-324];
    const back = decodeSnapshot(encodeSnapshot({ w: values })) as { w: number[] };
    expect(back.w).toHaveLength(values.length);
    for (const [i, v] of values.entries()) expect(Object.is(back.w[i], v), `index ${i}`).toBe(true);
  });

  it('keeps short and mixed arrays, strings, booleans and null in the structure', () => {
    const value = {
      a: [1, 2],
      b: [1, 'x', null, 3, 4],
      c: { d: true, e: null, f: 'g' },
      h: [],
      i: [[1, 2, 3, 4]],
    };
    expect(decodeSnapshot(encodeSnapshot(value))).toEqual(value);
  });

  it('reads bytes that do not start on an 8-byte boundary', () => {
    const bytes = encodeSnapshot({ w: [1.5, 2.5, 3.5, 4.5, 5.5] });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(decodeSnapshot(shifted.subarray(3))).toEqual({ w: [1.5, 2.5, 3.5, 4.5, 5.5] });
  });

  it('rejects foreign, truncated and inconsistent bytes with the reason', () => {
    const bytes = encodeSnapshot({ w: [1, 2, 3, 4, 5] });
    expect(() => decodeSnapshot(Buffer.from('{"v":2}'))).toThrow(/bad magic/);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 8))).toThrow(
      /refers to doubles \[0, \+5\) outside the 4 stored/,
    );
    const badJson = Uint8Array.prototype.slice.call(bytes);
    badJson[8] = 0x7b + 1; // '{' → '|'
    expect(() => decodeSnapshot(badJson)).toThrow(SnapshotCodecError);
    expect(() => decodeSnapshot(badJson)).toThrow(/structure is not JSON/);
  });

  it('refuses to encode an object that uses the reserved marker key', () => {
    expect(() => encodeSnapshot({ a: { $f64: [0, 1] } })).toThrow(/reserved key \$f64/);
  });

  it('stores the snapshot deflated: about half the bytes, the same value back', () => {
    const snapshot = { v: 2, watermarks: { bar: 1 }, engine: engineAfter(250).engine.snapshot() };
    const raw = encodeSnapshot(snapshot);
    const stored = encodeStoredSnapshot(snapshot);
    expect(isEncodedSnapshot(stored)).toBe(true);
    expect(stored.length).toBeLessThan(raw.length * 0.6);
    expect(decodeSnapshot(stored)).toEqual(decodeSnapshot(raw));
    const damaged = Uint8Array.prototype.slice.call(stored, 0, stored.length - 40);
    expect(() => decodeSnapshot(damaged)).toThrow(/deflated body is damaged/);
  });
});
