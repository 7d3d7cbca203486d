/**
 * The binary form of a symbol's stored state: the JSON structure of the snapshot with every array
 * of numbers (the indicators' windows: hundreds of prices, returns and volumes) moved out into one
 * block of IEEE-754 doubles. Writing doubles is a copy where JSON would print and later parse every
 * number, and an f64 takes 8 bytes where JSON needs up to 24 characters; the values come back bit for
 * bit (including -0, NaN and ±Infinity, which JSON cannot hold), so a restored engine continues
 * exactly as the one that was saved.
 *
 * Layout (little-endian):
 *   bytes 0–3   magic "TSS1"
 *   bytes 4–7   u32 length J of the structure JSON
 *   bytes 8–…   structure JSON (UTF-8), each number array replaced by {"$f64":[offset,length]}
 *   then zero padding to a multiple of 8, then the doubles
 *
 * Stored, that is deflated (raw DEFLATE, level 1) behind the magic "TSD1": a real engine state of
 * 7.9 KB becomes about 4.2 KB for some 35 µs of CPU, and a state item is billed per started KB on
 * every save (one save per symbol per batch: in live trading, one per bar).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

const MAGIC = 0x31535354; // "TSS1" read as a little-endian u32
const DEFLATED_MAGIC = 0x31445354; // "TSD1"
const DEFLATE_LEVEL = 1;
const HEADER_BYTES = 8;
const MARKER = '$f64';
/** Shorter number arrays stay in the JSON: a marker would be longer than the numbers. */
const MIN_PACKED_LENGTH = 4;

export class SnapshotCodecError extends Error {
  constructor(message: string) {
    super(`state snapshot: ${message}`);
    this.name = 'SnapshotCodecError';
  }
}

function isNumberArray(v: readonly unknown[]): v is number[] {
  if (v.length < MIN_PACKED_LENGTH) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false;
  return true;
}

/** Encodes a JSON-shaped snapshot (objects, arrays, strings, numbers, booleans, null). */
export function encodeSnapshot(value: unknown): Uint8Array {
  const numbers: number[][] = [];
  let total = 0;
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      if (isNumberArray(v)) {
        numbers.push(v);
        const marker = { [MARKER]: [total, v.length] };
        total += v.length;
        return marker;
      }
      return v.map(walk);
    }
    const out: Record<string, unknown> = {};
    for (const key in v as Record<string, unknown>) {
      if (key === MARKER) throw new SnapshotCodecError(`an object has the reserved key ${MARKER}`);
      const item = (v as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = walk(item);
    }
    return out;
  };
  const text = JSON.stringify(walk(value));
  const jsonLength = Buffer.byteLength(text);
  const valuesAt = HEADER_BYTES + Math.ceil(jsonLength / 8) * 8;
  const bytes = Buffer.allocUnsafe(valuesAt + total * 8);
  bytes.write(text, HEADER_BYTES, 'utf8');
  bytes.fill(0, HEADER_BYTES + jsonLength, valuesAt);
  bytes.writeUInt32LE(MAGIC, 0);
  bytes.writeUInt32LE(jsonLength, 4);
  const doubles = new Float64Array(bytes.buffer, bytes.byteOffset + valuesAt, total);
  let at = 0;
  for (const list of numbers) {
    doubles.set(list, at);
    at += list.length;
  }
  return bytes;
}

/** `encodeSnapshot`, deflated behind its own magic: the form the pipeline stores. */
export function encodeStoredSnapshot(value: unknown): Uint8Array {
  const raw = encodeSnapshot(value);
  const body = deflateRawSync(raw, { level: DEFLATE_LEVEL });
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32LE(DEFLATED_MAGIC, 0);
  body.copy(out, 4);
  return out;
}

function magicOf(value: Uint8Array): number | undefined {
  return value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) : undefined;
}

/** True when the bytes start like an encoded snapshot, deflated or not (a cheap check, not a validation). */
export function isEncodedSnapshot(value: unknown): value is Uint8Array {
  if (!(value instanceof Uint8Array)) return false;
  const magic = magicOf(value);
  return (magic === MAGIC && value.length >= HEADER_BYTES) || magic === DEFLATED_MAGIC;
}

/** Decodes what `encodeSnapshot` or `encodeStoredSnapshot` wrote; damaged bytes fail with the reason. */
export function decodeSnapshot(bytes: Uint8Array): unknown {
  if (magicOf(bytes) === DEFLATED_MAGIC) {
    let raw: Buffer;
    try {
      raw = inflateRawSync(bytes.subarray(4));
    } catch (err) {
      throw new SnapshotCodecError(`deflated body is damaged: ${(err as Error).message}`);
    }
    if (magicOf(raw) !== MAGIC) throw new SnapshotCodecError('deflated body is not an encoded snapshot');
    return decodeSnapshot(raw);
  }
  if (!isEncodedSnapshot(bytes)) throw new SnapshotCodecError('not an encoded snapshot (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(4, true);
  const valuesAt = HEADER_BYTES + Math.ceil(jsonLength / 8) * 8;
  if (valuesAt > bytes.length || (bytes.length - valuesAt) % 8 !== 0) {
    throw new SnapshotCodecError(
      `truncated: ${bytes.length} bytes cannot hold ${jsonLength} bytes of structure and whole doubles`,
    );
  }
  let structure: unknown;
  try {
    structure = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, jsonLength).toString());
  } catch (err) {
    throw new SnapshotCodecError(`structure is not JSON: ${(err as Error).message}`);
  }
  const count = (bytes.length - valuesAt) / 8;
  // Float64Array needs 8-byte alignment; a buffer from the network may not have it.
  const start = bytes.byteOffset + valuesAt;
  const doubles =
    start % 8 === 0
      ? new Float64Array(bytes.buffer, start, count)
      : new Float64Array(bytes.slice(valuesAt).buffer, 0, count);
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
      return v;
    }
    const o = v as Record<string, unknown>;
    const ref = o[MARKER];
    if (ref !== undefined) {
      const [offset, length] = Array.isArray(ref) ? ref : [];
      if (
        !Number.isInteger(offset) ||
        !Number.isInteger(length) ||
        offset < 0 ||
        length < 0 ||
        offset + length > count
      ) {
        throw new SnapshotCodecError(
          `a number array refers to doubles [${String(offset)}, +${String(length)}) outside the ${count} stored`,
        );
      }
      return Array.from(doubles.subarray(offset, offset + length));
    }
    for (const key in o) o[key] = walk(o[key]);
    return o;
  };
  return walk(structure);
}
