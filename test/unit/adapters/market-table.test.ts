import { describe, expect, it } from 'vitest';
import { storableValues } from '../../../src/adapters/aws/market-table.ts';

/** The adjacent double towards zero (|x| > 0). */
function towardZero(x: number): number {
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] = bits[0]! - 1n;
  return f[0]!;
}

describe('storableValues', () => {
  it('keeps finite numbers inside DynamoDB’s N range (1E-130 ≤ |x| < 1E+126) unchanged', () => {
    const below126 = towardZero(1e126);
    const values = {
      price: 171.25,
      volume: 1e16,
      big: 1.5e21,
      neg: -2.5e30,
      tiny: 1e-130,
      negTiny: -1e-130,
      below126,
      negBelow126: -below126,
      max: Number.MAX_SAFE_INTEGER + 2,
    };
    expect(storableValues(values)).toEqual(values);
    expect(below126).toBeLessThan(1e126);
  });

  it('maps magnitudes below 1e-130 (and ±0) to 0', () => {
    const under = towardZero(1e-130);
    expect(under).toBeLessThan(1e-130);
    const out = storableValues({ a: under, b: -under, c: 1e-200, d: -1e-200, e: 5e-324, f: 0, g: -0 });
    expect(out).toEqual({ a: 0, b: 0, c: 0, d: 0, e: 0, f: 0, g: 0 });
    expect(Object.is(out.g, 0)).toBe(true);
  });

  it('maps magnitudes ≥ 1e126 and non-finite numbers to null', () => {
    expect(
      storableValues({
        a: 1e126,
        b: -1e126,
        c: 3e130,
        d: Number.MAX_VALUE,
        e: Number.NaN,
        f: Number.POSITIVE_INFINITY,
        g: Number.NEGATIVE_INFINITY,
      }),
    ).toEqual({ a: null, b: null, c: null, d: null, e: null, f: null, g: null });
  });

  it('passes labels through and maps undefined to null', () => {
    expect(storableValues({ session: 'regular', flag: true, rsi14: null, gone: undefined })).toEqual({
      session: 'regular',
      flag: true,
      rsi14: null,
      gone: null,
    });
  });
});
