/**
 * The binary forms of a symbol's stored state. The one written is the compact form "TSC2"; the
 * earlier forms are still read.
 *
 * Compact form "TSC2" (what `encodeStoredSnapshot` writes), little-endian:
 *   bytes 0–3   magic "TSC2"
 *   varint S, then S bytes: the structure JSON, raw-DEFLATEd against a preset dictionary (a typical
 *               structure, `STRUCTURE_DICTIONARY`: the keys cost almost nothing), with each array of
 *               four or more numbers (the indicators' windows) replaced by {"$f64":n}, and so is a
 *               shorter one holding a number JSON cannot hold (-0, NaN, ±Infinity); any other such
 *               number is {"$num":n}, the one value of array n
 *   varint A, then the A arrays in order, each: varint length L, a code byte, then —
 *               code 0–3: the L values, every one an exact decimal at scale 10^(2·code) (integers at
 *                         code 0); the scaled integers as zigzag varints of their differences
 *               code 4:   the L values as IEEE-754 doubles, 8 bytes each (anything else: -0, NaN,
 *                         ±Infinity, noise)
 *               code 5:   varint j, varint r: the array is the newest L values of array j (itself of
 *                         code 0–4, anywhere in the list, at least L long) starting at position r and
 *                         wrapping round — value i of those newest L is at position (r + i) mod L
 * A window of prices costs about 2 bytes a value instead of 8, volumes about 3; and the indicators'
 * ring buffers over the same closes (SMA 20 and 200, Bollinger 20, ROC 10) are all, rotated, the
 * newest values of the returns z-score's window of closes, so they cost a few bytes each. Values come
 * back bit for bit (a reference is only written where every value is identical, by `Object.is`), so a
 * restored engine continues exactly as the one that was saved. A real engine state takes about
 * 1.2 KB (1.7 KB in "TSC1"; the deflated plain form took 4.2 KB), and a state item is billed per
 * started KB on every save.
 *
 * Compact form "TSC1" (earlier releases): the same without code 5.
 *
 * Plain form "TSS1" (earlier releases; still what `encodeSnapshot` writes):
 *   bytes 0–3   magic "TSS1"
 *   bytes 4–7   u32 length J of the structure JSON
 *   bytes 8–…   structure JSON (UTF-8), each number array replaced by {"$f64":[offset,length]} (and,
 *               since TSC2, a number JSON cannot hold by {"$num":[offset,1]})
 *   then zero padding to a multiple of 8, then the doubles
 * Deflated plain form "TSD1" (earlier releases): "TSD1", then the plain form, raw-DEFLATEd.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter, fromScaled, SCALES, scaledInteger, unzigzag, zigzag } from './binary.ts';
import { STRUCTURE_DICTIONARY } from './snapshot-dictionary.ts';

const MAGIC = 0x31535354; // "TSS1" read as a little-endian u32
const DEFLATED_MAGIC = 0x31445354; // "TSD1"
const COMPACT_V1_MAGIC = 0x31435354; // "TSC1"
const COMPACT_MAGIC = 0x32435354; // "TSC2"
const STRUCTURE_DEFLATE = { level: 6, dictionary: Buffer.from(STRUCTURE_DICTIONARY, 'utf8') };
const RAW_DOUBLES = 4;
/** "TSC2": the newest values of another array, rotated. */
const ROTATED_SUFFIX = 5;
const HEADER_BYTES = 8;
const MARKER = '$f64';
/** A single number JSON cannot hold (-0, NaN, ±Infinity): the one value of the array it refers to. */
const SCALAR_MARKER = '$num';
/** Shorter number arrays stay in the JSON: a marker would be longer than the numbers. */
const MIN_PACKED_LENGTH = 4;

export class SnapshotCodecError extends Error {
  constructor(message: string) {
    super(`state snapshot: ${message}`);
    this.name = 'SnapshotCodecError';
  }
}

/** A number JSON text gives back as itself (not -0, NaN or ±Infinity, which it turns into 0 or null). */
const jsonHolds = (x: number): boolean => Number.isFinite(x) && !Object.is(x, -0);

/** An array of numbers to move out of the structure: long enough, or holding one JSON cannot. */
function isNumberArray(v: readonly unknown[]): v is number[] {
  if (v.length === 0) return false;
  let jsonSafe = true;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number') return false;
    if (!jsonHolds(x)) jsonSafe = false;
  }
  return v.length >= MIN_PACKED_LENGTH || !jsonSafe;
}

