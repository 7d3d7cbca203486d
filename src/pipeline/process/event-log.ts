/**
 * The events a symbol's engine applied since its stored snapshot, in a compact binary form: the
 * stored state is that snapshot plus this log, so a batch appends a few bytes instead of encoding
 * and compressing the whole engine again, and a restore replays the log onto the snapshot. Events come
 * back exactly as they were applied (every number bit for bit, the fields in the schema's order), so
 * the replayed engine is the one that was saved.
 *
 * An entry is a kind byte (2 bar, 3 tick; 4–11 a bar in short, below), for ticks a varint of which optional fields are present,
 * then each field of the kind in the order below. The symbol is the state's own and is not written.
 *   time    zigzag varint of (difference to the previous entry's time) − (the previous entry's
 *           difference): 0 for bars a minute apart (the log's start time and a difference of 0 first)
 *   number  varint of zigzag(k) · 16 + code: code 0 the integer k, 1–3 the decimal k / 10^(2·code),
 *           4 an IEEE-754 double in the 8 bytes that follow (any other number, -0 included),
 *           8–11 the same field of the previous event of the kind plus k at scale 10^(2·(code − 8))
 *           (prices a cent or two apart cost a byte or two instead of four)
 *   text    varint: even, a new string of that many UTF-8 bytes / 2 follows (and joins the log's
 *           table); odd, the table's string number (v − 1) / 2
 *
 * A bar is written in short, as kind 4 + code + 4 · t (4–11), when its four prices and the previous
 * bar's close are exact decimals at one scale 10^(2·code) (prices always are), its open and close at
 * or inside its high and low; t = 1 when the bar's texts follow, 0 when they are the previous bar's:
 *   time, as above
 *   texts   interval, session, source as text fields (when t = 1)
 *   varints at that scale: zigzag(open − previous close), zigzag(close − open),
 *           high − max(open, close), min(open, close) − low (a bar's gap, body and wicks: a byte
 *           each for most bars, where four differences to the previous bar's fields took about two)
 *   volume  a number field, as above
 * and as kind 2 otherwise (the log's first bar, for one).
 *
 * Entries of kinds 0 (bar) and 1 (tick), written by an earlier release, are still read: times are
 * plain zigzag differences and numbers zigzag(k) · 8 + code, codes 0–4 only.
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

const LEGACY_BAR = 0;
const LEGACY_TICK = 1;
const KIND_BAR = 2;
const KIND_TICK = 3;
/** A short bar's kind: this plus its scale code, plus 4 when its texts follow (up to 11). */
const KIND_BAR_SHORT = 4;
const KIND_BAR_SHORT_LAST = 11;
const RAW_DOUBLE = 4;
const DELTA = 8;

const barField = (name: string): number => BAR_LOG_FIELDS.findIndex((f) => f.name === name);
const OPEN = barField('open');
const HIGH = barField('high');
const LOW = barField('low');
const CLOSE = barField('close');
const VOLUME = barField('volume');
/** The bar fields a short entry writes as numbers (by position in `BAR_LOG_FIELDS`). */
const SHORT_BAR_NUMBERS = [OPEN, HIGH, LOW, CLOSE, VOLUME] as const;
/** The bar fields a short entry writes as texts, in this order. */
const BAR_TEXTS = ['interval', 'session', 'source'] as const;

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
  /** Difference between the last two entries' times (0 while there are fewer than two). */
  readonly lastStep: number;
  /** The strings the log has written, in order (entries refer back to them by number). */
  readonly strings: readonly string[];
  /** The last value of each number field per kind (by position in its field list): deltas refer to it. */
  readonly previous: {
    readonly bar: readonly (number | undefined)[];
    readonly tick: readonly (number | undefined)[];
  };
  /** The texts (`BAR_TEXTS`) of the log's last bar: a short entry may say it has the same. */
  readonly barTexts: readonly string[] | undefined;
}

