/**
 * The events a symbol's engine applied since its stored snapshot, in a compact binary form: the
 * stored state is that snapshot plus this log, so a batch appends a few bytes instead of encoding
 * and compressing the whole engine again, and a restore replays the log onto the snapshot. Events come
 * back exactly as they were applied (every number bit for bit, the fields in the schema's order), so
 * the replayed engine is the one that was saved.
 *
 * An entry is a kind byte (0 bar, 1 tick), for ticks a varint of which optional fields are present,
 * then each field of the kind in the order below. The symbol is the state's own and is not written.
 *   time    zigzag varint of the difference to the previous entry's time (the log's start time first)
 *   number  varint of zigzag(k) · 8 + code: code 0 the integer k, 1–3 the decimal k / 10^(2·code),
 *           4 an IEEE-754 double in the 8 bytes that follow (any other number, -0 included)
 *   text    varint: even, a new string of that many UTF-8 bytes / 2 follows (and joins the log's
 *           table); odd, the table's string number (v − 1) / 2
 */
import type { Bar, MarketEvent, Tick } from '../../domain/market/index.ts';
import { ByteReader, ByteWriter, fromScaled, SCALES, scaledInteger, unzigzag, zigzag } from './binary.ts';

type FieldType = 'time' | 'number' | 'text';

interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly optional: boolean;
}

const field = (name: string, type: FieldType, optional = false): Field => ({ name, type, optional });

/** Bar fields after the symbol, in `BarSchema` order. */
export const BAR_LOG_FIELDS: readonly Field[] = [
  field('start', 'time'),
  field('interval', 'text'),
  field('open', 'number'),
  field('high', 'number'),
  field('low', 'number'),
  field('close', 'number'),
  field('volume', 'number'),
  field('session', 'text'),
  field('source', 'text'),
];

/** Tick fields after the symbol, in `TickSchema` order. */
export const TICK_LOG_FIELDS: readonly Field[] = [
  field('time', 'time'),
  field('price', 'number'),
  field('dayOpen', 'number', true),
  field('dayHigh', 'number', true),
  field('dayLow', 'number', true),
  field('previousClose', 'number', true),
  field('dayVolume', 'number', true),
  field('currency', 'text', true),
  field('marketState', 'text', true),
  field('source', 'text'),
];

const KIND_BAR = 0;
const KIND_TICK = 1;
const RAW_DOUBLE = 4;

export class EventLogError extends Error {
  constructor(message: string) {
    super(`state event log: ${message}`);
    this.name = 'EventLogError';
  }
}

/** A log as stored, with what appending to it needs. Immutable: appending makes a new one. */
export interface EventLog {
  readonly bytes: Uint8Array;
  /** Entries in the log. */
  readonly count: number;
  /** The time the first entry's is relative to. */
  readonly startTime: number;
  /** Time of the last entry (the start time while empty): the next entry's time is relative to it. */
  readonly lastTime: number;
  /** The strings the log has written, in order (entries refer back to them by number). */
  readonly strings: readonly string[];
}

export function emptyEventLog(startTime: number): EventLog {
  if (!Number.isSafeInteger(startTime))
    throw new EventLogError(`start time must be an integer, got ${startTime}`);
  return { bytes: new Uint8Array(0), count: 0, startTime, lastTime: startTime, strings: [] };
}

/** One writer is reused by every append (appends run one at a time). */
const scratch = new ByteWriter();

function writeNumber(w: ByteWriter, x: number): void {
  for (let code = 0; code < SCALES.length; code++) {
    const k = scaledInteger(x, code);
    if (k !== undefined) {
      w.varint(zigzag(k) * 8 + code);
      return;
    }
  }
  w.varint(RAW_DOUBLE);
  w.double(x);
}

function writeText(w: ByteWriter, s: string): void {
  const encoded = Buffer.from(s, 'utf8');
  w.varint(encoded.length * 2);
  w.raw(encoded);
}

/**
 * Appends events (all of `symbol`, in the order they were applied) to a log; `undefined` as soon as
 * the log would pass `maxBytes`. Throws an `EventLogError` for an event it cannot hold (another
 * symbol, a field of the wrong type).
 */
