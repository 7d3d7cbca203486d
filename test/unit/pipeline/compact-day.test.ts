import { describe, expect, it, vi } from 'vitest';
import { toNdjson } from '../../../src/adapters/aws/s3-lake-writer.ts';
import { loadCompactionEnv } from '../../../src/config/compaction.ts';
import type { Bar, Tick } from '../../../src/domain/market/index.ts';
import {
  type CompactLog,
  compactDay,
  compactDays,
  compactionRequest,
  dayStart,
  parseRawLine,
  previousDay,
} from '../../../src/pipeline/compact/compact-day.ts';
import {
  type CompactedEvent,
  type CompactedLakeWriter,
  type PendingDays,
  type RawLakeReader,
  UnreadableRawObjectError,
} from '../../../src/ports/compaction.ts';
import type { LakeRecord } from '../../../src/ports/processor.ts';
import { aaplSampleBars } from '../../support/samples.ts';

const DAY = '2024-10-02';
const SHARD = 'shardId-000000000000';

/** The raw zone as a map of key → NDJSON text. */
class Raw implements RawLakeReader {
  readonly objects = new Map<string, string>();
  /** Days whose listing fails as S3 would when it is unreachable. */
  readonly down = new Set<string>();
  calls = 0;
  async listDay(day: string) {
    this.calls++;
    if (this.down.has(day)) throw new Error('connect ECONNREFUSED');
    return [...this.objects.keys()].filter((k) => k.startsWith(`raw/dt=${day}/`)).sort();
  }
  async read(key: string) {
    this.calls++;
    return this.objects.get(key)!;
  }
}

class Compacted implements CompactedLakeWriter {
  readonly days = new Map<string, readonly CompactedEvent[]>();
  /** Days with an object that does not say how many events it holds. */
  readonly uncounted = new Set<string>();
  async existing(day: string) {
    if (this.uncounted.has(day)) return { events: undefined };
    const events = this.days.get(day);
    return events ? { events: events.length } : undefined;
  }
  async writeDay(day: string, events: readonly CompactedEvent[]) {
    this.days.set(day, events);
    return { key: `compacted/dt=${day}/events.parquet`, bytes: events.length };
  }
}

function quietLog(): CompactLog & { warnings: Record<string, unknown>[]; errors: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const errors: Record<string, unknown>[] = [];
  return {
    warnings,
    errors,
    info() {},
    warn: (_m, f) => warnings.push(f ?? {}),
    error: (_m, f) => errors.push(f ?? {}),
  };
}

const barRecord = (bar: Bar, sequenceNumber: string, symbol = 'AAPL'): LakeRecord => ({
  symbol,
  time: bar.start,
  kind: 'bar',
  shardId: SHARD,
  sequenceNumber,
  arrivalTime: bar.start + 61_000,
  event: { ...bar, symbol },
});