export function emptyEventLog(startTime: number): EventLog {
  if (!Number.isSafeInteger(startTime))
    throw new EventLogError(`start time must be an integer, got ${startTime}`);
  const previous = { bar: [], tick: [] };
  return {
    bytes: new Uint8Array(0),
    count: 0,
    startTime,
    lastTime: startTime,
    lastStep: 0,
    strings: [],
    previous,
    barTexts: undefined,
  };
}

/** One writer is reused by every append (appends run one at a time). */
const scratch = new ByteWriter();

/** `x` as a difference to `previous` at the first scale both are exact at, else as itself. */
function writeNumber(w: ByteWriter, x: number, previous: number | undefined): void {
  let plain: number | undefined; // the first scale `x` alone is exact at
  for (let code = 0; code < SCALES.length; code++) {
    const k = scaledInteger(x, code);
    if (k === undefined) continue;
    const p = previous === undefined ? undefined : scaledInteger(previous, code);
    if (p !== undefined) {
      w.varint(zigzag(k - p) * 16 + DELTA + code);
      return;
    }
    plain ??= code;
  }
  if (plain !== undefined) {
    w.varint(zigzag(scaledInteger(x, plain)!) * 16 + plain);
    return;
  }
  w.varint(RAW_DOUBLE);
  w.double(x);
}

function writeText(w: ByteWriter, s: string): void {
  const encoded = Buffer.from(s, 'utf8');
  w.varint(encoded.length * 2);
  w.raw(encoded);
}

/** Open, high, low, close and the previous close: the values `shortBarScale` looks at. */
const shortBarPrices = [0, 0, 0, 0, 0];
/** The same as integers at the scale `shortBarScale` found. */
const shortBar = [0, 0, 0, 0, 0];

/**
 * The first scale at which the bar's prices and the previous close are all exact, with the bar's
 * high and low around its open and close, leaving the integers in `shortBar`; undefined otherwise.
 */
function shortBarScale(data: Readonly<Record<string, unknown>>, previousClose: number | undefined) {
  if (previousClose === undefined) return undefined;
  const { open, high, low, close } = data;
  if (typeof open !== 'number' || typeof high !== 'number' || typeof low !== 'number') return undefined;
  if (typeof close !== 'number') return undefined;
  const values = shortBarPrices;
  values[0] = open;
  values[1] = high;
  values[2] = low;
  values[3] = close;
  values[4] = previousClose;
  next: for (let code = 0; code < SCALES.length; code++) {
    for (let i = 0; i < values.length; i++) {
      const k = scaledInteger(values[i]!, code);
      if (k === undefined) continue next;
      shortBar[i] = k;
    }
    const [o, h, l, c] = shortBar as [number, number, number, number];
    return h >= Math.max(o, c) && l <= Math.min(o, c) ? code : undefined;
  }
  return undefined;
}

const hasBarTexts = (data: Readonly<Record<string, unknown>>) =>
  typeof data.interval === 'string' && typeof data.session === 'string' && typeof data.source === 'string';

/** The bar's texts (`BAR_TEXTS`): `previous` when they are the same (no new list), else a new list. */
const barTextsOf = (data: Readonly<Record<string, unknown>>, previous: readonly string[] | undefined) =>
  previous !== undefined &&
  data.interval === previous[0] &&
  data.session === previous[1] &&
  data.source === previous[2]
    ? previous
    : [data.interval as string, data.session as string, data.source as string];

