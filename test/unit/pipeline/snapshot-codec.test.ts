import { readFileSync } from 'node:fs';
import fc from 'fast-check';
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
  });

  it.each([
    { form: 'plain', encode: encodeSnapshot, after: 200 },
    { form: 'compact', encode: encodeStoredSnapshot, after: 230 },
  ])('restores, from the $form form, an engine that continues exactly as the one that was saved', ({
    encode,
    after,
  }) => {
    const bars = aaplSampleBars();
    const { engines, engine } = engineAfter(after);
    const restored = engines.restore('AAPL', decodeSnapshot(encode(engine.snapshot())));
    for (const bar of bars.slice(after)) {
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

  it('gives back the exact snapshot from the compact stored form, for a real engine state', () => {
    const snapshot = { v: 2, watermarks: { bar: 1 }, engine: engineAfter(250).engine.snapshot() };
    const stored = encodeStoredSnapshot(snapshot);
    expect(isEncodedSnapshot(stored)).toBe(true);
    expect(decodeSnapshot(stored)).toEqual(JSON.parse(JSON.stringify(snapshot)));
    // The windows of prices and volumes are a few bytes a value: well under the 4.2 KB the deflated
    // plain form of earlier releases took for the same state (the fixture below).
    expect(stored.length).toBeLessThan(legacyDeflated().length * 0.75);
  });

  it('keeps arbitrary number arrays bit for bit in the compact form', () => {
    const anyNumber = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(-0, 0.1 + 0.2, 1e-7, 2 ** 48, 2 ** 48 + 1, 2 ** 53 + 2, 123.4567, Number.MIN_VALUE),
      fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((k) => k / 100),
      fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((k) => k / 1e4),
      fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((k) => k / 1e6),
    );
    // Arrays of one kind of value (scaled deltas) and mixed ones (raw doubles); shorter arrays stay in
    // the structure JSON, as scalars do.
    const arrays = fc.array(
      fc.oneof(
        fc.array(anyNumber, { minLength: 4, maxLength: 40 }),
        fc.array(
          fc.integer({ min: -(10 ** 12), max: 10 ** 12 }).map((k) => k / 1e4),
          { maxLength: 40 },
        ),
      ),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(arrays, (lists) => {
        const back = decodeSnapshot(encodeStoredSnapshot({ lists, tag: 'x' })) as { lists: number[][] };
        expect(back.lists).toHaveLength(lists.length);
        for (const [i, list] of lists.entries()) {
          expect(back.lists[i]).toHaveLength(list.length);
          for (const [j, v] of list.entries()) {
            if (!Object.is(back.lists[i]![j], v))
              throw new Error(`list ${i} value ${j}: ${back.lists[i]![j]} ≠ ${v}`);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects damaged compact bytes with the reason', () => {
    const stored = encodeStoredSnapshot({ a: [1.25, 2.5, 3.75, 4, 5], b: [0.1 + 0.2, 1, 2, 3] });
    expect(() => decodeSnapshot(stored.subarray(0, stored.length - 3))).toThrow(/truncated/);
    const trailing = new Uint8Array(stored.length + 2);
    trailing.set(stored);
    expect(() => decodeSnapshot(trailing)).toThrow(/2 bytes after the last array/);
    const structure = Uint8Array.prototype.slice.call(stored);
    structure[6] = (structure[6] ?? 0) ^ 0xff;
    expect(() => decodeSnapshot(structure)).toThrow(SnapshotCodecError);
    // One array fewer than the structure refers to: change the array count byte (after the structure).
    const structureEnd = 5 + stored[4]!;
    const fewer = Uint8Array.prototype.slice.call(stored);
    fewer[structureEnd] = 1;
    expect(() => decodeSnapshot(fewer)).toThrow(SnapshotCodecError);
    const badCode = Uint8Array.prototype.slice.call(stored);
    badCode[structureEnd + 2] = 9;
    expect(() => decodeSnapshot(badCode)).toThrow(/unknown array code 9/);
  });

  it('refuses to store an object that uses the reserved marker key', () => {
    expect(() => encodeStoredSnapshot({ a: { $f64: 0 } })).toThrow(/reserved key \$f64/);
  });

  it('reads the forms earlier releases and this one stored (frozen fixtures)', () => {
    // Both hold { v: 2, watermarks, latestRowTime, engine } after the first 250 bars of the real session.
    const bars = aaplSampleBars();
    const { engines } = engineAfter(250);
    const stored: unknown[] = [];
    for (const bytes of [legacyDeflated(), fixture('tsc1-aapl-250.b64')]) {
      const value = decodeSnapshot(bytes) as { v: number; watermarks: unknown; engine: unknown };
      expect(value.v).toBe(2);
      expect(value.watermarks).toEqual({ bar: bars[249]!.start });
      // Restored, it snapshots back to what was stored (the returns z-score written then is its
      // version 1, and stays so until its window turns over) and continues as an engine fed all along.
      const restored = engines.restore('AAPL', value.engine);
      expect(restored.snapshot()).toEqual(value.engine);
      const fresh = engineAfter(250).engine;
      for (const bar of bars.slice(250, 270)) {
        expect(restored.apply({ kind: 'bar', bar })).toEqual(fresh.apply({ kind: 'bar', bar }));
      }
      stored.push(value);
    }
    expect(stored[1]).toEqual(stored[0]);
    // The compact form is what this release writes, byte for byte: the format and its dictionary are frozen.
    expect(Buffer.from(encodeStoredSnapshot(stored[1]))).toEqual(Buffer.from(fixture('tsc1-aapl-250.b64')));
    const damaged = Uint8Array.prototype.slice.call(legacyDeflated(), 0, 400);
    expect(() => decodeSnapshot(damaged)).toThrow(/deflated body is damaged/);
  });
});

function fixture(name: string): Uint8Array {
  return Buffer.from(
    readFileSync(new URL(`../../fixtures/state/${name}`, import.meta.url), 'utf8'),
    'base64',
  );
}

/** The deflated plain form ("TSD1") as release 649a10f stored it. */
const legacyDeflated = () => fixture('tsd1-aapl-250.b64');