describe('lake compaction of one day', () => {
  const bars = aaplSampleBars().slice(0, 6);

  it('keeps each (symbol, kind, time) once, the copy with the greatest sequence number (compared as a number), sorted', async () => {
    const raw = new Raw();
    const first = bars.map((b, i) => barRecord(b, `${100 + i}`));
    raw.objects.set(`raw/dt=${DAY}/shard=${SHARD}/a.ndjson.gz`, toNdjson(first));
    // A retry of bars 3–5 (the same records), MSFT before AAPL in the file.
    raw.objects.set(
      `raw/dt=${DAY}/shard=${SHARD}/b.ndjson.gz`,
      toNdjson([barRecord(bars[0]!, '7', 'MSFT'), ...first.slice(3)]),
    );
    // A later record of bar 1 (a revised close) whose sequence number is longer but lexically smaller.
    const revised = { ...barRecord({ ...bars[1]!, close: 999.5 }, '1000') };
    raw.objects.set(`raw/dt=${DAY}/shard=${SHARD}/c.ndjson.gz`, toNdjson([revised]));
    // Another day's object is not read.
    raw.objects.set(`raw/dt=2024-10-03/shard=${SHARD}/d.ndjson.gz`, 'not even JSON');

    const compacted = new Compacted();
    const report = await compactDay(DAY, { raw, compacted, log: quietLog() });
    expect(report).toMatchObject({ day: DAY, objects: 3, lines: 11, duplicates: 4, events: 7, rejected: [] });
    expect(report.written).toEqual({ key: `compacted/dt=${DAY}/events.parquet`, bytes: 7 });
    const events = compacted.days.get(DAY)!;
    expect(events.map((e) => [e.symbol, e.time, e.sequenceNumber])).toEqual([
      ...bars.map((b, i) => ['AAPL', b.start, i === 1 ? '1000' : `${100 + i}`]),
      ['MSFT', bars[0]!.start, '7'],
    ]);
    expect(events[1]!.event.close).toBe(999.5);
    // Every event field of the lake's struct is there, absent ones as null.
    expect(events[0]!.event).toMatchObject({ open: bars[0]!.open, volume: bars[0]!.volume, price: null });
  });

  it('rejects unusable lines with their place and reason and compacts the rest', async () => {
    const raw = new Raw();
    const good = barRecord(bars[0]!, '5');
    const tick: Tick = {
      symbol: 'AAPL',
      time: Date.parse(`${DAY}T14:00:00.500Z`),
      price: 226.1,
      currency: 'USD',
      marketState: 'REGULAR',
      source: 'yahoo',
    };
    const line = (o: Record<string, unknown>) => JSON.stringify(o);
    const base = JSON.parse(toNdjson([good]).trim()) as Record<string, unknown>;
    const lines = [
      toNdjson([good]).trim(),
      '{"symbol": "AAPL", broken',
      '[1, 2]',
      line({ ...base, symbol: '' }),
      line({ ...base, time: 1.5 }),
      line({ ...base, kind: 'quote' }),
      line({ ...base, shardId: 7 }),
      line({ ...base, sequenceNumber: '0042' }),
      line({ ...base, arrivalTime: 'soon' }),
      line({ ...base, event: null }),
      line({ ...base, time: Date.parse('2024-10-03T00:00:00Z') }),
      line({ ...base, event: { ...(base.event as object), close: 'high' } }),
      line({ ...base, event: { ...(base.event as object), start: 1.25 } }),
      line({ ...base, event: { ...(base.event as object), session: 3 } }),
      toNdjson([{ ...good, kind: 'tick', time: tick.time, sequenceNumber: '6', event: tick }]).trim(),
    ];
    raw.objects.set(`raw/dt=${DAY}/x.ndjson.gz`, `${lines.join('\n')}\n`);
    const log = quietLog();
    const compacted = new Compacted();
    const report = await compactDay(DAY, { raw, compacted, log });
    expect(report.events).toBe(2);
    expect(report.lines).toBe(15);
    expect(report.rejected.map((r) => [r.line, r.reason])).toEqual([
      [2, 'not JSON'],
      [3, 'not a JSON object'],
      [4, 'symbol must be a non-empty string'],
      [5, 'time must be an integer (epoch ms)'],
      [6, "kind must be 'bar' or 'tick'"],
      [7, 'shardId must be a non-empty string'],
      [8, 'sequenceNumber must be a decimal string'],
      [9, 'arrivalTime must be an integer (epoch ms)'],
      [10, 'event must be an object'],
      [11, 'time 2024-10-03T00:00:00.000Z is not on this day'],
      [12, 'event.close must be a finite number'],
      [13, 'event.start must be an integer (epoch ms)'],
      [14, 'event.session must be a string'],
    ]);
    expect(report.rejected.every((r) => r.key === `raw/dt=${DAY}/x.ndjson.gz`)).toBe(true);
    expect(log.warnings).toHaveLength(13);
    expect(compacted.days.get(DAY)!.map((e) => e.kind)).toEqual(['bar', 'tick']);
    expect(compacted.days.get(DAY)![1]!.event).toMatchObject({ price: 226.1, open: null });
  });

  it('sorts the day by symbol, then kind (bars before ticks), then time, whatever order the raw zone holds', async () => {
    const raw = new Raw();
    // Real bars of the session, and a tick at the close of each bar, for two symbols, in an order
    // the day's file must not keep: MSFT first, ticks before bars, latest first.
    const tickOf = (b: Bar, symbol: string, seq: string): LakeRecord => ({
      ...barRecord(b, seq, symbol),
      kind: 'tick',
      time: b.start + 59_000,
      event: { symbol, time: b.start + 59_000, price: b.close, currency: 'USD', source: 'yahoo' },
    });
    const shuffled = [
      tickOf(bars[1]!, 'MSFT', '1'),
      tickOf(bars[0]!, 'MSFT', '2'),
      barRecord(bars[1]!, '3', 'MSFT'),
      barRecord(bars[0]!, '4', 'MSFT'),
      tickOf(bars[1]!, 'AAPL', '5'),
      tickOf(bars[0]!, 'AAPL', '6'),
      barRecord(bars[1]!, '7'),
      barRecord(bars[0]!, '8'),
    ];
    raw.objects.set(`raw/dt=${DAY}/shard=${SHARD}/a.ndjson.gz`, toNdjson(shuffled));
    const compacted = new Compacted();
    await compactDay(DAY, { raw, compacted, log: quietLog() });
    const [t0, t1] = [bars[0]!.start, bars[1]!.start];
    expect(compacted.days.get(DAY)!.map((e) => [e.symbol, e.kind, e.time])).toEqual([
      ['AAPL', 'bar', t0],
      ['AAPL', 'bar', t1],
      ['AAPL', 'tick', t0 + 59_000],
      ['AAPL', 'tick', t1 + 59_000],
      ['MSFT', 'bar', t0],
      ['MSFT', 'bar', t1],
      ['MSFT', 'tick', t0 + 59_000],
      ['MSFT', 'tick', t1 + 59_000],
    ]);
  });

  it('writes nothing for a day with no usable line', async () => {
    const raw = new Raw();
    raw.objects.set(`raw/dt=${DAY}/x.ndjson.gz`, 'junk\n');
    const compacted = new Compacted();
    const report = await compactDay(DAY, { raw, compacted, log: quietLog() });
    expect(report).toMatchObject({ objects: 1, lines: 1, events: 0, written: undefined });
    expect(report.rejected).toHaveLength(1);
    expect((await compactDay('2024-10-05', { raw, compacted, log: quietLog() })).objects).toBe(0);
    expect(compacted.days.size).toBe(0);
  });

  it('refuses a day that is not a calendar date, before reading anything', async () => {
    const raw = new Raw();
    for (const day of ['2024-02-30', '2024-1-02', '20241002', '2024-10-02T00:00:00Z', '']) {
      await expect(compactDay(day, { raw, compacted: new Compacted(), log: quietLog() })).rejects.toThrow(
        `day must be a calendar date YYYY-MM-DD, got '${day}'`,
      );
    }
    expect(raw.calls).toBe(0);
    expect(dayStart('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  });

  it('never replaces a day with fewer events than it holds, unless forced: the raw zone only grows', async () => {
    const raw = new Raw();
    const key = `raw/dt=${DAY}/a.ndjson.gz`;
    raw.objects.set(key, toNdjson(bars.map((b, i) => barRecord(b, `${10 + i}`))));
    const compacted = new Compacted();
    const log = quietLog();
    expect((await compactDay(DAY, { raw, compacted, log })).written?.bytes).toBe(6);
    // Two of the same lines now unusable (a reader or schema fault, say): 4 of 6 left.
    const lines = toNdjson(bars.map((b, i) => barRecord(b, `${10 + i}`))).split('\n');
    lines[0] = lines[0]!.replace('"kind":"bar"', '"kind":"x"');
    lines[1] = lines[1]!.slice(0, 20);
    raw.objects.set(key, lines.join('\n'));
    const refused = await compactDay(DAY, { raw, compacted, log });
    expect(refused).toMatchObject({ events: 4, written: undefined });
    expect(refused.refused).toBe(
      'the compacted day holds 6 events; this compaction found 4 (2 lines rejected): kept, not replaced; if the raw zone rightly holds fewer, compact it with {"day": "2024-10-02", "force": true} to replace it',
    );
    expect(compacted.days.get(DAY)).toHaveLength(6);
    expect(log.warnings.at(-1)).toMatchObject({ day: DAY, refused: refused.refused });
    const forced = await compactDay(DAY, { raw, compacted, log }, { force: true });
    expect(forced.written?.bytes).toBe(4);
    expect(compacted.days.get(DAY)).toHaveLength(4);
    // Nothing usable at all is fewer too: refused, not silently skipped.
    raw.objects.set(key, 'junk\n');
    expect((await compactDay(DAY, { raw, compacted, log })).refused).toMatch(
      /holds 4 events; this compaction found 0 \(1 lines rejected\)/,
    );
    raw.objects.set(key, lines.join('\n'));
    // More events than before (late data) replace it without force.
    raw.objects.set(
      `raw/dt=${DAY}/b.ndjson.gz`,
      toNdjson(bars.map((b, i) => barRecord(b, `${20 + i}`, 'MSFT'))),
    );
    expect((await compactDay(DAY, { raw, compacted, log })).written?.bytes).toBe(10);
  });

  it('never replaces an object that does not say how many events it holds, unless forced', async () => {
    const raw = new Raw();
    raw.objects.set(`raw/dt=${DAY}/a.ndjson.gz`, toNdjson(bars.map((b, i) => barRecord(b, `${i + 1}`))));
    const compacted = new Compacted();
    compacted.uncounted.add(DAY);
    const report = await compactDay(DAY, { raw, compacted, log: quietLog() });
    expect(report.refused).toMatch(
      /does not say how many events it holds .*; compact it with \{"day": "2024-10-02", "force": true\} to replace it$/,
    );
    expect(compacted.days.has(DAY)).toBe(false);
    expect((await compactDay(DAY, { raw, compacted, log: quietLog() }, { force: true })).written?.bytes).toBe(
      6,
    );
  });

  it('compacts each day of a request on its own: a failed or refused day is reported after the others are done', async () => {
    const raw = new Raw();
    const compacted = new Compacted();
    for (const [day, offset] of [
      ['2024-10-02', 0],
      ['2024-10-03', 1],
      ['2024-10-04', 2],
    ] as const) {
      raw.objects.set(
        `raw/dt=${day}/a.ndjson.gz`,
        toNdjson(bars.map((b, i) => barRecord({ ...b, start: b.start + offset * 86_400_000 }, `${i + 1}`))),
      );
    }
    raw.down.add('2024-10-02'); // S3 unreachable for this day's listing: a fault, not bad data
    compacted.uncounted.add('2024-10-03'); // refused
    const log = quietLog();
    const outcome = await compactDays(
      { days: ['2024-10-02', '2024-10-03', '2024-10-04'], force: false, scheduled: false },
      {
        raw,
        compacted,
        log,
      },
    );
    expect(outcome.failures).toEqual([
      '2024-10-02: connect ECONNREFUSED',
      expect.stringMatching(/^2024-10-03: the compacted day's object does not say/),
    ]);
    expect(outcome.reports.map((r) => [r.day, r.written?.bytes])).toEqual([
      ['2024-10-03', undefined],
      ['2024-10-04', 6],
    ]);
    expect(compacted.days.get('2024-10-04')).toHaveLength(6);
    expect(log.errors).toEqual([{ day: '2024-10-02', error: 'connect ECONNREFUSED' }]);
  });

  it('fails the day on a read fault; only an object the reader calls unreadable is bad data', async () => {
    const compacted = new Compacted();
    const reader = (error: Error): RawLakeReader => ({
      listDay: async () => [`raw/dt=${DAY}/a.ndjson.gz`, `raw/dt=${DAY}/b.ndjson.gz`],
      read: async (key) => {
        if (key.endsWith('a.ndjson.gz')) throw error;
        return toNdjson([barRecord(bars[0]!, '1')]);
      },
    });
    await expect(
      compactDay(DAY, { raw: reader(new Error('socket hang up')), compacted, log: quietLog() }),
    ).rejects.toThrow('socket hang up');
    expect(compacted.days.size).toBe(0);
    const report = await compactDay(DAY, {
      raw: reader(new UnreadableRawObjectError('not gzip: incorrect header check')),
      compacted,
      log: quietLog(),
    });
    expect(report.rejected).toEqual([
      { key: `raw/dt=${DAY}/a.ndjson.gz`, line: 0, reason: 'not gzip: incorrect header check' },
    ]);
    expect(report.written?.bytes).toBe(1);
  });

  it('keeps the whole lines of an object cut off before the damage, and reports the line it cut', async () => {
    const text = toNdjson(bars.map((b, i) => barRecord(b, `${i + 1}`)));
    const ends = [...text.matchAll(/\n/g)].map((m) => m.index + 1); // where each line's newline ends
    const report = async (partial: string | undefined) =>
      compactDay(DAY, {
        raw: {
          listDay: async () => [`raw/dt=${DAY}/a.ndjson.gz`],
          read: async () => {
            throw new UnreadableRawObjectError('gzip cut off: unexpected end of file', partial);
          },
        },
        compacted: new Compacted(),
        log: quietLog(),
      });
    const cutAt = (line: number) => ({
      key: `raw/dt=${DAY}/a.ndjson.gz`,
      line,
      reason: 'gzip cut off: unexpected end of file: this line and any after it are lost',
    });
    // Cut inside line 4: lines 1–3 used (line 2 damaged before the cut: rejected on its own).
    const damaged = `${text.slice(0, ends[0])}junk\n${text.slice(ends[1], ends[3]! - 10)}`;
    const inside = await report(damaged);
    expect(inside).toMatchObject({ lines: 3, events: 2, written: { bytes: 2 } });
    expect(inside.rejected).toEqual([
      { key: `raw/dt=${DAY}/a.ndjson.gz`, line: 2, reason: 'not JSON' },
      cutAt(4),
    ]);
    // Cut right after line 5's newline: lines 1–5 used, the cut at line 6.
    const atNewline = await report(text.slice(0, ends[4]));
    expect(atNewline).toMatchObject({ lines: 5, events: 5 });
    expect(atNewline.rejected).toEqual([cutAt(6)]);
    // Cut inside line 1: nothing used, the cut at line 1.
    expect((await report(text.slice(0, 30))).rejected).toEqual([cutAt(1)]);
  });

  it('reads 8 raw objects at once, and uses them in key order whichever answers first', async () => {
    // 20 objects, each one bar with its own sequence number and a line the day rejects; a later
    // key answers sooner (fewer turns of the event loop), and bar 0 in every object (a retry).
    const keys = Array.from(
      { length: 20 },
      (_, i) => `raw/dt=${DAY}/o${String(i).padStart(2, '0')}.ndjson.gz`,
    );
    let inFlight = 0;
    let most = 0;
    const raw: RawLakeReader = {
      listDay: async () => keys,
      read: async (key) => {
        const i = keys.indexOf(key);
        most = Math.max(most, ++inFlight);
        for (let turn = 0; turn < 20 - i; turn++) await new Promise((r) => setImmediate(r));
        inFlight--;
        return `${toNdjson([barRecord(bars[0]!, '7')])}not JSON ${i}\n`;
      },
    };
    const compacted = new Compacted();
    const report = await compactDay(DAY, { raw, compacted, log: quietLog() });
    expect(most).toBe(8);
    expect(report).toMatchObject({ objects: 20, lines: 40, duplicates: 19, events: 1 });
    expect(report.rejected.map((r) => r.key)).toEqual(keys);
    // A fault met while others are in flight fails the day, once its object's turn comes.
    const failing: RawLakeReader = {
      listDay: async () => keys,
      read: async (key) => {
        await new Promise((r) => setImmediate(r));
        if (key === keys[3]) throw new Error('socket hang up');
        return toNdjson([barRecord(bars[0]!, '7')]);
      },
    };
    await expect(
      compactDay(DAY, { raw: failing, compacted: new Compacted(), log: quietLog() }),
    ).rejects.toThrow('socket hang up');
  });

  it('parses a line only within its day', () => {
    const line = toNdjson([barRecord(bars[0]!, '1')]).trim();
    expect(parseRawLine(line, dayStart(DAY))).toMatchObject({ symbol: 'AAPL', kind: 'bar' });
    expect(parseRawLine(line, dayStart('2024-10-01'))).toMatch(/is not on this day/);
  });
});

describe('the compactLake configuration', () => {
  it('needs the lake bucket and its metrics namespace, and says so', () => {
    const env = { LAKE_BUCKET_NAME: 'tickstream-lake', POWERTOOLS_METRICS_NAMESPACE: 'tickstream/dev' };
    expect(loadCompactionEnv(env)).toEqual(env);
    expect(() => loadCompactionEnv({})).toThrow(
      'invalid lake compaction configuration: LAKE_BUCKET_NAME: LAKE_BUCKET_NAME is required; POWERTOOLS_METRICS_NAMESPACE: POWERTOOLS_METRICS_NAMESPACE is required',
    );
    expect(() => loadCompactionEnv({ ...env, POWERTOOLS_METRICS_NAMESPACE: 'AWS/Lambda' })).toThrow(
      'AWS/ namespaces are reserved for AWS',
    );
  });
});

describe('what a compactLake invocation compacts', () => {
  it('a scheduled run: the two UTC days before its time, never forced', () => {
    expect(compactionRequest({ time: '2026-11-24T00:30:00Z', 'detail-type': 'Scheduled Event' })).toEqual({
      days: ['2026-11-23', '2026-11-22'],
      force: false,
      scheduled: true,
    });
    expect(compactionRequest({ time: '2024-03-01T00:30:00Z', force: true })).toEqual({
      days: ['2024-02-29', '2024-02-28'],
      force: false,
      scheduled: true,
    });
    expect(previousDay(Date.parse('2026-01-01T23:59:59.999Z'))).toBe('2025-12-31');
  });

  it('{"day": …, "force"?: boolean}: that day; anything else is refused with what is accepted', () => {
    expect(compactionRequest({ day: '2024-10-02' })).toEqual({
      days: ['2024-10-02'],
      force: false,
      scheduled: false,
    });
    expect(compactionRequest({ day: '2024-10-02', force: true })).toEqual({
      days: ['2024-10-02'],
      force: true,
      scheduled: false,
    });
    expect(() => compactionRequest({ day: '2024-13-01' })).toThrow(/calendar date/);
    for (const input of [
      undefined,
      null,
      'x',
      {},
      [],
      { time: 'yesterday' },
      { day: 20241002 },
      { day: '2024-10-02', force: 'yes' },
    ]) {
      expect(() => compactionRequest(input)).toThrow(
        'compactLake takes a scheduled event (with its time) or {"day": "YYYY-MM-DD"} (and "force": true to replace a day with fewer events)',
      );
    }
  });
});

/** Marks of late days as a map of key → day; `onList` runs after each listing (a mark written then). */
class Marks implements PendingDays {
  readonly keys = new Map<string, string>();
  readonly listed: (string | undefined)[] = [];
  failList = false;
  failClear = false;
  onList: () => void = () => {};
  mark(day: string, name = 'm') {
    this.keys.set(`compaction-pending/dt=${day}/${name}`, day);
  }
  async list(day?: string) {
    this.listed.push(day);
    if (this.failList) throw new Error('AccessDenied');
    const byDay = new Map<string, string[]>();
    for (const [key, d] of [...this.keys].sort()) {
      if (day !== undefined && d !== day) continue;
      byDay.set(d, [...(byDay.get(d) ?? []), key]);
    }
    this.onList();
    return byDay;
  }
  async clear(keys: readonly string[]) {
    if (this.failClear) throw new Error('1 of 1 marks not removed (first: k: InternalError)');
    for (const k of keys) this.keys.delete(k);
  }
}

describe('lake compaction of the days marked pending (late raw objects)', () => {
  const bars = aaplSampleBars().slice(0, 3);
  const DAYS = ['2024-09-30', '2024-10-01', '2024-10-02', '2024-10-03'];
  /** A raw zone holding the 3 bars on each of DAYS. */
  function rawDays() {
    const raw = new Raw();
    DAYS.forEach((day, offset) => {
      raw.objects.set(
        `raw/dt=${day}/a.ndjson.gz`,
        toNdjson(
          bars.map((b, i) => barRecord({ ...b, start: b.start + (offset - 2) * 86_400_000 }, `${i + 1}`)),
        ),
      );
    });
    return raw;
  }
  // The run of 2024-10-04 00:30 compacts 10-03 and 10-02 by itself.
  const scheduled = compactionRequest({ time: '2024-10-04T00:30:00Z' });

  it('a scheduled run compacts its two days, then the marked ones oldest first, and removes their marks', async () => {
    const compacted = new Compacted();
    const pending = new Marks();
    pending.mark('2024-10-01');
    pending.mark('2024-09-30', 'a');
    pending.mark('2024-09-30', 'b');
    pending.mark('2024-10-02'); // one of the run's own days: done once, mark removed
    const outcome = await compactDays(scheduled, { raw: rawDays(), compacted, log: quietLog(), pending });
    expect(outcome.reports.map((r) => r.day)).toEqual([
      '2024-10-03',
      '2024-10-02',
      '2024-09-30',
      '2024-10-01',
    ]);
    expect(outcome.failures).toEqual([]);
    expect(outcome.pendingLeft).toEqual([]);
    expect([...compacted.days.keys()].sort()).toEqual(DAYS);
    expect(pending.keys.size).toBe(0);
    expect(pending.listed).toEqual([undefined]);
  });

  it('keeps a mark written after the listing, and the marks of a day that was refused', async () => {
    const compacted = new Compacted();
    compacted.uncounted.add('2024-09-30'); // refused: not written by the compaction
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.mark('2024-10-01', 'old');
    pending.onList = () => pending.mark('2024-10-01', 'new');
    const outcome = await compactDays(scheduled, { raw: rawDays(), compacted, log: quietLog(), pending });
    expect(outcome.failures).toEqual([expect.stringMatching(/^2024-09-30: the compacted day's object/)]);
    expect([...pending.keys.keys()].sort()).toEqual([
      'compaction-pending/dt=2024-09-30/m',
      'compaction-pending/dt=2024-10-01/new',
    ]);
  });

  it('leaves the marked days for the next run when its time runs short, never its own two', async () => {
    const compacted = new Compacted();
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.mark('2024-10-01');
    const log = quietLog();
    // Once the run's own two days are done, 61 s left for the first marked day, then 59 s for the
    // next: under the 60 s margin.
    const left = [900_000, 900_000, 61_000, 59_000];
    const outcome = await compactDays(scheduled, {
      raw: rawDays(),
      compacted,
      log,
      pending,
      remainingMs: () => left[compacted.days.size] ?? 0,
    });
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02', '2024-09-30']);
    expect(outcome.pendingLeft).toEqual(['2024-10-01']);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-10-01/m']);
    expect(log.warnings).toContainEqual({ days: ['2024-10-01'] });
  });

  /**
   * A run on a clock of its own (performance.now, which the invocation's remaining time is read
   * against): each raw object of a day takes `readMs[day]` to read, and building and writing the
   * day's file 1.5 times as long as reading it (as measured on a real day); the run has `runMs`.
   */
  async function timedRun(objects: Record<string, number>, readMs: Record<string, number>, runMs: number) {
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const raw = new Raw();
      for (const [offset, day] of DAYS.entries()) {
        for (let o = 0; o < (objects[day] ?? 1); o++) {
          const lines = bars.map((b, i) =>
            barRecord({ ...b, start: b.start + (offset - 2) * 86_400_000 + o * 180_000 }, `${o * 3 + i + 1}`),
          );
          raw.objects.set(`raw/dt=${day}/${String(o).padStart(3, '0')}.ndjson.gz`, toNdjson(lines));
        }
      }
      // The reads answer one after another, in key order, each a turn of the event loop after the
      // one before (the compaction has used that one by then): the clock a day's objects see is
      // the one of reading them in turn, however many it has asked for at once.
      const read = raw.read.bind(raw);
      let answered: Promise<unknown> = Promise.resolve();
      raw.read = (key: string) => {
        const text = answered
          .then(() => new Promise((r) => setImmediate(r)))
          .then(() => {
            clock += readMs[/dt=([^/]+)/.exec(key)![1]!] ?? 1_000;
            return read(key);
          });
        answered = text;
        return text;
      };
      const compacted = new Compacted();
      const writeDay = compacted.writeDay.bind(compacted);
      compacted.writeDay = async (day: string, events: readonly CompactedEvent[]) => {
        clock += 1.5 * (objects[day] ?? 1) * (readMs[day] ?? 1_000);
        return writeDay(day, events);
      };
      const pending = new Marks();
      pending.mark('2024-09-30');
      pending.mark('2024-10-01');
      const log = quietLog();
      const outcome = await compactDays(scheduled, {
        raw,
        compacted,
        log,
        pending,
        remainingMs: () => Math.max(0, runMs - clock),
      });
      return { outcome, log, pending, compacted, ended: clock };
    } finally {
      now.mockRestore();
    }
  }

  it("compacts small marked days after slow own days: the estimate decides, not the own days' time", async () => {
    // 900 s: the run's own two days take 250 s each (100 s to read, 150 s to write), leaving 400 s;
    // the two marked days take 2.5 s each. Starting a marked day only with twice the slowest day
    // left (500 s) would leave them every night while the own days are that slow: never compacted.
    const { outcome, pending, ended } = await timedRun(
      {},
      { '2024-10-03': 100_000, '2024-10-02': 100_000 },
      900_000,
    );
    expect(ended).toBe(505_000);
    expect(outcome.reports.map((r) => r.day).join(' ')).toBe('2024-10-03 2024-10-02 2024-09-30 2024-10-01');
    expect({ left: outcome.pendingLeft, failed: outcome.failures, marks: pending.keys.size }).toEqual({
      left: [],
      failed: [],
      marks: 0,
    });
  });

  it('gives up a marked day that the days before it left too little time for; a night of its own has enough', async () => {
    // 900 s: the run's own two days take 2.5 s each. 09-30 (10 objects of 10 s, then 150 s to
    // write) takes 250 s, leaving 645 s; 10-01 (22 objects of 10 s) is estimated at 660 s after its
    // first object: given up before the timeout. A night's run has 895 s after its own two days.
    const { outcome, log, pending, compacted, ended } = await timedRun(
      { '2024-09-30': 10, '2024-10-01': 22 },
      { '2024-09-30': 10_000, '2024-10-01': 10_000 },
      900_000,
    );
    expect(ended).toBeLessThan(900_000);
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02', '2024-09-30']);
    expect(outcome.failures).toEqual([]);
    expect(outcome.pendingLeft).toEqual(['2024-10-01']);
    expect(compacted.days.has('2024-10-01')).toBe(false);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-10-01/m']);
    expect(log.warnings).toContainEqual({
      day: '2024-10-01',
      reason: 'needs about 660 s (estimated from 1 of its 22 raw objects), 635 s were left',
    });
  });

  it('fails a marked day that no night has the time for after its own two days, rather than leave it every night', async () => {
    // 900 s: the run's own two days take 200 s each (80 s to read, 120 s to write), leaving 500 s
    // every night; 09-30 (20 objects of 10 s, then 300 s to write) is estimated at 600 s: it fits a
    // whole run, but no night's run after its own two days. Left for the next night, it would be
    // given up there too, night after night, and never compacted.
    const { outcome, log, pending, compacted, ended } = await timedRun(
      { '2024-09-30': 20 },
      { '2024-10-03': 80_000, '2024-10-02': 80_000, '2024-09-30': 10_000, '2024-10-01': 5_000 },
      900_000,
    );
    expect(ended).toBeLessThan(900_000);
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02', '2024-10-01']);
    expect(outcome.pendingLeft).toEqual([]);
    const why =
      '2024-09-30: needs about 600 s (estimated from 1 of its 20 raw objects), 490 s were left: ' +
      "longer than a night has for late days (500 s of the run's 900 s, after its own two days): " +
      'raise compactionMemoryMb (CPU comes with memory) or compactionTimeoutSeconds, then compact it with {"day": "2024-09-30"}; its marks are kept';
    expect(outcome.failures).toEqual([why]);
    expect(log.errors).toEqual([{ day: '2024-09-30', error: why.slice('2024-09-30: '.length) }]);
    expect(compacted.days.has('2024-09-30')).toBe(false);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-09-30/m']);
  });

  it('fails a marked day whose estimate ends within the 10 s reserve of a whole night, rather than leave it every night', async () => {
    // 900 s: the run's own two days take 2.5 s each, leaving a night 895 s for its marked days.
    // 09-30 (30 objects of 9.9 s, estimated at 3 × 9.9 s an object: reading, and writing twice as
    // long) needs about 891 s: it would end with 4 s of the 885 s left, inside the 10 s reserve
    // kept for the day's end, so it is given up; and as a night has no more for it, it is failed.
    const { outcome, pending, compacted } = await timedRun(
      { '2024-09-30': 30 },
      { '2024-09-30': 9_900 },
      900_000,
    );
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02', '2024-10-01']);
    expect(outcome.pendingLeft).toEqual([]);
    expect(outcome.failures).toEqual([
      expect.stringMatching(
        /^2024-09-30: needs about 891 s \(estimated from 1 of its 30 raw objects\), 885 s were left: longer than a night has for late days \(895 s of the run's 900 s/,
      ),
    ]);
    expect(compacted.days.has('2024-09-30')).toBe(false);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-09-30/m']);
  });

  it('fails a marked day longer than a whole run, saying what to do, after the other days; its marks are kept', async () => {
    // 09-30: 100 objects of 10 s and 1,500 s to write, in a run of 900 s.
    const { outcome, log, pending, compacted, ended } = await timedRun(
      { '2024-09-30': 100 },
      { '2024-09-30': 10_000 },
      900_000,
    );
    expect(ended).toBeLessThan(900_000);
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02', '2024-10-01']);
    expect(outcome.pendingLeft).toEqual([]);
    const why =
      "2024-09-30: needs about 3000 s (estimated from 1 of its 100 raw objects), 885 s were left: longer than a night has for late days (895 s of the run's 900 s, after its own two days): " +
      'raise compactionMemoryMb (CPU comes with memory) or compactionTimeoutSeconds, then compact it with {"day": "2024-09-30"}; its marks are kept';
    expect(outcome.failures).toEqual([why]);
    expect(log.errors).toEqual([{ day: '2024-09-30', error: why.slice('2024-09-30: '.length) }]);
    expect(compacted.days.has('2024-09-30')).toBe(false);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-09-30/m']);
  });

  it('fails a refused marked day every night, saying so and the invocation that replaces it; forced, it is done', async () => {
    const compacted = new Compacted();
    // Its object holds 5 events; its raw zone now gives 3.
    compacted.days.set(
      '2024-09-30',
      Array.from({ length: 5 }, () => ({}) as CompactedEvent),
    );
    const pending = new Marks();
    pending.mark('2024-09-30');
    const deps = { raw: rawDays(), compacted, log: quietLog(), pending };
    const failure =
      '2024-09-30: the compacted day holds 5 events; this compaction found 3 (0 lines rejected): kept, not replaced; ' +
      'if the raw zone rightly holds fewer, compact it with {"day": "2024-09-30", "force": true} to replace it ' +
      "(its marks are kept: every night's run fails on it until then)";
    for (const time of ['2024-10-04T00:30:00Z', '2024-10-05T00:30:00Z']) {
      const night = await compactDays(compactionRequest({ time }), deps);
      expect(night.failures).toEqual([failure]);
    }
    // The invocation the failure names, as given (JSON): the day replaced, its marks removed.
    const forced = await compactDays(
      compactionRequest(JSON.parse('{"day": "2024-09-30", "force": true}')),
      deps,
    );
    expect(forced.failures).toEqual([]);
    expect(compacted.days.get('2024-09-30')).toHaveLength(3);
    expect(pending.keys.size).toBe(0);
    expect((await compactDays(compactionRequest({ time: '2024-10-06T00:30:00Z' }), deps)).failures).toEqual(
      [],
    );
  });

  it('keeps the marks of a marked day that failed, and removes the others', async () => {
    const raw = rawDays();
    raw.down.add('2024-09-30');
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.mark('2024-10-01');
    const outcome = await compactDays(scheduled, {
      raw,
      compacted: new Compacted(),
      log: quietLog(),
      pending,
    });
    expect(outcome.failures).toEqual(['2024-09-30: connect ECONNREFUSED']);
    expect(outcome.reports.map((r) => r.day)).toContain('2024-10-01');
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-09-30/m']);
  });

  it('a day whose marks could not be removed is compacted all the same: a warning, not a failure', async () => {
    const compacted = new Compacted();
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.failClear = true;
    const log = quietLog();
    const outcome = await compactDays(scheduled, { raw: rawDays(), compacted, log, pending });
    expect(outcome.failures).toEqual([]);
    expect(compacted.days.has('2024-09-30')).toBe(true);
    expect(pending.keys.size).toBe(1); // compacted again by the next run
    expect(log.warnings).toContainEqual({
      day: '2024-09-30',
      error: '1 of 1 marks not removed (first: k: InternalError)',
    });
  });

  it('a request for one day reads and removes only the marks of that day', async () => {
    const compacted = new Compacted();
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.mark('2024-10-01');
    const outcome = await compactDays(compactionRequest({ day: '2024-10-01' }), {
      raw: rawDays(),
      compacted,
      log: quietLog(),
      pending,
    });
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-01']);
    expect(pending.listed).toEqual(['2024-10-01']);
    expect([...pending.keys.keys()]).toEqual(['compaction-pending/dt=2024-09-30/m']);
  });

  it('still compacts its own days when the marks cannot be listed, and fails the run after', async () => {
    const compacted = new Compacted();
    const pending = new Marks();
    pending.mark('2024-09-30');
    pending.failList = true;
    const log = quietLog();
    const outcome = await compactDays(scheduled, { raw: rawDays(), compacted, log, pending });
    expect(outcome.reports.map((r) => r.day)).toEqual(['2024-10-03', '2024-10-02']);
    // Not a failed day (LakeDaysFailed counts days); the handler fails the run on it.
    expect(outcome.failures).toEqual([]);
    expect(outcome.pendingError).toBe('AccessDenied');
    expect(pending.keys.size).toBe(1);
    expect(log.errors).toEqual([{ error: 'AccessDenied' }]);
  });
});