/** Writes a text field (a table reference, or the text, which joins the table); returns the table. */
function writeTextField(w: ByteWriter, strings: readonly string[], value: string): readonly string[] {
  const known = strings.indexOf(value);
  if (known >= 0) {
    w.varint(known * 2 + 1);
    return strings;
  }
  writeText(w, value);
  return [...strings, value];
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
  // The table holds a handful of strings (interval, session, source…): searched, copied only to grow.
  let strings = log.strings;
  let lastTime = log.lastTime;
  let lastStep = log.lastStep;
  let barTexts = log.barTexts;
  const previous = { bar: [...log.previous.bar], tick: [...log.previous.tick] };
  const writeTime = (time: number) => {
    const step = time - lastTime;
    w.varint(zigzag(step - lastStep));
    lastTime = time;
    lastStep = step;
  };
  for (const event of events) {
    if (w.at > room) return undefined;
    const data = (event.kind === 'bar' ? event.bar : event.tick) as Readonly<Record<string, unknown>>;
    if (data.symbol !== symbol) {
      throw new EventLogError(
        `an event of ${String(data.symbol)} cannot be logged in the state of ${symbol}`,
      );
    }
    const fields = event.kind === 'bar' ? BAR_LOG_FIELDS : TICK_LOG_FIELDS;
    const last = previous[event.kind];
    if (event.kind === 'bar') {
      const start = data.start;
      const volume = data.volume;
      const code =
        hasBarTexts(data) && Number.isSafeInteger(start) && typeof volume === 'number'
          ? shortBarScale(data, last[CLOSE])
          : undefined;
      if (code !== undefined) {
        const texts = barTextsOf(data, barTexts);
        const same = texts === barTexts;
        w.byte(KIND_BAR_SHORT + code + (same ? 0 : 4));
        writeTime(start as number);
        if (!same) for (const t of texts) strings = writeTextField(w, strings, t);
        const [o, h, l, c, p] = shortBar as [number, number, number, number, number];
        w.varint(zigzag(o - p));
        w.varint(zigzag(c - o));
        w.varint(h - Math.max(o, c));
        w.varint(Math.min(o, c) - l);
        writeNumber(w, volume as number, last[VOLUME]);
        for (const i of SHORT_BAR_NUMBERS) last[i] = data[BAR_LOG_FIELDS[i]!.name] as number;
        barTexts = texts;
        continue;
      }
    }
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
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const value = data[f.name];
      if (value === undefined) {
        if (f.optional) continue;
        throw new EventLogError(`${event.kind} field ${f.name} is missing`);
      }
      if (f.type === 'time') {
        if (!Number.isSafeInteger(value))
          throw new EventLogError(`${f.name} must be an integer, got ${String(value)}`);
        writeTime(value as number);
      } else if (f.type === 'number') {
        if (typeof value !== 'number')
          throw new EventLogError(`${f.name} must be a number, got ${typeof value}`);
        writeNumber(w, value, last[i]);
        last[i] = value;
      } else {
        if (typeof value !== 'string')
          throw new EventLogError(`${f.name} must be a string, got ${typeof value}`);
        strings = writeTextField(w, strings, value);
      }
    }
    if (event.kind === 'bar') barTexts = barTextsOf(data, barTexts);
  }
  if (w.at > room) return undefined;
  const bytes = Buffer.allocUnsafe(log.bytes.length + w.at);
  bytes.set(log.bytes);
  bytes.set(w.bytes.subarray(0, w.at), log.bytes.length);
  const count = log.count + events.length;
  return { bytes, count, startTime: log.startTime, lastTime, lastStep, strings, previous, barTexts };
}

