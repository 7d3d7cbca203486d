import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectFormat, parseTime } from '../../../src/adapters/replay/formats.ts';
import { parseSpeed, ReplaySource, symbolFlagProblem } from '../../../src/adapters/replay/replay-source.ts';
import { eventSymbol, eventTime, type MarketEvent } from '../../../src/domain/market/index.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const sample = (f: string) => join(root, 'data/samples', f);
const fixture = (f: string) => join(root, 'test/fixtures/replay', f);
const iso = (t: number) => new Date(t).toISOString();

async function collect(src: ReplaySource): Promise<MarketEvent[]> {
  const out: MarketEvent[] = [];
  for await (const e of src.events()) out.push(e);
  return out;
}

function tmpFile(name: string, text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('replay of the bundled real samples (counts and first/last times taken with awk)', () => {
  it('flat CSV with a header: AAPL 2024-10-02, 389 bars 13:30Z..19:59Z', async () => {
    const src = new ReplaySource({ file: sample('aapl-2024-10-02.csv'), format: 'auto' });
    expect(await src.format()).toBe('csv');
    const ev = await collect(src);
    expect(src.issues()).toEqual([]);
    expect(ev).toHaveLength(389);
    expect(iso(eventTime(ev[0]!))).toBe('2024-10-02T13:30:00.000Z');
    expect(iso(eventTime(ev.at(-1)!))).toBe('2024-10-02T19:59:00.000Z');
    expect(ev[0]).toEqual({
      kind: 'bar',
      bar: {
        symbol: 'AAPL',
        start: Date.parse('2024-10-02T13:30:00Z'),
        interval: '1m',
        open: 225.89,
        high: 226.11,
        low: 225.42,
        close: 225.7,
        volume: 1205461,
        session: 'regular',
        source: 'replay',
      },
    });
  });

  it('NinjaTrader (UTC, time = bar END): SPY January 2011, 14180 bars, starts one minute before the stamp', async () => {
    const src = new ReplaySource({
      file: sample('spy-2011-01-ninjatrader.csv'),
      format: 'auto',
      symbol: 'SPY',
    });
    expect(await src.format()).toBe('ninjatrader');
    const ev = await collect(src);
    expect(src.issues()).toEqual([]);
    expect(ev).toHaveLength(14180);
    // first stamp 20110103 090100 → starts 09:00Z (04:00 EST: pre-market)
    expect(iso(eventTime(ev[0]!))).toBe('2011-01-03T09:00:00.000Z');
    expect(ev[0]?.kind === 'bar' && ev[0].bar).toMatchObject({
      open: 126.35,
      high: 126.39,
      low: 126.35,
      close: 126.39,
      volume: 1579,
      session: 'pre',
    });
    // last stamp 20110201 010000 → starts 00:59Z (19:59 EST on Jan 31: post-market)
    expect(iso(eventTime(ev.at(-1)!))).toBe('2011-02-01T00:59:00.000Z');
    const last = ev.at(-1);
    expect(last?.kind === 'bar' ? last.bar.session : undefined).toBe('post');
  });

  it('M/D/YYYY H:MM New York time: S&P 500 2019-11-05..08, 1563 bars, EST (UTC-5)', async () => {
    const src = new ReplaySource({
      file: sample('sp500-2019-11-05-to-08.csv'),
      format: 'auto',
      symbol: '^GSPC',
    });
    expect(await src.format()).toBe('mdy-ny');
    const ev = await collect(src);
    expect(src.issues()).toEqual([]);
    expect(ev).toHaveLength(1563);
    expect(iso(eventTime(ev[0]!))).toBe('2019-11-05T14:30:00.000Z');
    expect(iso(eventTime(ev.at(-1)!))).toBe('2019-11-08T20:59:00.000Z');
    // the file's columns are Date,Open,Close,High,Low: mapped by name, not position
    expect(ev[0]?.kind === 'bar' && ev[0].bar).toMatchObject({
      open: 3080.8,
      close: 3080.49,
      high: 3081.47,
      low: 3080.3,
      volume: 0,
    });
  });

  it('Yahoo chart JSON as recorded: the null and trailing bars dropped, 389 bars', async () => {
    const src = new ReplaySource({ file: sample('yahoo-chart-AAPL-2024-10-02-1m.json'), format: 'auto' });
    expect(await src.format()).toBe('yahoo-chart');
    const ev = await collect(src);
    expect(ev).toHaveLength(389);
    expect(new Set(ev.map(eventSymbol))).toEqual(new Set(['AAPL']));
    expect(iso(eventTime(ev[0]!))).toBe('2024-10-02T13:30:00.000Z');
    expect(iso(eventTime(ev.at(-1)!))).toBe('2024-10-02T19:59:00.000Z');
  });
});

describe('replay across daylight-saving changes', () => {
  it('M/D/YYYY New York across 2024-03-10: EST before, EDT after; the skipped 02:30 is reported', async () => {
    const src = new ReplaySource({ file: fixture('dst-2024-03-mdy.csv'), symbol: '^GSPC' });
    const ev = await collect(src);
    expect(ev.map((e) => iso(eventTime(e)))).toEqual([
      '2024-03-08T20:58:00.000Z',
      '2024-03-08T20:59:00.000Z',
      '2024-03-11T13:30:00.000Z',
      '2024-03-11T13:31:00.000Z',
    ]);
    expect(ev.map((e) => (e.kind === 'bar' ? e.bar.session : ''))).toEqual([
      'regular',
      'regular',
      'regular',
      'regular',
    ]);
    expect(src.issues()).toHaveLength(1);
    expect(src.issues()[0]).toMatchObject({ at: 'line 4', field: 'date' });
    expect(src.issues()[0]?.reason).toMatch(/2024-3-10 02:30 does not exist in America\/New_York/);
  });

  it('M/D/YYYY New York across 2024-11-03: the repeated 1:00-1:59 is read as EST the second time, not rejected', async () => {
    const src = new ReplaySource({ file: fixture('dst-2024-11-03-mdy.csv'), symbol: 'BTC-USD' });
    const ev = await collect(src);
    expect(ev.map((e) => iso(eventTime(e)))).toEqual([
      '2024-11-03T04:59:00.000Z',
      '2024-11-03T05:00:00.000Z',
      '2024-11-03T05:59:00.000Z',
      '2024-11-03T06:00:00.000Z',
      '2024-11-03T06:01:00.000Z',
      '2024-11-03T06:59:00.000Z',
      '2024-11-03T07:00:00.000Z',
    ]);
    // the second 1:01 EST row is a duplicate, and is reported as one
    expect(src.issues()).toMatchObject([
      { at: 'line 7', reason: expect.stringMatching(/duplicate or out of order/) },
    ]);
    // the same for zone-less ISO times in a CSV
    const csv = readFileSync(fixture('dst-2024-11-03-mdy.csv'), 'utf8').replace(
      /^11\/3\/2024 (\d):/gm,
      '2024-11-03 0$1:',
    );
    const iso8601 = new ReplaySource({ file: tmpFile('dst.csv', csv), symbol: 'BTC-USD', format: 'csv' });
    expect(await collect(iso8601)).toEqual(ev);
  });

  it('NDJSON of the stream envelope across 2024-11-03 keeps exchange times as written', async () => {
    const src = new ReplaySource({ file: fixture('dst-2024-11-03.ndjson'), format: 'auto' });
    expect(await src.format()).toBe('ndjson');
    const ev = await collect(src);
    expect(src.issues()).toEqual([]);
    expect(ev.map((e) => [eventSymbol(e), iso(eventTime(e))])).toEqual([
      ['SPY', '2024-11-01T13:30:00.000Z'],
      ['BTC-USD', '2024-11-03T05:30:00.000Z'],
      ['BTC-USD', '2024-11-03T06:30:00.000Z'],
      ['SPY', '2024-11-04T14:30:00.000Z'],
    ]);
  });

  it("M/D/YYYY with a 12-hour clock in the same cell (Excel's US export) is detected and read", async () => {
    const src = new ReplaySource({
      file: tmpFile(
        'excel.csv',
        'Time,Open,High,Low,Close,Volume\n' +
          '10/2/2024 9:30:00 AM,225.89,226.11,225.42,225.7,1205461\n' +
          '10/2/2024 12:05:00 PM,225.73,226.0,225.55,225.94,205420\n' +
          '10/2/2024 3:59:00 PM,226.01,226.2,225.9,226.1,310000\n',
      ),
      symbol: 'AAPL',
    });
    expect(await src.format()).toBe('mdy-ny');
    expect((await collect(src)).map((e) => iso(eventTime(e)))).toEqual([
      '2024-10-02T13:30:00.000Z',
      '2024-10-02T16:05:00.000Z',
      '2024-10-02T19:59:00.000Z',
    ]);
    expect(src.issues()).toEqual([]);
    expect(() => parseTime('10/2/2024 13:05 PM', 'America/New_York')).toThrow(
      /13 is no hour of a 12-hour clock/,
    );
  });

  it('--tz applies to M/D/YYYY and NinjaTrader files too, not only to ISO local times', async () => {
    // The DST fixture read as Chicago time: 15:58 CST = 21:58Z, 9:30 CDT on 3/11 = 14:30Z.
    const mdy = new ReplaySource({
      file: fixture('dst-2024-03-mdy.csv'),
      symbol: 'ES=F',
      timeZone: 'America/Chicago',
    });
    expect(await mdy.format()).toBe('mdy-ny');
    const ev = await collect(mdy);
    expect(iso(eventTime(ev[0]!))).toBe('2024-03-08T21:58:00.000Z');
    expect(iso(eventTime(ev.at(-1)!))).toBe('2024-03-11T14:31:00.000Z');
    // The first two rows of the real SPY NinjaTrader sample, as if exported in New York time:
    // the stamp 09:01 EST marks the end of the bar that started at 09:00 EST = 14:00Z.
    const lines = readFileSync(sample('spy-2011-01-ninjatrader.csv'), 'utf8').split('\n').slice(0, 2);
    const nt = (timeZone?: string) =>
      new ReplaySource({
        file: tmpFile('nt.csv', `${lines.join('\n')}\n`),
        symbol: 'SPY',
        ...(timeZone ? { timeZone } : {}),
      });
    expect((await collect(nt())).map((e) => iso(eventTime(e)))).toEqual([
      '2011-01-03T09:00:00.000Z',
      '2011-01-03T09:01:00.000Z',
    ]);
    expect((await collect(nt('America/New_York'))).map((e) => iso(eventTime(e)))).toEqual([
      '2011-01-03T14:00:00.000Z',
      '2011-01-03T14:01:00.000Z',
    ]);
  });

  it('reads separate Date and Time columns (as brokers export them), local in --tz', async () => {
    const file = (rows: string[]) =>
      tmpFile('date-time.csv', `Date,Time,Open,High,Low,Close,Volume\r\n${rows.join('\r\n')}\r\n`);
    const times = async (f: string, timeZone?: string) => {
      const src = new ReplaySource({ file: f, symbol: 'AAPL', ...(timeZone ? { timeZone } : {}) });
      expect(await src.format()).toBe('csv');
      const ev = await collect(src);
      return { times: ev.map((e) => iso(eventTime(e))), issues: src.issues() };
    };
    // 09:30 New York (EDT) is 13:30Z, however the date and the clock time are written.
    const rows = [
      '2024-10-02,09:30,1,2,1,1.5,10',
      '10/02/2024,09:31:00,1,2,1,1.5,10',
      '20241002,093200,1,2,1,1.5,10',
      '10/2/2024,9:33 AM,1,2,1,1.5,10',
      '2024-10-02,0934,1,2,1,1.5,10',
      '2024-10-02,1:05 PM,1,2,1,1.5,10',
    ];
    expect(await times(file(rows))).toEqual({
      times: [
        '2024-10-02T13:30:00.000Z',
        '2024-10-02T13:31:00.000Z',
        '2024-10-02T13:32:00.000Z',
        '2024-10-02T13:33:00.000Z',
        '2024-10-02T13:34:00.000Z',
        '2024-10-02T17:05:00.000Z',
      ],
      issues: [],
    });
    // --tz: 14:30 in London (BST) is 13:30Z.
    expect((await times(file(['2024-10-02,14:30,1,2,1,1.5,10']), 'Europe/London')).times).toEqual([
      '2024-10-02T13:30:00.000Z',
    ]);
    // The hour a fall-back change repeats is read twice, EDT then EST, as for the other local times.
    expect(
      (await times(file(['2024-11-03,01:59,1,2,1,1.5,10', '2024-11-03,01:00,1,2,1,1.5,10']))).times,
    ).toEqual(['2024-11-03T05:59:00.000Z', '2024-11-03T06:00:00.000Z']);
    // Refused, not guessed at: a day-first date, a date in words, an hour past 23, a 13 PM.
    const bad = await times(
      file([
        '13/10/2024,09:30,1,2,1,1.5,10',
        'Oct 2 2024,09:30,1,2,1,1.5,10',
        '2024-10-02,25:00,1,2,1,1.5,10',
        '2024-10-02,13:00 PM,1,2,1,1.5,10',
      ]),
    );
    expect(bad.times).toEqual([]);
    expect(bad.issues.map((i) => `${i.at} ${i.field}: ${i.reason}`)).toEqual([
      'line 2 date: date "13/10/2024": 13 is no month; the format is M/D/YYYY, month first (is the file day-first, D/M/YYYY?)',
      'line 3 date: date "Oct 2 2024" is not YYYY-MM-DD, YYYYMMDD or M/D/YYYY (month first)',
      'line 4 time: 2024-10-2 25:00:00 is not a valid date and time',
      'line 5 time: time "13:00 PM": 13 is no hour of a 12-hour clock',
    ]);
  });

  it('a YYYYMMDD date or HHMMSS time cell is rejected, not read as epoch seconds in 1970', async () => {
    expect(() => parseTime('20241120', 'UTC')).toThrow(/"20241120" is no epoch time/);
    expect(() => parseTime('093000', 'UTC')).toThrow(/"093000" is no epoch time/);
    expect(iso(parseTime('1730615400', 'UTC'))).toBe('2024-11-03T06:30:00.000Z');
    expect(iso(parseTime('1730615400000', 'UTC'))).toBe('2024-11-03T06:30:00.000Z');
    // 20241120 s is a whole minute (1970-08-23T06:32Z): it was replayed as a bar of that day.
    const src = new ReplaySource({
      file: tmpFile('daily.csv', 'date,open,high,low,close,volume\n20241120,1,1,1,1,1\n'),
      symbol: 'SPY',
    });
    expect(await collect(src)).toEqual([]);
    expect(src.issues()).toMatchObject([{ at: 'line 2', field: 'date' }]);
  });

  it('reads an offset of whole hours (PostgreSQL timestamptz text, ISO-8601 basic), and a date alone still is no time', () => {
    const ny = 'America/New_York';
    expect(iso(parseTime('2024-10-02 13:30:00+00', ny))).toBe('2024-10-02T13:30:00.000Z');
    expect(iso(parseTime('2024-10-02T09:30:00-04', ny))).toBe('2024-10-02T13:30:00.000Z');
    expect(iso(parseTime('2024-10-02 09:30-04', ny))).toBe('2024-10-02T13:30:00.000Z');
    expect(iso(parseTime('2024-10-02 19:00:00.25+05', ny))).toBe('2024-10-02T14:00:00.250Z');
    expect(() => parseTime('2024-04-31 09:30:00-04', ny)).toThrow(
      '2024-4-31 09:30:00 is not a valid date and time',
    );
    expect(() => parseTime('2024-10-02', ny)).toThrow(/is not ISO-8601 with a zone/);
  });

  it('a date that exists in no zone is called invalid, not blamed on a daylight-saving change', () => {
    const ny = 'America/New_York';
    expect(() => parseTime('2/30/2024 9:30', ny)).toThrow('2024-2-30 09:30:00 is not a valid date and time');
    expect(() => parseTime('2024-10-02 24:00', ny)).toThrow(
      '2024-10-2 24:00:00 is not a valid date and time',
    );
    // With a zone too: Date.parse would read February 30 as March 1st, and 24:00 as the next midnight.
    expect(() => parseTime('2024-02-30T14:30:00Z', ny)).toThrow(
      '2024-2-30 14:30:00 is not a valid date and time',
    );
    expect(() => parseTime('2024-04-31 09:30:00-04:00', ny)).toThrow(
      '2024-4-31 09:30:00 is not a valid date and time',
    );
    expect(() => parseTime('2024-10-02T24:00:00Z', ny)).toThrow(
      '2024-10-2 24:00:00 is not a valid date and time',
    );
    expect(iso(parseTime('2024-02-29T14:30:00.250Z', ny))).toBe('2024-02-29T14:30:00.250Z');
    // A day-first file: 13/11/2019 is rejected, and says why (its 1/11..12/11 would read as January..December).
    expect(() => parseTime('13/11/2019 9:30', ny)).toThrow(/13 is no month; .* day-first, D\/M\/YYYY/);
    expect(() => parseTime('3/10/2024 2:30', ny)).toThrow(/does not exist in America\/New_York/);
  });

  it('a local time with a fraction of a second keeps its milliseconds, across the fall-back hour too', async () => {
    const ny = 'America/New_York';
    expect(iso(parseTime('2024-10-02 09:30:00.123', ny))).toBe('2024-10-02T13:30:00.123Z');
    expect(iso(parseTime('2024-10-02T09:30:00.123456', ny))).toBe('2024-10-02T13:30:00.123Z');
    const ticks = [
      [
        '2024-11-03 01:30:00.500',
        '2024-11-03 01:30:00.700',
        '2024-11-03 01:59:59.900',
        '2024-11-03 01:00:00.100',
      ],
      [
        '2024-11-03,01:30:00.500',
        '2024-11-03,01:30:00.700',
        '2024-11-03,01:59:59.900',
        '2024-11-03,01:00:00.100',
      ],
    ];
    for (const [header, rows] of [
      ['time,price', ticks[0]!],
      ['date,time,price', ticks[1]!],
    ] as const) {
      const src = new ReplaySource({
        file: tmpFile('ticks.csv', [header, ...rows.map((r) => `${r},101.5`)].join('\n')),
        symbol: 'SPY',
      });
      // Within the repeated hour, 01:30:00.700 follows 01:30:00.500 in daylight time; 01:00 after
      // 01:59:59.900 is the second, standard-time reading.
      expect(
        (await collect(src)).map((e) => iso(eventTime(e))),
        header,
      ).toEqual([
        '2024-11-03T05:30:00.500Z',
        '2024-11-03T05:30:00.700Z',
        '2024-11-03T05:59:59.900Z',
        '2024-11-03T06:00:00.100Z',
      ]);
      expect(src.issues()).toEqual([]);
    }
  });

  it('a local time repeated by the fall-back change resolves to its first (daylight) occurrence', () => {
    expect(iso(parseTime('2024-11-03 01:30', 'America/New_York'))).toBe('2024-11-03T05:30:00.000Z');
    expect(iso(parseTime('11/3/2024 1:30', 'America/New_York'))).toBe('2024-11-03T05:30:00.000Z');
    expect(iso(parseTime('2024-11-03T01:30:00-05:00', 'America/New_York'))).toBe('2024-11-03T06:30:00.000Z');
    expect(iso(parseTime('1730615400', 'UTC'))).toBe('2024-11-03T06:30:00.000Z');
  });
});

describe('replay input errors', () => {
  it('reports a bad row with its line and field and keeps every other row', async () => {
    const f = tmpFile(
      'bad.csv',
      'symbol,bar_start_utc,open,high,low,close,volume\n' +
        'AAPL,2024-10-02T13:30:00Z,225.89,226.11,225.42,225.7,1205461\n' +
        'AAPL,2024-10-02T13:31:00Z,abc,226.0,225.55,225.94,205420\n' +
        'AAPL,2024-10-02T13:32:00Z,225.9,226.0,225.55,225.94,-5\n' +
        'AAPL,2024-10-02T13:31:30Z,225.9,226.0,225.55,225.94,5\n' +
        'AAPL,2024-10-02T13:30:00Z,225.9,226.0,225.55,225.94,5\n' +
        'AAPL,2024-10-02T13:33:00Z,225.9,226.0,225.55,225.94,5\n',
    );
    const src = new ReplaySource({ file: f });
    const ev = await collect(src);
    expect(ev.map((e) => iso(eventTime(e)))).toEqual([
      '2024-10-02T13:30:00.000Z',
      '2024-10-02T13:33:00.000Z',
    ]);
    const issues = src.issues();
    expect(issues.map((i) => i.at)).toEqual(['line 3', 'line 4', 'line 5', 'line 6']);
    expect(issues[0]).toMatchObject({ field: 'open', reason: 'open "abc" is not a decimal number' });
    expect(issues[1]?.reason).toMatch(/volume: volume must not be negative/);
    expect(issues[2]?.reason).toMatch(/start must be aligned to a whole minute/);
    expect(issues[3]?.reason).toMatch(/not after the previous/);
  });

  it('a CSV without a volume column (an index) gives bars of volume 0', async () => {
    // The first two bars of the real AAPL sample, without the volume column.
    const [header, ...rows] = readFileSync(sample('aapl-2024-10-02.csv'), 'utf8').split('\r\n').slice(0, 3);
    const cols = header!.split(',');
    const v = cols.indexOf('volume');
    const drop = (r: string) =>
      r
        .split(',')
        .filter((_, i) => i !== v)
        .join(',');
    const f = tmpFile('no-volume.csv', [header!, ...rows].map(drop).join('\n'));
    const src = new ReplaySource({ file: f, symbol: 'AAPL' });
    const ev = await collect(src);
    expect(src.issues()).toEqual([]);
    expect(ev.map((e) => e.kind === 'bar' && [iso(e.bar.start), e.bar.open, e.bar.volume])).toEqual([
      ['2024-10-02T13:30:00.000Z', 225.89, 0],
      ['2024-10-02T13:31:00.000Z', 225.73, 0],
    ]);
  });

  it('reads quoted cells and thousands separators; rejects hex numbers and rows whose fields do not line up', async () => {
    // The first five bars of the real AAPL sample, rewritten as spreadsheets export them.
    const [header, ...rows] = readFileSync(sample('aapl-2024-10-02.csv'), 'utf8').split('\r\n').slice(0, 6);
    const quote = (r: string) =>
      r
        .split(',')
        .map((c) => `"${c}"`)
        .join(',');
    const f = tmpFile(
      'export.csv',
      [
        quote(header!),
        // 1,205,461 with its thousands separators, in quotes
        quote(rows[0]!).replace('"1205461"', '"1,205,461"'),
        // exponent notation: 2.2573e2 = 225.73
        rows[1]!.replace(',225.73,', ',2.2573e2,'),
        // Number() would read 0x10 as 16
        rows[2]!.replace(/,[\d.]+,/, ',0x10,'),
        // the same separators unquoted: the volume would be read as 1, the rest dropped
        rows[3]!.replace(/,(\d+)(\d{3})$/, ',$1,$2'),
        // a row cut short of its volume
        rows[4]!.replace(/,\d+$/, ''),
      ].join('\r\n'),
    );
    const src = new ReplaySource({ file: f });
    const ev = await collect(src);
    expect(ev.map((e) => e.kind === 'bar' && [iso(e.bar.start), e.bar.open, e.bar.volume])).toEqual([
      ['2024-10-02T13:30:00.000Z', 225.89, 1205461],
      ['2024-10-02T13:31:00.000Z', 225.73, 205420],
    ]);
    expect(src.issues()).toEqual([
      { symbol: 'AAPL', at: 'line 4', field: 'open', reason: 'open "0x10" is not a decimal number' },
      { at: 'line 5', reason: '9 fields where the header has 8 (a comma in an unquoted value?)' },
      { at: 'line 6', reason: '7 fields where the header has 8 (a comma in an unquoted value?)' },
    ]);
  });

  it('refuses a European CSV (semicolons, decimal commas) clearly, and does not read 225,730 as 225730', async () => {
    // The first three bars of the real AAPL sample, written as a European spreadsheet writes them.
    const [header, ...rows] = readFileSync(sample('aapl-2024-10-02.csv'), 'utf8').split('\r\n').slice(0, 4);
    const european = (r: string) => r.replaceAll(',', ';').replace(/(\d)\.(\d)/g, '$1,$2');
    const semicolons = tmpFile('eu.csv', [header!, ...rows].map(european).join('\r\n'));
    const reason =
      'separates its cells with semicolons (a European CSV?); the replay reads a CSV of commas and decimal points';
    await expect(new ReplaySource({ file: semicolons }).inspect()).rejects.toThrow(reason);
    // --format csv: the same reason, not "CSV header has no time column".
    await expect(new ReplaySource({ file: semicolons, format: 'csv' }).inspect()).rejects.toThrow(reason);

    // Commas between cells, decimal commas in quotes (a spreadsheet of a European locale); the
    // second bar's prices written to three decimals (225,730), which read as a thousands
    // separator would be 225730, a price a thousand times too high.
    const quoted = (r: string) =>
      r
        .split(',')
        .map((c) => (/^\d+\.\d+$/.test(c) ? `"${c.replace('.', ',')}"` : c))
        .join(',');
    const threeDecimals = (r: string) =>
      r.replace(/,(\d+)\.(\d{2}),/g, ',$1.$20,').replace(/,(\d+)\.(\d{2}),/g, ',$1.$20,');
    const f = tmpFile(
      'eu-commas.csv',
      [header!, quoted(rows[0]!), quoted(threeDecimals(rows[1]!))].join('\r\n'),
    );
    const src = new ReplaySource({ file: f });
    expect(await collect(src)).toEqual([]);
    const hint =
      'the file writes decimal commas (a European CSV?); the replay reads decimal points (225.89), and a comma as a thousands separator only (1,205,461): convert the file';
    expect(src.issues()).toEqual([
      { symbol: 'AAPL', at: 'line 2', field: 'open', reason: `open "225,89": ${hint}` },
      { symbol: 'AAPL', at: 'line 3', field: 'open', reason: `open "225,730": ${hint}` },
    ]);
  });

  it('reads a file saved with a byte-order mark as the same file without it, first row included', async () => {
    const withBom = async (file: string, symbol?: string) => {
      const text = readFileSync(file, 'utf8');
      const plain = new ReplaySource({ file, ...(symbol ? { symbol } : {}) });
      const bom = new ReplaySource({
        file: tmpFile(file.split('/').at(-1)!, `\uFEFF${text}`),
        ...(symbol ? { symbol } : {}),
      });
      expect(await bom.inspect()).toEqual(await plain.inspect());
      expect(await collect(bom)).toEqual(await collect(plain));
      expect(bom.issues()).toEqual([]);
    };
    await withBom(sample('spy-2011-01-ninjatrader.csv'), 'SPY');
    await withBom(fixture('dst-2024-11-03.ndjson'));
    await withBom(sample('yahoo-chart-AAPL-2024-10-02-1m.json'));
    await withBom(sample('aapl-2024-10-02.csv'));
  });

  it("orders a symbol's ticks and bars apart: a capture of the live stream replays whole", async () => {
    // As the poller's "both" mode puts them on the stream: the quotes of a minute, then (once the
    // minute is over) its bar, which starts before the quotes already read.
    const at = (hms: string) => Date.parse(`2024-10-02T${hms}Z`);
    const tick = (hms: string, price: number) =>
      JSON.stringify({ v: 1, kind: 'tick', data: { symbol: 'AAPL', time: at(hms), price, source: 'yahoo' } });
    const bar = (hm: string, close: number) =>
      JSON.stringify({
        v: 1,
        kind: 'bar',
        data: {
          symbol: 'AAPL',
          start: at(`${hm}:00`),
          interval: '1m',
          open: close,
          high: close,
          low: close,
          close,
          volume: 1000,
          session: 'regular',
          source: 'yahoo',
        },
      });
    const lines = [
      tick('14:00:10', 226.1),
      tick('14:00:40', 226.2),
      bar('14:00', 226.2),
      tick('14:01:10', 226.3),
      tick('14:01:40', 226.4),
      bar('14:01', 226.4),
      // A bar sent twice is still a duplicate of its own kind.
      bar('14:01', 226.4),
    ];
    const src = new ReplaySource({
      file: tmpFile('capture.ndjson', `${lines.join('\n')}\n`),
      format: 'ndjson',
    });
    const events = await collect(src);
    expect(events.map((e) => `${e.kind} ${iso(eventTime(e)).slice(11, 19)}`)).toEqual([
      'tick 14:00:10',
      'tick 14:00:40',
      'bar 14:00:00',
      'tick 14:01:10',
      'tick 14:01:40',
      'bar 14:01:00',
    ]);
    expect(src.issues().map((i) => i.reason)).toEqual([
      expect.stringMatching(
        /14:01:00.000Z is not after the previous 2024-10-02T14:01:00.000Z .*duplicate or out of order/,
      ),
    ]);
  });

  it('a row with a mistyped, later date is the one rejected, not every row after it', async () => {
    // The real AAPL sample with two symbols interleaved (MSFT: the same rows renamed), and one
    // AAPL row dated the 20th instead of the 2nd.
    const [header, ...rows] = readFileSync(sample('aapl-2024-10-02.csv'), 'utf8').trim().split('\r\n');
    const lines = [header!];
    for (const [i, r] of rows.entries()) {
      lines.push(i === 99 ? r.replace(/2024-10-02T/g, '2024-10-20T') : r);
      lines.push(r.replace(/^AAPL,/, 'MSFT,'));
    }
    const src = new ReplaySource({ file: tmpFile('typo.csv', `${lines.join('\n')}\n`) });
    const ev = await collect(src);
    const count = (s: string) => ev.filter((e) => eventSymbol(e) === s).length;
    expect([count('AAPL'), count('MSFT')]).toEqual([388, 389]);
    expect(src.issues()).toEqual([
      {
        symbol: 'AAPL',
        at: 'line 200',
        field: 'start',
        reason:
          "2024-10-20T15:09:00.000Z is after the next row's 2024-10-02T15:10:00.000Z (line 202) for AAPL, which follows the row before it (a time out of sequence)",
      },
    ]);
    // in file order, each symbol's times increasing
    for (const sym of ['AAPL', 'MSFT']) {
      const times = ev.filter((e) => eventSymbol(e) === sym).map(eventTime);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    expect(ev.map((e) => `${eventSymbol(e)} ${iso(eventTime(e))}`).slice(196, 200)).toEqual([
      'AAPL 2024-10-02T15:08:00.000Z',
      'MSFT 2024-10-02T15:08:00.000Z',
      'MSFT 2024-10-02T15:09:00.000Z',
      'AAPL 2024-10-02T15:10:00.000Z',
    ]);
  });

  it('counts every rejected row of a file sorted newest first, keeping the reasons of the first 1000 only', async () => {
    // The real SPY sample, newest first (as some exports write): each row is before the one read
    // ahead of it. A 1 GB file of such rows would otherwise hold millions of reasons in memory.
    const rows = readFileSync(sample('spy-2011-01-ninjatrader.csv'), 'utf8').trim().split('\n');
    const f = tmpFile('spy-desc.csv', `${rows.toReversed().join('\n')}\n`);
    const src = new ReplaySource({ file: f, symbol: 'SPY' });
    const ev = await collect(src);
    // each row is after the next one, which follows the row before it: each but the last is out
    expect(ev.map((e) => iso(eventTime(e)))).toEqual(['2011-01-03T09:00:00.000Z']);
    expect(src.rejectedCount()).toBe(14179);
    expect(src.issues()).toHaveLength(1000);
    expect(src.issues()[0]).toMatchObject({
      at: 'line 1',
      reason: expect.stringMatching(/out of sequence/),
    });

    const r = spawnSync(
      process.execPath,
      ['scripts/replay.ts', '--file', f, '--symbol', 'SPY', '--dry-run'],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('… and 14159 more rejected rows');
    expect(r.stderr).toContain('14179 rows rejected');
  });

  it('refuses a Yahoo chart of daily or 30-minute bars instead of replaying them as 1-minute bars', async () => {
    for (const [file, granularity] of [
      ['chart-QQQ-2020-01-01-to-2020-01-03.json', '1d'],
      ['chart-TSLA-2021-11-22-to-2021-11-23-interval-30m.json', '30m'],
    ] as const) {
      const path = join(root, 'test/fixtures/yahoo', file);
      const reason = `the chart's bars are "${granularity}" bars (meta.dataGranularity); the replay takes 1-minute bars only`;
      await expect(new ReplaySource({ file: path }).inspect()).rejects.toThrow(reason);
      await expect(collect(new ReplaySource({ file: path, format: 'yahoo-chart' }))).rejects.toThrow(reason);
    }
  });

  it('reads a symbol column case-blind, as Yahoo does: aapl is AAPL, brk-b BRK-B, ^gspc ^GSPC', async () => {
    const rows = ['aapl', 'Brk-b', '^gspc', 'eurusd=x', 'a pl'].map(
      (s) => `${s},2024-10-02T13:30:00Z,1,2,1,1.5,10`,
    );
    const src = new ReplaySource({
      file: tmpFile('lower.csv', ['symbol,timestamp,open,high,low,close,volume', ...rows].join('\n')),
    });
    expect((await collect(src)).map(eventSymbol)).toEqual(['AAPL', 'BRK-B', '^GSPC', 'EURUSD=X']);
    expect(src.issues()).toEqual([
      {
        symbol: 'A PL',
        at: 'line 6',
        reason:
          'symbol: unknown symbol format: expected a Yahoo-style symbol such as AAPL, ^GSPC, EURUSD=X, GC=F or BTC-USD',
      },
    ]);
  });

  it("rejects a symbol's repeated row even more than 1000 rows after it (past the rows an event is held for)", async () => {
    const t0 = Date.parse('2024-10-02T13:30:00Z');
    const msft = Array.from(
      { length: 1001 },
      (_, i) => `MSFT,${new Date(t0 + i * 60_000).toISOString()},3,4,3,3.5,20`,
    );
    const file = tmpFile(
      'repeat.csv',
      [
        'symbol,timestamp,open,high,low,close,volume',
        'AAPL,2024-10-02T13:30:00Z,1,2,1,1.5,10',
        ...msft,
        'AAPL,2024-10-02T13:30:00Z,1,2,1,1.5,10',
      ].join('\n'),
    );
    const src = new ReplaySource({ file });
    const events = await collect(src);
    expect(events.filter((e) => eventSymbol(e) === 'AAPL')).toHaveLength(1);
    expect(events).toHaveLength(1002);
    expect(src.issues()).toEqual([
      expect.objectContaining({ symbol: 'AAPL', at: 'line 1004', field: 'start' }),
    ]);
  });

  it('with --symbol, replays only that symbol of a file that names several (a row naming none is still rejected)', async () => {
    const file = tmpFile(
      'two.csv',
      [
        'symbol,timestamp,open,high,low,close,volume',
        'AAPL,2024-10-02T13:30:00Z,1,2,1,1.5,10',
        'MSFT,2024-10-02T13:30:00Z,3,4,3,3.5,20',
        'AAPL,2024-10-02T13:31:00Z,1,0.5,1,1.5,10', // AAPL's bad row: not MSFT's business
        'msft,2024-10-02T13:31:00Z,3,4,3,3.5,30',
        ',2024-10-02T13:32:00Z,3,4,3,3.5,30', // names no symbol: rejected, not taken as MSFT
        'MSFT,2024-10-02T13:33:00Z,3,2,3,3.5,30', // MSFT's bad row
      ].join('\n'),
    );
    const src = new ReplaySource({ file, symbol: 'MSFT', speed: 60, sleep: async () => {} });
    const events = await collect(src);
    expect(events.map((e) => [eventSymbol(e), iso(eventTime(e))])).toEqual([
      ['MSFT', '2024-10-02T13:30:00.000Z'],
      ['MSFT', '2024-10-02T13:31:00.000Z'],
    ]);
    expect(src.issues().map((i) => i.at)).toEqual(['line 6', 'line 7']);
    expect(src.rejectedCount()).toBe(2);

    const none = new ReplaySource({ file, symbol: 'NVDA' });
    expect(await collect(none)).toEqual([]);
    expect(none.issues().map((i) => i.at)).toEqual(['line 6', '--symbol']);
    expect(none.issues()[1]).toEqual({
      symbol: 'NVDA',
      at: '--symbol',
      reason: `no row of NVDA in ${file} (it has AAPL, MSFT)`,
    });

    const chart = await new ReplaySource({ file: sample('yahoo-chart-AAPL-2024-10-02-1m.json') }).inspect();
    expect(symbolFlagProblem(chart, '--replay', 'chart.json', 'AAPL')).toBeUndefined();
    expect(symbolFlagProblem(chart, '--replay', 'chart.json', 'MSFT')).toBe(
      "--symbol MSFT: chart.json (yahoo-chart) holds AAPL's bars only",
    );
  });

  it('with --symbol, skips the bad rows of the other symbols of an NDJSON file too', async () => {
    const bar = (symbol: string, minute: number, high: number) =>
      JSON.stringify({
        v: 1,
        kind: 'bar',
        data: {
          symbol,
          start: Date.parse(`2024-10-02T13:3${minute}:00Z`),
          interval: '1m',
          open: 1,
          high,
          low: 1,
          close: 1.5,
          volume: 10,
          session: 'regular',
          source: 'replay',
        },
      });
    const file = tmpFile(
      'two.ndjson',
      `${[
        bar('SPY', 0, 2),
        bar('MSFT', 0, 0.5), // MSFT's bad row (high below low): not SPY's business
        bar('SPY', 1, 2),
        bar('SPY', 2, 0.5), // SPY's bad row
        'not json', // names no symbol: rejected
      ].join('\n')}\n`,
    );
    const src = new ReplaySource({ file, symbol: 'SPY' });
    const events = await collect(src);
    expect(events.map((e) => [eventSymbol(e), iso(eventTime(e))])).toEqual([
      ['SPY', '2024-10-02T13:30:00.000Z'],
      ['SPY', '2024-10-02T13:31:00.000Z'],
    ]);
    expect(src.issues().map((i) => [i.at, i.symbol])).toEqual([
      ['line 4', 'SPY'],
      ['line 5', undefined],
    ]);
    expect(src.rejectedCount()).toBe(2);
  });

  it('asks for --symbol when the file has none', async () => {
    const src = new ReplaySource({ file: sample('spy-2011-01-ninjatrader.csv') });
    await expect(collect(src)).rejects.toThrow(/pass --symbol/);
  });

  it('inspects a file before its replay: its format, and whether it names its symbol', async () => {
    const inspect = (file: string) => new ReplaySource({ file }).inspect();
    expect(await inspect(sample('aapl-2024-10-02.csv'))).toEqual({ format: 'csv', carriesSymbol: true });
    expect(await inspect(sample('spy-2011-01-ninjatrader.csv'))).toEqual({
      format: 'ninjatrader',
      carriesSymbol: false,
    });
    expect(await inspect(sample('sp500-2019-11-05-to-08.csv'))).toEqual({
      format: 'mdy-ny',
      carriesSymbol: false,
    });
    expect(await inspect(sample('yahoo-chart-AAPL-2024-10-02-1m.json'))).toEqual({
      format: 'yahoo-chart',
      carriesSymbol: true,
      symbol: 'AAPL',
    });
    expect(await inspect(fixture('dst-2024-11-03.ndjson'))).toEqual({
      format: 'ndjson',
      carriesSymbol: true,
    });
    const recorded = JSON.parse(readFileSync(sample('yahoo-chart-AAPL-2024-10-02-1m.json'), 'utf8'));
    const body = JSON.parse(recorded.response.body);
    delete body.chart.result[0].meta.symbol;
    expect(await inspect(tmpFile('chart.json', JSON.stringify(body)))).toEqual({
      format: 'yahoo-chart',
      carriesSymbol: false,
    });

    await expect(inspect(tmpFile('empty.csv', ''))).rejects.toThrow(/empty\.csv is empty/);
    await expect(inspect(tmpFile('blank.csv', '\uFEFF\n \n'))).rejects.toThrow(/blank\.csv is empty/);
    await expect(inspect(tmpFile('x.txt', 'hello world\n'))).rejects.toThrow(
      /cannot detect the replay format/,
    );
    await expect(inspect(tmpFile('t.csv', 'a,b\n1,2\n'))).rejects.toThrow(/CSV header has no time column/);
    await expect(
      new ReplaySource({ file: tmpFile('e.csv', ''), format: 'ninjatrader' }).inspect(),
    ).rejects.toThrow(/is empty/);
  });

  it('replays a pipe (--replay <(zcat day.csv.gz)) with the format detected from its head', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-fifo-'));
    const fifo = join(dir, 'day.csv');
    execFileSync('mkfifo', [fifo]);
    const text = readFileSync(sample('aapl-2024-10-02.csv'));
    // The writer waits for the reader to open the pipe; it writes the whole file (more than one head).
    const writer = new Promise<void>((resolve, reject) => {
      const w = createWriteStream(fifo);
      w.on('error', reject);
      w.end(text, () => resolve());
    });
    const src = new ReplaySource({ file: fifo });
    expect(await src.inspect()).toEqual({ format: 'csv', carriesSymbol: true });
    const ev = await collect(src);
    await writer;
    expect(text.length).toBeGreaterThan(4096);
    expect(src.issues()).toEqual([]);
    const direct = await collect(new ReplaySource({ file: sample('aapl-2024-10-02.csv') }));
    expect(ev).toEqual(direct);
    expect(ev).toHaveLength(389);
  });

  it('replays a gzip file (or pipe) as the file it decompresses to; a truncated one ends in an error', async () => {
    const text = readFileSync(sample('spy-2011-01-ninjatrader.csv'));
    const gz = gzipSync(text);
    const plain = await collect(
      new ReplaySource({ file: sample('spy-2011-01-ninjatrader.csv'), symbol: 'SPY' }),
    );
    const file = new ReplaySource({ file: tmpFile('spy.csv.gz', gz), symbol: 'SPY' });
    expect(await file.inspect()).toEqual({ format: 'ninjatrader', carriesSymbol: false });
    expect(await collect(file)).toEqual(plain);
    expect(file.issues()).toEqual([]);

    const fifo = join(mkdtempSync(join(tmpdir(), 'replay-fifo-')), 'spy.csv.gz');
    execFileSync('mkfifo', [fifo]);
    const writer = new Promise<void>((resolve, reject) => {
      const w = createWriteStream(fifo);
      w.on('error', reject);
      w.end(gz, () => resolve());
    });
    const piped = new ReplaySource({ file: fifo, symbol: 'SPY', format: 'ninjatrader' });
    expect(await collect(piped)).toEqual(plain);
    await writer;

    const truncated = new ReplaySource({
      file: tmpFile('cut.csv.gz', gz.subarray(0, gz.length >> 1)),
      symbol: 'SPY',
    });
    await expect(collect(truncated)).rejects.toThrow(/unexpected end of file/);
  });

  it('says which formats exist when it cannot detect one', () => {
    expect(() => detectFormat('hello world\n')).toThrow(
      /pass --format \(yahoo-chart, csv, ninjatrader, mdy-ny, ndjson\)/,
    );
  });

  it('paces events at a multiple of real time, and not at all at max', async () => {
    const waits: number[] = [];
    let now = 0;
    const src = new ReplaySource({
      file: fixture('dst-2024-11-03.ndjson'),
      speed: 3600,
      clock: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    await collect(src);
    // Gaps of 40 h, 1 h and 32 h: the hour is paced (1 s at 3600×); the nights, longer than an
    // hour, are skipped, not waited out.
    expect(waits).toEqual([1_000]);
  });

  it('at --speed 60 a session is paced minute by minute and the night and weekend after it are skipped', async () => {
    const waits: number[] = [];
    let now = 0;
    const src = new ReplaySource({
      file: sample('spy-2011-01-ninjatrader.csv'),
      symbol: 'SPY',
      speed: 60,
      clock: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    const events = await collect(src);
    const times = events.map(eventTime);
    // In event time the sample spans weeks; paced, its wall time is its minutes within sessions.
    const paced = times.slice(1).reduce((sum, t, i) => {
      const gap = t - times[i]!;
      return gap > 3_600_000 ? sum : sum + gap;
    }, 0);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(20 * 86_400_000);
    expect(now).toBe(paced / 60);
    expect(Math.max(...waits)).toBeLessThanOrEqual(3_600_000 / 60);
  });

  it('stops pacing at once when the signal aborts (at speed 1 the third event is an hour away)', async () => {
    const src = new ReplaySource({ file: fixture('dst-2024-11-03.ndjson'), speed: 1 });
    const abort = new AbortController();
    const got: MarketEvent[] = [];
    const t0 = Date.now();
    for await (const e of src.events(abort.signal)) {
      got.push(e);
      setTimeout(() => abort.abort(), 50);
    }
    // The first gap (40 h, a night) is skipped; the abort comes during the hour before the third.
    expect(got).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('--speed takes max or a plain positive decimal number (with an optional x), nothing else', () => {
    expect(parseSpeed('max')).toBe('max');
    expect(parseSpeed('60x')).toBe(60);
    expect(parseSpeed('60')).toBe(60);
    expect(parseSpeed('0.5')).toBe(0.5);
    expect(parseSpeed('.5x')).toBe(0.5);
    // Number() would read these as 16, 16, 1000, 5 and 60: refused instead.
    for (const s of [
      '0x10',
      '0X10',
      '1e3',
      ' 5',
      '+60',
      '0b101',
      'Infinity',
      '',
      'x',
      '1.2.3',
      '-1',
      '0',
      '0.0',
    ])
      expect(() => parseSpeed(s), s).toThrow(/--speed must be "max" or a positive decimal number/);
  });
});

describe('paced replay of a file sorted by symbol', () => {
  /** AAPL's five minutes, then MSFT's same five minutes (its third row, line 9, unreadable). */
  const sortedBySymbol = () => {
    const rows = ['symbol,timestamp,open,high,low,close,volume'];
    for (const s of ['AAPL', 'MSFT'])
      for (let m = 0; m < 5; m++)
        rows.push(
          s === 'MSFT' && m === 2
            ? `MSFT,2024-10-02T13:32:00Z,1,2,1,oops,10`
            : `${s},2024-10-02T13:3${m}:00Z,1,2,1,1.5,10`,
        );
    return `${rows.join('\r\n')}\r\n`;
  };
  const paced = (file: string, warnings: string[] = []) => {
    const clock = { now: 0, waits: [] as number[] };
    const src = new ReplaySource({
      file,
      speed: 60,
      clock: () => clock.now,
      sleep: async (ms) => {
        clock.waits.push(ms);
        clock.now += ms;
      },
      warn: (m) => warnings.push(m),
    });
    return { src, clock };
  };
  const label = (e: MarketEvent) => `${eventSymbol(e)} ${iso(eventTime(e)).slice(11, 16)}`;

  it('replays its symbols side by side in time order, each minute a second at --speed 60', async () => {
    const warnings: string[] = [];
    const { src, clock } = paced(tmpFile('sorted.csv', sortedBySymbol()), warnings);
    const events = await collect(src);
    expect(events.map(label)).toEqual([
      'AAPL 13:30',
      'MSFT 13:30',
      'AAPL 13:31',
      'MSFT 13:31',
      'AAPL 13:32',
      'AAPL 13:33',
      'MSFT 13:33',
      'AAPL 13:34',
      'MSFT 13:34',
    ]);
    // Four minutes of market time, four seconds of wall time: MSFT's too, not sent at once.
    expect(clock.now).toBe(4_000);
    expect(src.issues()).toEqual([
      { symbol: 'MSFT', at: 'line 9', field: 'close', reason: 'close "oops" is not a decimal number' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('stops early (--limit) without leaving a run unread open', async () => {
    const { src } = paced(tmpFile('sorted.csv', sortedBySymbol()));
    const got: MarketEvent[] = [];
    for await (const e of src.events()) {
      got.push(e);
      if (got.length === 3) break;
    }
    expect(got.map(label)).toEqual(['AAPL 13:30', 'MSFT 13:30', 'AAPL 13:31']);
  });

  it('gzip: each symbol is paced on its own, one after the other, and a warning says so once', async () => {
    // MSFT's rows two hours before AAPL's last (a step back of more than an hour starts pacing anew).
    const text = `${sortedBySymbol().replaceAll('\r\n', '\n').replaceAll('MSFT,2024-10-02T13', 'MSFT,2024-10-02T11')}GOOG,2024-10-02T09:30:00Z,1,2,1,1.5,10\n`;
    const warnings: string[] = [];
    const { src, clock } = paced(tmpFile('sorted.csv.gz', gzipSync(text)), warnings);
    const events = await collect(src);
    expect(events.map(label).join(', ')).toBe(
      'AAPL 13:30, AAPL 13:31, AAPL 13:32, AAPL 13:33, AAPL 13:34, MSFT 11:30, MSFT 11:31, MSFT 11:33, MSFT 11:34, GOOG 09:30',
    );
    // AAPL's four minutes, then MSFT's four, each paced: not MSFT's rows all at once.
    expect(clock.now).toBe(8_000);
    expect(clock.waits).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 2_000, 1_000]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not in time order across its symbols \(sorted by symbol\?\)/);
  });

  it('gzip: a symbol whose rows start less than an hour back is paced on its own too, and warned of', async () => {
    // MSFT's five minutes are AAPL's: its first row is four minutes before AAPL's last.
    const warnings: string[] = [];
    const { src, clock } = paced(tmpFile('sorted.csv.gz', gzipSync(sortedBySymbol())), warnings);
    const events = await collect(src);
    expect(events.map(label).join(', ')).toBe(
      'AAPL 13:30, AAPL 13:31, AAPL 13:32, AAPL 13:33, AAPL 13:34, MSFT 13:30, MSFT 13:31, MSFT 13:33, MSFT 13:34',
    );
    // AAPL's four minutes, then MSFT's four, each a second: not MSFT's rows sent at once.
    expect(clock.waits).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 2_000, 1_000]);
    expect(clock.now).toBe(8_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /MSFT's rows start at 2024-10-02T13:30:00.000Z, before the previous rows' 2024-10-02T13:34:00.000Z/,
    );
  });
});

describe('bars coarser than 1-minute bars', () => {
  /** The rows of a comma-separated fixture, by lower-case column name. */
  const csvRows = (file: string) => {
    const [header, ...rows] = readFileSync(file, 'utf8').trim().split(/\r?\n/);
    const cols = header!.split(',').map((c) => c.toLowerCase());
    return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
  };
  /** 1-minute rows grouped into coarser bars (first open, highest high, lowest low, last close, volumes summed). */
  const aggregate = (rows: Record<string, string>[], key: (r: Record<string, string>) => string) => {
    const bars = new Map<
      string,
      { open: string; high: number; low: number; close: string; volume: number }
    >();
    for (const r of rows) {
      const k = key(r);
      const b = bars.get(k);
      if (!b)
        bars.set(k, { open: r.open!, high: +r.high!, low: +r.low!, close: r.close!, volume: +r.volume! });
      else
        Object.assign(b, {
          high: Math.max(b.high, +r.high!),
          low: Math.min(b.low, +r.low!),
          close: r.close!,
          volume: b.volume + +r.volume!,
        });
    }
    return [...bars].map(([k, b]) => ({ key: k, ...b }));
  };
  /** The real AAPL 1-minute bars of 2024-10-02 (test/fixtures/market) as 5-minute bars, bar start UTC. */
  const aapl5m = () =>
    aggregate(csvRows(join(root, 'test/fixtures/market/aapl-2024-10-02.csv')), (r) =>
      iso(Math.floor(Date.parse(r.bar_start_utc!) / 300_000) * 300_000),
    ).map((b) => `AAPL,${b.key},${b.open},${b.high},${b.low},${b.close},${b.volume}`);
  /** The real S&P 500 1-minute bars of 2019-11-05..08 (test/fixtures/market) as hourly bars from 9:30, M/D/YYYY H:MM. */
  const sp500Hourly = () =>
    aggregate(csvRows(join(root, 'test/fixtures/market/sp500-2019-11-05-to-08.csv')), (r) => {
      const [date, clock] = r.date!.split(' ');
      const [h, m] = clock!.split(':').map(Number);
      return `${date} ${Math.floor((h! * 60 + m! - 30) / 60) + 9}:30`;
    }).map((b) => `${b.key},${b.open},${b.close},${b.high},${b.low},${b.volume}`);
  /** Collects the events until the replay ends or throws; the error, if any. */
  const run = async (src: ReplaySource) => {
    const got: MarketEvent[] = [];
    try {
      for await (const e of src.events()) got.push(e);
      return { got, error: undefined };
    } catch (err) {
      return { got, error: (err as Error).message };
    }
  };

  it('refuses 5-minute bars in a CSV, and hourly bars in an M/D/YYYY file, before sending any of them', async () => {
    const csv = tmpFile(
      'aapl-5m.csv',
      `symbol,bar_start_utc,open,high,low,close,volume\n${aapl5m().join('\n')}\n`,
    );
    const src = new ReplaySource({ file: csv });
    const five = await run(src);
    expect(src.issues()).toEqual([]);
    expect(five.got).toEqual([]);
    expect(five.error).toBe(
      `${csv} is not a file of 1-minute bars: all 20 gaps between bars of a symbol from AAPL's 2024-10-02T13:30:00.000Z on ` +
        'are multiples of 5 minutes (the smallest 5 minutes), as in a file of 5-minute bars; the replay takes 1-minute bars ' +
        'only (each row would be taken for one minute of trading), and has replayed none of them',
    );

    // 7 bars a day (9:30 to 15:30) over four days: 27 gaps, of an hour or a night (18 hours).
    const mdy = tmpFile('sp500-1h.csv', `Date,Open,Close,High,Low,Volume\n${sp500Hourly().join('\n')}\n`);
    const hourly = await run(new ReplaySource({ file: mdy, symbol: '^GSPC' }));
    expect(hourly.got).toEqual([]);
    expect(hourly.error).toMatch(/multiples of 1 hour \(the smallest 1 hour\), as in a file of 1-hour bars/);
  });

  it('accepts an illiquid 1-minute file, none of whose bars are a minute apart', async () => {
    // Lines 3 to 14 of the real SPY NinjaTrader sample: 2011-01-03 09:06..11:01 UTC, gaps of
    // 10, 9, 31, 27, 8, 2, 4, 3, 5, 3 and 13 minutes (counted by hand from the file).
    const lines = readFileSync(sample('spy-2011-01-ninjatrader.csv'), 'utf8').split('\n').slice(2, 14);
    const warnings: string[] = [];
    const src = new ReplaySource({
      file: tmpFile('spy-early.csv', `${lines.join('\n')}\n`),
      symbol: 'SPY',
      warn: (m) => warnings.push(m),
    });
    const { got, error } = await run(src);
    expect(error).toBeUndefined();
    expect(got).toHaveLength(12);
    expect(src.issues()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("counts the gaps of all of a file's symbols: two symbols of eleven 5-minute bars each are refused", async () => {
    // AAPL's first eleven 5-minute bars (2024-10-02), then the S&P 500's of 2019-11-05 (its
    // 1-minute bars grouped by five, M/D/YYYY H:MM, New York time).
    const sp5m = aggregate(csvRows(join(root, 'test/fixtures/market/sp500-2019-11-05-to-08.csv')), (r) => {
      const [date, clock] = r.date!.split(' ');
      const [h, m] = clock!.split(':').map(Number);
      return `${date} ${h}:${String(m! - (m! % 5)).padStart(2, '0')}`;
    })
      .slice(0, 11)
      .map((b) => `^GSPC,${b.key},${b.open},${b.high},${b.low},${b.close},${b.volume}`);
    const rows = [...aapl5m().slice(0, 11), ...sp5m];
    const file = tmpFile('two.csv', `symbol,timestamp,open,high,low,close,volume\n${rows.join('\n')}\n`);
    const both = await run(new ReplaySource({ file }));
    expect(both.got).toEqual([]);
    expect(both.error).toMatch(/all 20 gaps between bars of a symbol from AAPL's .* multiples of 5 minutes/);
    // One of them alone has ten gaps: too few to refuse, replayed with a warning.
    const warnings: string[] = [];
    const one = await run(new ReplaySource({ file, symbol: 'AAPL', warn: (m) => warnings.push(m) }));
    expect(one.error).toBeUndefined();
    expect(one.got).toHaveLength(11);
    expect(warnings).toEqual([
      `${file}: all 10 gaps between bars of a symbol are multiples of 5 minutes (the smallest 5 minutes), too few to tell: ` +
        'if they are 5-minute bars, they are replayed as 1-minute bars (the replay takes 1-minute bars only)',
    ]);
  });
});
