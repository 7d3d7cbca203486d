import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyticsEngines } from '../../../src/pipeline/process/analytics-engine.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  encodeStoredSnapshot,
  isEncodedSnapshot,
  rotatedSuffixOf,
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

  it.each([
    { form: 'compact', encode: encodeStoredSnapshot },
    { form: 'plain', encode: encodeSnapshot },
  ])('keeps numbers JSON cannot hold bit for bit outside long arrays too ($form form)', ({ encode }) => {
    const value = {
      scalars: { a: -0, b: Number.NaN, c: Number.POSITIVE_INFINITY, d: Number.NEGATIVE_INFINITY, e: 1.5 },
      short: [-0, 2],
      one: [Number.NaN],
      mixed: [1, 'x', -0, null, Number.NEGATIVE_INFINITY],
      nested: [[Number.POSITIVE_INFINITY, 1, 2]],
    };
    const back = decodeSnapshot(encode(value)) as typeof value;
    const same = (a: unknown, b: unknown, path: string) => {
      if (typeof b === 'number') expect(Object.is(a, b), `${path}: ${String(a)} ≠ ${String(b)}`).toBe(true);
      else if (b !== null && typeof b === 'object') {
        expect(Object.keys(a as object)).toEqual(Object.keys(b));
        for (const k of Object.keys(b)) same((a as never)[k], (b as never)[k], `${path}.${k}`);
      } else expect(a).toBe(b);
    };
    same(back, value, '');
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

  it('rejects a single-number marker that refers to more than one value', () => {
    const bytes = encodeSnapshot({ a: Number.NaN, w: [1, 2, 3, 4] });
    const text = Buffer.from(bytes.subarray(8, 8 + bytes[4]!)).toString();
    expect(text).toBe('{"a":{"$num":[0,1]},"w":{"$f64":[1,4]}}');
    const damaged = Uint8Array.prototype.slice.call(bytes);
    damaged.set(Buffer.from(text.replace('"$num":[0,1]', '"$num":[1,3]')), 8);
    expect(() => decodeSnapshot(damaged)).toThrow(/a single number refers to an array of 3 values/);
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
    expect(() => encodeStoredSnapshot({ a: { $num: 0 } })).toThrow(/reserved key \$num/);
  });

  it('reads the forms earlier releases and this one stored (frozen fixtures)', () => {
    // Each holds { v: 2, watermarks, latestRowTime, engine } after the first 250 bars of the real session.
    const bars = aaplSampleBars();
    const { engines } = engineAfter(250);
    const stored: unknown[] = [];
    for (const bytes of [legacyDeflated(), fixture('tsc1-aapl-250.b64'), fixture('tsc2-aapl-250.b64')]) {
      const value = decodeSnapshot(bytes) as { v: number; watermarks: unknown; engine: unknown };
      expect(value.v).toBe(2);
      expect(value.watermarks).toEqual({ bar: bars[249]!.start });
      // Restored, it snapshots back to what was stored (the returns z-score written by the two older
      // releases is its version 1, and stays so until its window turns over) and continues as an
      // engine fed all along.
      const restored = engines.restore('AAPL', value.engine);
      expect(restored.snapshot()).toEqual(value.engine);
      const fresh = engineAfter(250).engine;
      for (const bar of bars.slice(250, 270)) {
        expect(restored.apply({ kind: 'bar', bar })).toEqual(fresh.apply({ kind: 'bar', bar }));
      }
      stored.push(value);
    }
    expect(stored[1]).toEqual(stored[0]);
    // This release's form is the engine as it snapshots today, and what the encoder writes, byte for
    // byte: the format and its dictionary are frozen.
    expect(stored[2]).toEqual({ ...(stored[1] as object), engine: engineAfter(250).engine.snapshot() });
    expect(Buffer.from(encodeStoredSnapshot(stored[2]))).toEqual(Buffer.from(fixture('tsc2-aapl-250.b64')));
    // An older form's value, stored again, takes the new form and reads back the same.
    const again = encodeStoredSnapshot(stored[1]);
    expect(Buffer.from(again.subarray(0, 4)).toString()).toBe('TSC2');
    expect(decodeSnapshot(again)).toEqual(stored[1]);
    const damaged = Uint8Array.prototype.slice.call(legacyDeflated(), 0, 400);
    expect(() => decodeSnapshot(damaged)).toThrow(/deflated body is damaged/);
  });

  it('stores a window that is, rotated, the newest values of another array as a reference to it', () => {
    const { engine } = engineAfter(300);
    const snapshot = { v: 2, engine: engine.snapshot() };
    const stored = encodeStoredSnapshot(snapshot);
    expect(decodeSnapshot(stored)).toEqual(JSON.parse(JSON.stringify(snapshot)));
    // The same windows with their newest value nudged by the smallest step are no longer the newest
    // closes: each is then stored in full. The difference is what the references save.
    const nudged = JSON.parse(JSON.stringify(snapshot), (key, v) =>
      key === 'window' && Array.isArray(v) ? v.map((x: number, i: number) => (i === 0 ? x + 1e-4 : x)) : v,
    );
    const full = encodeStoredSnapshot(nudged);
    expect(decodeSnapshot(full)).toEqual(nudged);
    // SMA 200 alone holds 200 closes at about 2 bytes each.
    expect(full.length - stored.length).toBeGreaterThan(300);
  });

  it('finds the rotation at which an array is the newest values of another, bit for bit', () => {
    const source = [5, 1.5, 2.25, -0, 3, Number.NaN, 4, 2.25];
    // The newest 5 (-0, 3, NaN, 4, 2.25) starting at position 2, wrapping round.
    expect(rotatedSuffixOf([4, 2.25, -0, 3, Number.NaN], source)).toBe(2);
    expect(rotatedSuffixOf(source.slice(), source)).toBe(0);
    expect(rotatedSuffixOf([4, 2.25, 0, 3, Number.NaN], source)).toBeUndefined(); // 0 is not -0
    expect(rotatedSuffixOf([4, 2.25, -0, 3, 3], source)).toBeUndefined();
    expect(rotatedSuffixOf([1, 2, 3], [2, 3])).toBeUndefined(); // longer than the source
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }),
        fc.nat(),
        fc.nat(),
        (values, take, turn) => {
          // Few distinct values: many false starts for the search to reject.
          const n = 1 + (take % values.length);
          const r = turn % n;
          const suffix = values.slice(values.length - n);
          const rotated = suffix.map((_, i) => suffix[(i - r + n) % n]!);
          const found = rotatedSuffixOf(rotated, values);
          expect(found).toBeDefined();
          for (let i = 0; i < n; i++) expect(rotated[(found! + i) % n]).toBe(suffix[i]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps arrays bit for bit whatever references the compact form finds among them', () => {
    const value = fc.oneof(fc.constantFrom(0, -0, 1, 2, 2.5, Number.NaN, 1e-9), fc.double());
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 4, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 5 }),
        (source, cuts) => {
          // The source, then rotated tails of it (some of them rotated tails of each other too).
          const lists = [source];
          for (const [take, turn] of cuts) {
            const n = Math.max(4, 1 + (take % source.length));
            if (n > source.length) continue;
            const tail = source.slice(source.length - n);
            lists.push(tail.map((_, i) => tail[(i + turn) % n]!));
          }
          const back = decodeSnapshot(encodeStoredSnapshot({ lists })) as { lists: number[][] };
          expect(back.lists).toHaveLength(lists.length);
          for (const [i, list] of lists.entries()) {
            expect(back.lists[i]).toHaveLength(list.length);
            list.forEach((v, j) => {
              if (!Object.is(back.lists[i]![j], v))
                throw new Error(`list ${i} value ${j}: ${back.lists[i]![j]} ≠ ${v}`);
            });
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects a reference the arrays cannot hold, and a reference in the older compact form', () => {
    const source = [1.5, 2.5, 3.5, 4.5, 5.5];
    const stored = encodeStoredSnapshot({ a: source, b: [3.5, 4.5, 5.5, 2.5] });
    // The reference is the last 4 bytes: length 4, code 5, source 0, rotation 3.
    const at = stored.length - 4;
    expect(Array.from(stored.subarray(at))).toEqual([4, 5, 0, 3]);
    const withRef = (length: number, source: number, rotation: number) => {
      const bytes = Uint8Array.prototype.slice.call(stored);
      bytes.set([length, 5, source, rotation], at);
      return bytes;
    };
    expect(() => decodeSnapshot(withRef(6, 0, 3))).toThrow(/newest 6 values of array 0 at rotation 3/);
    expect(() => decodeSnapshot(withRef(4, 1, 0))).toThrow(
      /array 1 refers to the newest 4 values of array 1/,
    );
    expect(() => decodeSnapshot(withRef(4, 2, 0))).toThrow(/newest 4 values of array 2/);
    expect(() => decodeSnapshot(withRef(4, 0, 4))).toThrow(/at rotation 4, which it cannot hold/);
    expect(decodeSnapshot(withRef(4, 0, 0))).toEqual({ a: source, b: [2.5, 3.5, 4.5, 5.5] });
    const older = Uint8Array.prototype.slice.call(stored);
    older.set(Buffer.from('TSC1'), 0);
    expect(() => decodeSnapshot(older)).toThrow(/unknown array code 5/);
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
