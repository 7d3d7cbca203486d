/**
 * A symbol's stored state: the engine snapshot taken at some batch (the base) plus the log of the
 * events applied since, with the per-kind watermarks and the LATEST row's time as of the last batch.
 * A batch normally appends its events to the log and keeps the base's bytes as they are; it takes a
 * new snapshot (a rebase) only when the log would make the item cost another write unit. Restoring
 * replays the log onto the base, which gives back exactly the engine that was saved.
 *
 * Layout of the stored bytes (version 3, little-endian):
 *   bytes 0–3   magic "TSL1"
 *   bytes 4–7   u32 length H of the header JSON {"watermarks":{…},"latestRowTime":t,"logStart":t}
 *   then the header, a u32 length B, B bytes of base (a version-2 snapshot: written by
 *   `encodeStoredSnapshot`, read in any form `decodeSnapshot` reads) and the event log
 *   (`event-log.ts`) to the end.
 * Version 2 (a base alone) and version 1 (a plain JSON map) written by earlier releases are read.
 */
import type { MarketEvent } from '../../domain/market/index.ts';
import type { SymbolStateRecord } from '../../ports/processor.ts';
import type { SymbolEngine, SymbolEngineFactory } from './engine.ts';
import { appendToEventLog, type EventLog, emptyEventLog, readEventLog } from './event-log.ts';
import { decodeSnapshot, encodeStoredSnapshot, isEncodedSnapshot } from './snapshot-codec.ts';

const MAGIC = 0x314c5354; // "TSL1" read as a little-endian u32

export type Watermarks = Partial<Record<MarketEvent['kind'], number>>;

/** Version 1 and 2: the engine's snapshot with the watermarks and (version 2) the LATEST row's time. */
interface StoredSnapshot {
  readonly v: 1 | 2;
  /** Newest event time applied, per event kind (bars start before the ticks that follow them). */
  readonly watermarks: Watermarks;
  /** Event time of the symbol's LATEST row (version 2; absent in version 1). */
  readonly latestRowTime?: number;
  readonly engine: unknown;
}

interface Header {
  readonly watermarks: Watermarks;
  readonly latestRowTime?: number;
  readonly logStart: number;
}

/** A stored state, read. */
export interface StoredState {
  readonly watermarks: Watermarks;
  /** Time of the LATEST row; where a state did not record it, its newest event time stands in. */
  readonly latestRowTime: number | undefined;
  /** The engine snapshot of the base (plain JSON), to restore before replaying `events`. */
  readonly engine: unknown;
  /** The base's bytes as stored, kept to write again unchanged (undefined for a version-1 state). */
  readonly base: Uint8Array | undefined;
  /** The log as stored (undefined for a version-1 state), and its events in the order applied. */
  readonly log: EventLog | undefined;
  readonly events: readonly MarketEvent[];
}

export class StoredStateError extends Error {
  constructor(symbol: string, message: string) {
    super(`stored state of ${symbol}: ${message}`);
    this.name = 'StoredStateError';
  }
}

function snapshotOf(symbol: string, raw: unknown, expected: 1 | 2): StoredSnapshot {
  const s = (expected === 2 ? decodeSnapshot(raw as Uint8Array) : raw) as Partial<StoredSnapshot> | null;
  if (s === null || typeof s !== 'object' || s.v !== expected || typeof s.watermarks !== 'object') {
    throw new StoredStateError(symbol, `not a version-${expected} pipeline snapshot`);
  }
  return s as StoredSnapshot;
}

const newestOf = (watermarks: Watermarks, fallback: number) =>
  Math.max(fallback, ...Object.values(watermarks).filter((t): t is number => t !== undefined));

/** Reads any version of a stored state; an unusable one fails with a `StoredStateError` saying why. */
export function readStoredState(state: SymbolStateRecord): StoredState {
  const raw = state.snapshot;
  if (raw instanceof Uint8Array && raw.length >= 8 && u32(raw, 0) === MAGIC) {
    return readVersion3(state.symbol, raw, state.lastEventTime);
  }
  if (isEncodedSnapshot(raw)) {
    const s = snapshotOf(state.symbol, raw, 2);
    return {
      watermarks: s.watermarks,
      latestRowTime: s.latestRowTime ?? state.lastEventTime,
      engine: s.engine,
      base: raw,
      log: emptyEventLog(newestOf(s.watermarks, 0)),
      events: [],
    };
  }
  const s = snapshotOf(state.symbol, raw, 1);
  return {
    watermarks: s.watermarks,
    latestRowTime: state.lastEventTime,
    engine: s.engine,
    base: undefined,
    log: undefined,
    events: [],
  };
}

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);
}