/** Encodes a JSON-shaped snapshot (objects, arrays, strings, numbers, booleans, null) in the plain form. */
export function encodeSnapshot(value: unknown): Uint8Array {
  const numbers: number[][] = [];
  let total = 0;
  const structure = extractArrays(value, numbers, (list) => {
    total += list.length;
    return [total - list.length, list.length];
  });
  const text = JSON.stringify(structure);
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

/**
 * A copy of `value` with every number array (of at least `MIN_PACKED_LENGTH`, or holding a number JSON
 * cannot) moved out into `arrays` and replaced by `{"$f64": ref(array)}` (by default the array's
 * number in `arrays`), and every other number JSON cannot hold by `{"$num": ref([number])}`.
 */
function extractArrays(
  value: unknown,
  arrays: number[][],
  ref: (values: number[]) => unknown = () => arrays.length - 1,
): unknown {
  if (typeof value === 'number' && !jsonHolds(value)) {
    const one = [value];
    arrays.push(one);
    return { [SCALAR_MARKER]: ref(one) };
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (isNumberArray(value)) {
      arrays.push(value);
      return { [MARKER]: ref(value) };
    }
    return value.map((v) => extractArrays(v, arrays, ref));
  }
  const out: Record<string, unknown> = {};
  for (const key in value as Record<string, unknown>) {
    if (key === MARKER || key === SCALAR_MARKER)
      throw new SnapshotCodecError(`an object has the reserved key ${key}`);
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) out[key] = extractArrays(item, arrays, ref);
  }
  return out;
}

/** One writer reused by every encode (encodes run one at a time). */
const scratch = new ByteWriter(8192);
/** The scaled integers of the array being written. */
let scaled = new Float64Array(256);

/**
 * The first scale at which every value is an exact scaled integer, with those integers left in
 * `scaled`; `RAW_DOUBLES` when there is none.
 */
function scaleArray(values: readonly number[]): number {
  if (scaled.length < values.length) scaled = new Float64Array(values.length);
  next: for (let code = 0; code < SCALES.length; code++) {
    for (let i = 0; i < values.length; i++) {
      const k = scaledInteger(values[i]!, code);
      if (k === undefined) continue next;
      scaled[i] = k;
    }
    return code;
  }
  return RAW_DOUBLES;
}

/**
 * The position r at which `values` is `source`'s newest `values.length` values, rotated (value i of
 * them at (r + i) mod length), compared by `Object.is`; undefined when it is not.
 */
export function rotatedSuffixOf(values: readonly number[], source: readonly number[]): number | undefined {
  const n = values.length;
  const from = source.length - n;
  if (from < 0 || n === 0) return undefined;
  const first = source[from];
  candidates: for (let r = 0; r < n; r++) {
    if (!Object.is(values[r], first)) continue;
    for (let i = 1; i < n; i++) {
      if (!Object.is(values[(r + i) % n], source[from + i])) continue candidates;
    }
    return r;
  }
  return undefined;
}

/** For each array, the array whose values it is rotated and the rotation (code 5), if any. */
function findReferences(arrays: readonly number[][]): ({ source: number; rotation: number } | undefined)[] {
  const refs = new Array<{ source: number; rotation: number } | undefined>(arrays.length);
  // Longest first, so a source is never itself a reference.
  const order = arrays.map((_, i) => i).sort((a, b) => arrays[b]!.length - arrays[a]!.length || a - b);
  const plain: number[] = [];
  for (const i of order) {
    for (const j of plain) {
      const rotation = rotatedSuffixOf(arrays[i]!, arrays[j]!);
      if (rotation !== undefined) {
        refs[i] = { source: j, rotation };
        break;
      }
    }
    if (refs[i] === undefined) plain.push(i);
  }
  return refs;
}

/** The compact form of a JSON-shaped snapshot: the form the pipeline stores. */
export function encodeStoredSnapshot(value: unknown): Uint8Array {
  const arrays: number[][] = [];
  const structure = deflateRawSync(JSON.stringify(extractArrays(value, arrays)), STRUCTURE_DEFLATE);
  const refs = findReferences(arrays);
  const w = scratch.reset();
  w.u32(COMPACT_MAGIC);
  w.varint(structure.length);
  w.raw(structure);
  w.varint(arrays.length);
  for (let a = 0; a < arrays.length; a++) {
    const values = arrays[a]!;
    w.varint(values.length);
    const ref = refs[a];
    if (ref !== undefined) {
      w.byte(ROTATED_SUFFIX);
      w.varint(ref.source);
      w.varint(ref.rotation);
      continue;
    }
    const code = scaleArray(values);
    w.byte(code);
    if (code === RAW_DOUBLES) {
      for (const x of values) w.double(x);
      continue;
    }
    let previous = 0;
    for (let i = 0; i < values.length; i++) {
      const k = scaled[i]!;
      w.varint(zigzag(k - previous));
      previous = k;
    }
  }
  return w.copy();
}

