/**
 * Byte-level building blocks of the stored state's binary forms (`snapshot-codec.ts`,
 * `event-log.ts`): a growable writer and a bounds-checked reader of bytes, unsigned varints (7 bits
 * a byte, low bits first, any safe integer) and little-endian IEEE-754 doubles, plus zigzag for
 * signed integers and the exact scaled-decimal form of a number.
 */

/** Powers of ten a number may be stored at: `k / scale` gives it back exactly (see `scaledInteger`). */
export const SCALES = [1, 1e2, 1e4, 1e6] as const;
/**
 * Largest |k| stored as a scaled integer: the difference of two such, zigzagged, times 16 plus a
 * 4-bit code (the event log's tag) stays a safe integer, so no bit of the code is ever rounded away.
 */
const MAX_SCALED = 2 ** 44;

export const zigzag = (k: number): number => (k < 0 ? -2 * k - 1 : 2 * k);
export const unzigzag = (z: number): number => (z % 2 === 1 ? -(z + 1) / 2 : z / 2);

/** The integer `x` is at `SCALES[code]`, when `k / scale` gives back exactly `x` (never -0). */
export function scaledInteger(x: number, code: number): number | undefined {
  const scale = SCALES[code]!;
  const k = code === 0 ? x : Math.round(x * scale);
  if (!Number.isInteger(k) || Math.abs(k) > MAX_SCALED || Object.is(x, -0)) return undefined;
  return (code === 0 ? k : k / scale) === x ? k : undefined;
}

export const fromScaled = (k: number, code: number): number => (code === 0 ? k : k / SCALES[code]!);

/** A growable byte buffer, written from the start again after `reset`. */
export class ByteWriter {
  bytes: Uint8Array;
  view: DataView;
  at = 0;

  constructor(initial = 1024) {
    this.bytes = new Uint8Array(initial);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): this {
    this.at = 0;
    return this;
  }

  reserve(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  byte(b: number): void {
    this.reserve(1);
    this.bytes[this.at++] = b;
  }

  /** A non-negative safe integer, 7 bits a byte, low bits first. */
  varint(v: number): void {
    this.reserve(8);
    while (v >= 0x80) {
      this.bytes[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.at++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  double(x: number): void {
    this.reserve(8);
    this.view.setFloat64(this.at, x, true);
    this.at += 8;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
  }

  /** A copy of what was written since the last reset (small copies come from Node's buffer pool). */
  copy(): Uint8Array {
    return Buffer.from(this.bytes.subarray(0, this.at));
  }
}

/** Reads what a `ByteWriter` wrote; running past the end or a malformed varint fails via `fail`. */
export class ByteReader {
  at = 0;
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #fail: (message: string) => Error;

  constructor(bytes: Uint8Array, fail: (message: string) => Error) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#fail = fail;
  }

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  byte(): number {
    if (this.at >= this.bytes.length) throw this.#fail(`truncated at byte ${this.at}`);
    return this.bytes[this.at++]!;
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 56) throw this.#fail(`varint too long at byte ${this.at}`);
    }
    return v;
  }

  double(): number {
    if (this.at + 8 > this.bytes.length) throw this.#fail(`truncated double at byte ${this.at}`);
    const x = this.#view.getFloat64(this.at, true);
    this.at += 8;
    return x;
  }

  /** The next `length` bytes (a view, not a copy). */
  take(length: number, what: string): Uint8Array {
    if (this.at + length > this.bytes.length) throw this.#fail(`truncated ${what} at byte ${this.at}`);
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
}