function readNumber(r: ByteReader, legacy: boolean, previous: number | undefined): number {
  const tag = r.varint();
  const codes = legacy ? 8 : 16;
  const code = tag % codes;
  const k = unzigzag((tag - code) / codes);
  if (code === RAW_DOUBLE) return r.double();
  if (code < RAW_DOUBLE) return fromScaled(k, code);
  const delta = !legacy && code >= DELTA && code < DELTA + SCALES.length;
  const p = delta && previous !== undefined ? scaledInteger(previous, code - DELTA) : undefined;
  if (p === undefined) throw new EventLogError(`number code ${code} cannot be read at byte ${r.at}`);
  return fromScaled(p + k, code - DELTA);
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
  let lastStep = 0;
  const previous: { bar: (number | undefined)[]; tick: (number | undefined)[] } = { bar: [], tick: [] };
  let barTexts: readonly string[] | undefined;
  /** Entries of kinds 0 and 1 hold plain differences; later ones the change of the step. */
  const readTime = (legacy: boolean): number => {
    const step = unzigzag(r.varint()) + (legacy ? 0 : lastStep);
    lastTime += step;
    lastStep = step;
    return lastTime;
  };
  const readText = (): string => {
    const v = r.varint();
    if (v % 2 === 0) {
      const s = Buffer.from(r.take(v / 2, 'string')).toString('utf8');
      strings.push(s);
      return s;
    }
    const s = strings[(v - 1) / 2];
    if (s === undefined) throw new EventLogError(`string ${(v - 1) / 2} is not in the table at byte ${r.at}`);
    return s;
  };
  while (!r.done) {
    const entry = r.byte();
    if (entry >= KIND_BAR_SHORT && entry <= KIND_BAR_SHORT_LAST) {
      const code = (entry - KIND_BAR_SHORT) % 4;
      const start = readTime(false);
      let texts: readonly string[];
      if (entry - KIND_BAR_SHORT >= 4) texts = BAR_TEXTS.map(readText);
      else if (barTexts) texts = barTexts;
      else throw new EventLogError(`a bar has the texts of a previous bar there is none of, at byte ${r.at}`);
      const last = previous.bar;
      const closed = last[CLOSE];
      const p = closed === undefined ? undefined : scaledInteger(closed, code);
      if (p === undefined) {
        throw new EventLogError(`a bar's open refers to a previous close there is none of, at byte ${r.at}`);
      }
      const o = p + unzigzag(r.varint());
      const c = o + unzigzag(r.varint());
      const h = Math.max(o, c) + r.varint();
      const l = Math.min(o, c) - r.varint();
      const volume = readNumber(r, false, last[VOLUME]);
      const bar = {
        symbol,
        start,
        interval: texts[0],
        open: fromScaled(o, code),
        high: fromScaled(h, code),
        low: fromScaled(l, code),
        close: fromScaled(c, code),
        volume,
        session: texts[1],
        source: texts[2],
      };
      for (const i of SHORT_BAR_NUMBERS) last[i] = bar[BAR_LOG_FIELDS[i]!.name as keyof typeof bar] as number;
      barTexts = texts;
      events.push({ kind: 'bar', bar: bar as Bar });
      continue;
    }
    if (entry > KIND_TICK) throw new EventLogError(`unknown event kind ${entry} at byte ${r.at - 1}`);
    const legacy = entry === LEGACY_BAR || entry === LEGACY_TICK;
    const kind = entry === LEGACY_BAR || entry === KIND_BAR ? 'bar' : 'tick';
    const fields = kind === 'bar' ? BAR_LOG_FIELDS : TICK_LOG_FIELDS;
    const last = previous[kind];
    const present = kind === 'tick' ? r.varint() : 0;
    const data: Record<string, unknown> = { symbol };
    let bit = 1;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.optional) {
        const has = Math.floor(present / bit) % 2 === 1;
        bit *= 2;
        if (!has) continue;
      }
      if (f.type === 'time') {
        data[f.name] = readTime(legacy);
      } else if (f.type === 'number') {
        const x = readNumber(r, legacy, last[i]);
        data[f.name] = x;
        last[i] = x;
      } else {
        data[f.name] = readText();
      }
    }
    if (kind === 'bar') barTexts = barTextsOf(data, barTexts);
    events.push(kind === 'bar' ? { kind: 'bar', bar: data as Bar } : { kind: 'tick', tick: data as Tick });
  }
  return {
    events,
    log: { bytes, count: events.length, startTime, lastTime, lastStep, strings, previous, barTexts },
  };
}