function decodeCompact(bytes: Uint8Array, magic: number): unknown {
  const r = new ByteReader(bytes, (message) => new SnapshotCodecError(message));
  r.at = 4;
  const deflated = r.take(r.varint(), 'structure');
  let text: string;
  try {
    text = inflateRawSync(deflated, { dictionary: STRUCTURE_DEFLATE.dictionary }).toString('utf8');
  } catch (err) {
    throw new SnapshotCodecError(`deflated structure is damaged: ${(err as Error).message}`);
  }
  const maxCode = magic === COMPACT_MAGIC ? ROTATED_SUFFIX : RAW_DOUBLES;
  const arrays: number[][] = [];
  // Code-5 arrays are filled in once every array has been read (a source may come later).
  const refs: { array: number; length: number; source: number; rotation: number }[] = [];
  for (let n = r.varint(); arrays.length < n; ) {
    const length = r.varint();
    const code = r.byte();
    if (code > maxCode) throw new SnapshotCodecError(`unknown array code ${code} at byte ${r.at - 1}`);
    if (code === ROTATED_SUFFIX) {
      refs.push({ array: arrays.length, length, source: r.varint(), rotation: r.varint() });
      arrays.push([]);
      continue;
    }
    if (length > bytes.length - r.at) throw new SnapshotCodecError(`truncated: an array of ${length} values`);
    const values = new Array<number>(length);
    let k = 0;
    for (let i = 0; i < length; i++) {
      if (code === RAW_DOUBLES) {
        values[i] = r.double();
      } else {
        k += unzigzag(r.varint());
        values[i] = fromScaled(k, code);
      }
    }
    arrays.push(values);
  }
  if (!r.done) throw new SnapshotCodecError(`${bytes.length - r.at} bytes after the last array`);
  const isRef = new Set(refs.map((ref) => ref.array));
  for (const { array, length: n, source, rotation } of refs) {
    const from = arrays[source];
    if (from === undefined || isRef.has(source) || from.length < n || rotation >= Math.max(n, 1)) {
      throw new SnapshotCodecError(
        `array ${array} refers to the newest ${n} values of array ${source} at rotation ${rotation}, which it cannot hold`,
      );
    }
    const values = new Array<number>(n);
    for (let i = 0; i < n; i++) values[(rotation + i) % n] = from[from.length - n + i]!;
    arrays[array] = values;
  }
  return parseStructure(text, (ref) => {
    const values = typeof ref === 'number' ? arrays[ref] : undefined;
    if (values === undefined) {
      throw new SnapshotCodecError(
        `a number array refers to array ${String(ref)} of the ${arrays.length} stored`,
      );
    }
    return values;
  });
}

function magicOf(value: Uint8Array): number | undefined {
  return value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) : undefined;
}

/** True when the bytes start like an encoded snapshot, deflated or not (a cheap check, not a validation). */
export function isEncodedSnapshot(value: unknown): value is Uint8Array {
  if (!(value instanceof Uint8Array)) return false;
  const magic = magicOf(value);
  return (
    (magic === MAGIC && value.length >= HEADER_BYTES) ||
    magic === DEFLATED_MAGIC ||
    magic === COMPACT_MAGIC ||
    magic === COMPACT_V1_MAGIC
  );
}

/** Decodes any form (`encodeStoredSnapshot`, `encodeSnapshot`, earlier releases); damage fails with the reason. */
export function decodeSnapshot(bytes: Uint8Array): unknown {
  const magic = magicOf(bytes);
  if (magic === COMPACT_MAGIC || magic === COMPACT_V1_MAGIC) return decodeCompact(bytes, magic);
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
  const count = (bytes.length - valuesAt) / 8;
  // Float64Array needs 8-byte alignment; a buffer from the network may not have it.
  const start = bytes.byteOffset + valuesAt;
  const doubles =
    start % 8 === 0
      ? new Float64Array(bytes.buffer, start, count)
      : new Float64Array(bytes.slice(valuesAt).buffer, 0, count);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, jsonLength).toString();
  return parseStructure(text, (ref) => {
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
  });
}

/** Parses a structure JSON and puts back each number array (and single number) its markers refer to. */
function parseStructure(text: string, resolve: (ref: unknown) => number[]): unknown {
  let structure: unknown;
  try {
    structure = JSON.parse(text);
  } catch (err) {
    throw new SnapshotCodecError(`structure is not JSON: ${(err as Error).message}`);
  }
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
      return v;
    }
    const o = v as Record<string, unknown>;
    const ref = o[MARKER];
    if (ref !== undefined) return resolve(ref);
    const scalar = o[SCALAR_MARKER];
    if (scalar !== undefined) {
      const values = resolve(scalar);
      if (values.length !== 1)
        throw new SnapshotCodecError(`a single number refers to an array of ${values.length} values`);
      return values[0];
    }
    for (const key in o) o[key] = walk(o[key]);
    return o;
  };
  return walk(structure);
}