export function appendToEventLog(
  log: EventLog,
  symbol: string,
  events: readonly MarketEvent[],
  maxBytes = Number.POSITIVE_INFINITY,
): EventLog | undefined {
  const w = scratch.reset();
  const room = maxBytes - log.bytes.length;
  const strings = [...log.strings];
  const index = new Map(strings.map((s, i) => [s, i]));
  let lastTime = log.lastTime;
  for (const event of events) {
    if (w.at > room) return undefined;
    const data = (event.kind === 'bar' ? event.bar : event.tick) as Readonly<Record<string, unknown>>;
    if (data.symbol !== symbol) {
      throw new EventLogError(
        `an event of ${String(data.symbol)} cannot be logged in the state of ${symbol}`,
      );
    }
    const fields = event.kind === 'bar' ? BAR_LOG_FIELDS : TICK_LOG_FIELDS;
    w.byte(event.kind === 'bar' ? KIND_BAR : KIND_TICK);
    if (event.kind === 'tick') {
      let present = 0;
      let bit = 1;
      for (const f of fields) {
        if (!f.optional) continue;
        if (data[f.name] !== undefined) present += bit;
        bit *= 2;
      }
      w.varint(present);
    }
    for (const f of fields) {
      const value = data[f.name];
      if (value === undefined) {
        if (f.optional) continue;
        throw new EventLogError(`${event.kind} field ${f.name} is missing`);
      }
      if (f.type === 'time') {
        if (!Number.isSafeInteger(value))
          throw new EventLogError(`${f.name} must be an integer, got ${String(value)}`);
        w.varint(zigzag((value as number) - lastTime));
        lastTime = value as number;
      } else if (f.type === 'number') {
        if (typeof value !== 'number')
          throw new EventLogError(`${f.name} must be a number, got ${typeof value}`);
        writeNumber(w, value);
      } else {
        if (typeof value !== 'string')
          throw new EventLogError(`${f.name} must be a string, got ${typeof value}`);
        const known = index.get(value);
        if (known !== undefined) {
          w.varint(known * 2 + 1);
        } else {
          index.set(value, strings.length);
          strings.push(value);
          writeText(w, value);
        }
      }
    }
  }
  if (w.at > room) return undefined;
  const bytes = new Uint8Array(log.bytes.length + w.at);
  bytes.set(log.bytes);
  bytes.set(w.bytes.subarray(0, w.at), log.bytes.length);
  return { bytes, count: log.count + events.length, startTime: log.startTime, lastTime, strings };
}

function readNumber(r: ByteReader): number {
  const tag = r.varint();
  const code = tag % 8;
  if (code === RAW_DOUBLE) return r.double();
  if (code > RAW_DOUBLE) throw new EventLogError(`unknown number code ${code} at byte ${r.at}`);
  return fromScaled(unzigzag((tag - code) / 8), code);
}

/** Reads a whole log written by `appendToEventLog` for `symbol` from `startTime`; damage fails with the reason. */
export function readEventLog(
  bytes: Uint8Array,
  symbol: string,
  startTime: number,
): { readonly events: MarketEvent[]; readonly log: EventLog } {
  const r = new ByteReader(bytes, (message) => new EventLogError(message));
  const strings: string[] = [];
  const events: MarketEvent[] = [];
  let lastTime = startTime;
  while (!r.done) {
    const kind = r.byte();
    if (kind !== KIND_BAR && kind !== KIND_TICK)
      throw new EventLogError(`unknown event kind ${kind} at byte ${r.at - 1}`);
    const fields = kind === KIND_BAR ? BAR_LOG_FIELDS : TICK_LOG_FIELDS;
    const present = kind === KIND_TICK ? r.varint() : 0;
    const data: Record<string, unknown> = { symbol };
    let bit = 1;
    for (const f of fields) {
      if (f.optional) {
        const has = Math.floor(present / bit) % 2 === 1;
        bit *= 2;
        if (!has) continue;
      }
      if (f.type === 'time') {
        lastTime += unzigzag(r.varint());
        data[f.name] = lastTime;
      } else if (f.type === 'number') {
        data[f.name] = readNumber(r);
      } else {
        const v = r.varint();
        if (v % 2 === 1) {
          const s = strings[(v - 1) / 2];
          if (s === undefined)
            throw new EventLogError(`string ${(v - 1) / 2} is not in the table at byte ${r.at}`);
          data[f.name] = s;
        } else {
          const s = Buffer.from(r.take(v / 2, 'string')).toString('utf8');
          strings.push(s);
          data[f.name] = s;
        }
      }
    }
    events.push(kind === KIND_BAR ? { kind: 'bar', bar: data as Bar } : { kind: 'tick', tick: data as Tick });
  }
  return { events, log: { bytes, count: events.length, startTime, lastTime, strings } };
}