function readVersion3(symbol: string, bytes: Uint8Array, lastEventTime: number): StoredState {
  const headerLength = u32(bytes, 4);
  const baseAt = 8 + headerLength + 4;
  if (baseAt > bytes.length) throw new StoredStateError(symbol, 'truncated header');
  let header: Header;
  try {
    header = JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'),
    ) as Header;
  } catch (err) {
    throw new StoredStateError(symbol, `damaged header: ${(err as Error).message}`);
  }
  if (typeof header?.watermarks !== 'object' || !Number.isSafeInteger(header.logStart)) {
    throw new StoredStateError(symbol, 'header lacks watermarks or logStart');
  }
  const baseLength = u32(bytes, 8 + headerLength);
  const logAt = baseAt + baseLength;
  if (logAt > bytes.length) throw new StoredStateError(symbol, 'truncated base');
  const base = bytes.subarray(baseAt, logAt);
  const { events, log } = readEventLog(bytes.subarray(logAt), symbol, header.logStart);
  return {
    watermarks: header.watermarks,
    latestRowTime: header.latestRowTime ?? lastEventTime,
    engine: snapshotOf(symbol, base, 2).engine,
    base,
    log,
    events,
  };
}

/** The base's engine with the logged events replayed onto it: the engine that was saved. */
export function restoreEngine(
  symbol: string,
  stored: StoredState,
  engines: SymbolEngineFactory,
): SymbolEngine {
  const engine = engines.restore(symbol, stored.engine);
  for (const event of stored.events) engine.apply(event);
  return engine;
}

/** What a symbol's state holds after a batch. */
export interface StateParts {
  readonly watermarks: Watermarks;
  readonly latestRowTime: number | undefined;
  readonly base: Uint8Array;
  readonly log: EventLog;
}

/** The version-3 header of a state: its watermarks, LATEST time and the log's start time. */
function headerJson(parts: StateParts): Buffer {
  const { watermarks, latestRowTime } = parts;
  const header: Header = {
    watermarks,
    ...(latestRowTime === undefined ? {} : { latestRowTime }),
    logStart: parts.log.startTime,
  };
  return Buffer.from(JSON.stringify(header), 'utf8');
}

/** The magic and the two u32 lengths. */
const FRAME_BYTES = 12;

function assemble(header: Buffer, base: Uint8Array, log: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_BYTES + header.length + base.length + log.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(header.length, 4);
  header.copy(out, 8);
  out.writeUInt32LE(base.length, 8 + header.length);
  out.set(base, FRAME_BYTES + header.length);
  out.set(log, FRAME_BYTES + header.length + base.length);
  return out;
}

/**
 * Bytes a state item holds besides its snapshot: keys, attribute names, a sequence number of up to
 * 56 digits and the event time (the DynamoDB store's layout; its unit test holds it under this).
 */
export const STATE_ITEM_OVERHEAD_BYTES = 256;
const WRITE_UNIT_BYTES = 1024;

/** Write units DynamoDB bills to put a state item whose snapshot is `snapshotBytes` long. */
export function stateWriteUnits(snapshotBytes: number): number {
  return Math.ceil((snapshotBytes + STATE_ITEM_OVERHEAD_BYTES) / WRITE_UNIT_BYTES);
}

/**
 * The state to store after a batch: the events appended to the log while that costs no write unit
 * more than the base alone would, otherwise a new base (`snapshot()` is called only then).
 */
export function nextStoredState(
  symbol: string,
  current: { readonly base: Uint8Array | undefined; readonly log: EventLog | undefined },
  applied: readonly MarketEvent[],
  watermarks: Watermarks,
  latestRowTime: number | undefined,
  snapshot: () => unknown,
): { readonly bytes: Uint8Array; readonly parts: StateParts } {
  if (current.base !== undefined && current.log !== undefined) {
    // The header does not depend on the log's length: serialise it once, size the room, append.
    const header = headerJson({ watermarks, latestRowTime, base: current.base, log: current.log });
    const withoutLog = FRAME_BYTES + header.length + current.base.length;
    const room = stateWriteUnits(withoutLog) * WRITE_UNIT_BYTES - STATE_ITEM_OVERHEAD_BYTES - withoutLog;
    const log = appendToEventLog(current.log, symbol, applied, room);
    if (log !== undefined) {
      return {
        bytes: assemble(header, current.base, log.bytes),
        parts: { watermarks, latestRowTime, base: current.base, log },
      };
    }
  }
  const base = encodeStoredSnapshot({
    v: 2,
    watermarks,
    ...(latestRowTime === undefined ? {} : { latestRowTime }),
    engine: snapshot(),
  } satisfies StoredSnapshot);
  const parts: StateParts = { watermarks, latestRowTime, base, log: emptyEventLog(newestOf(watermarks, 0)) };
  return { bytes: assemble(headerJson(parts), base, parts.log.bytes), parts };
}
