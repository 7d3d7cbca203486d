import { describe, expect, it } from 'vitest';
import {
  ContinuousCalendar,
  calendarForSymbol,
  UsEquityCalendar,
} from '../../../src/domain/calendar/calendar.ts';
import {
  easterSunday,
  nyseDayStatus,
  nyseEarlyCloses,
  nyseHolidays,
} from '../../../src/domain/calendar/nyse-holidays.ts';
import { instantOf, localDateTime, zoneOffsetMs } from '../../../src/domain/calendar/zone.ts';

const at = (iso: string) => Date.parse(iso);

describe('easterSunday (Meeus/Jones/Butcher)', () => {
  // Western Easter dates as published (e.g. the US Naval Observatory's Easter table).
  const known: Array<[number, string]> = [
    [2010, '04-04'],
    [2011, '04-24'],
    [2012, '04-08'],
    [2016, '03-27'],
    [2019, '04-21'],
    [2024, '03-31'],
    [2025, '04-20'],
    [2026, '04-05'],
    [2027, '03-28'],
    [2038, '04-25'],
  ];
  it.each(known)('%i → %s', (year, md) => {
    const e = easterSunday(year);
    expect(`${String(e.month).padStart(2, '0')}-${String(e.day).padStart(2, '0')}`).toBe(md);
  });
});

describe('NYSE holidays (rule-based)', () => {
  // Published NYSE holiday calendars (nyse.com "Holidays & Trading Hours" and its archives).
  const published: Record<number, string[]> = {
    2011: [
      '2011-01-17',
      '2011-02-21',
      '2011-04-22',
      '2011-05-30',
      '2011-07-04',
      '2011-09-05',
      '2011-11-24',
      '2011-12-26',
    ],
    2012: [
      '2012-01-02',
      '2012-01-16',
      '2012-02-20',
      '2012-04-06',
      '2012-05-28',
      '2012-07-04',
      '2012-09-03',
      '2012-10-29',
      '2012-10-30',
      '2012-11-22',
      '2012-12-25',
    ],
    2015: [
      '2015-01-01',
      '2015-01-19',
      '2015-02-16',
      '2015-04-03',
      '2015-05-25',
      '2015-07-03',
      '2015-09-07',
      '2015-11-26',
      '2015-12-25',
    ],
    2021: [
      '2021-01-01',
      '2021-01-18',
      '2021-02-15',
      '2021-04-02',
      '2021-05-31',
      '2021-07-05',
      '2021-09-06',
      '2021-11-25',
      '2021-12-24',
    ],
    2022: [
      '2022-01-17',
      '2022-02-21',
      '2022-04-15',
      '2022-05-30',
      '2022-06-20',
      '2022-07-04',
      '2022-09-05',
      '2022-11-24',
      '2022-12-26',
    ],
    2024: [
      '2024-01-01',
      '2024-01-15',
      '2024-02-19',
      '2024-03-29',
      '2024-05-27',
      '2024-06-19',
      '2024-07-04',
      '2024-09-02',
      '2024-11-28',
      '2024-12-25',
    ],
    2025: [
      '2025-01-01',
      '2025-01-09',
      '2025-01-20',
      '2025-02-17',
      '2025-04-18',
      '2025-05-26',
      '2025-06-19',
      '2025-07-04',
      '2025-09-01',
      '2025-11-27',
      '2025-12-25',
    ],
    2026: [
      '2026-01-01',
      '2026-01-19',
      '2026-02-16',
      '2026-04-03',
      '2026-05-25',
      '2026-06-19',
      '2026-07-03',
      '2026-09-07',
      '2026-11-26',
      '2026-12-25',
    ],
    2027: [
      '2027-01-01',
      '2027-01-18',
      '2027-02-15',
      '2027-03-26',
      '2027-05-31',
      '2027-06-18',
      '2027-07-05',
      '2027-09-06',
      '2027-11-25',
      '2027-12-24',
    ],
  };
  it.each(Object.entries(published))('%s matches the published list', (year, dates) => {
    expect([...nyseHolidays(Number(year)).keys()].sort()).toEqual([...dates].sort());
  });

  it('does not observe New Year on a Saturday (2011, 2022) and moves a Sunday one to Monday (2012, 2017)', () => {
    expect(nyseHolidays(2010).has('2010-12-31')).toBe(false);
    expect(nyseHolidays(2021).has('2021-12-31')).toBe(false);
    expect(nyseHolidays(2012).get('2012-01-02')).toBe("New Year's Day");
    expect(nyseHolidays(2017).get('2017-01-02')).toBe("New Year's Day");
  });

  it('has Juneteenth only from 2022', () => {
    expect([...nyseHolidays(2021).values()]).not.toContain('Juneteenth National Independence Day');
    expect(nyseHolidays(2023).get('2023-06-19')).toBe('Juneteenth National Independence Day');
  });

  it('has nine or ten holidays every year 2010–2030 (plus the unscheduled ones)', () => {
    for (let y = 2010; y <= 2030; y++) {
      const rule = [...nyseHolidays(y).values()].filter(
        (n) => !n.startsWith('Hurricane') && !n.startsWith('National Day'),
      );
      expect(rule.length, String(y)).toBeGreaterThanOrEqual(y >= 2022 ? 9 : 8);
      expect(rule.length, String(y)).toBeLessThanOrEqual(y >= 2022 ? 10 : 9);
    }
  });
});

describe('NYSE early closes (13:00)', () => {
  // Published NYSE early closes.
  const published: Record<number, string[]> = {
    2010: ['2010-11-26'],
    2012: ['2012-07-03', '2012-11-23', '2012-12-24'],
    2015: ['2015-11-27', '2015-12-24'],
    2019: ['2019-07-03', '2019-11-29', '2019-12-24'],
    2020: ['2020-11-27', '2020-12-24'],
    2021: ['2021-11-26'],
    2024: ['2024-07-03', '2024-11-29', '2024-12-24'],
    2025: ['2025-07-03', '2025-11-28', '2025-12-24'],
    2026: ['2026-11-27', '2026-12-24'],
    2027: ['2027-11-26'],
  };
  it.each(Object.entries(published))('%s matches the published list', (year, dates) => {
    expect([...nyseEarlyCloses(Number(year)).keys()].sort()).toEqual(dates);
  });

  it('classifies days', () => {
    expect(nyseDayStatus(2024, 11, 29).kind).toBe('early-close');
    expect(nyseDayStatus(2024, 11, 28)).toEqual({ kind: 'holiday', name: 'Thanksgiving Day' });
    expect(nyseDayStatus(2024, 11, 30).kind).toBe('weekend');
    expect(nyseDayStatus(2024, 10, 2).kind).toBe('full');
  });
});

describe('time zone conversion', () => {
  it('knows New York offsets on both sides of the 2024 DST changes', () => {
    // 2024-03-10 02:00 EST → 03:00 EDT (07:00Z); 2024-11-03 02:00 EDT → 01:00 EST (06:00Z).
    expect(zoneOffsetMs(at('2024-03-10T06:59:59Z'), 'America/New_York')).toBe(-5 * 3600_000);
    expect(zoneOffsetMs(at('2024-03-10T07:00:00Z'), 'America/New_York')).toBe(-4 * 3600_000);
    expect(zoneOffsetMs(at('2024-11-03T05:59:59Z'), 'America/New_York')).toBe(-4 * 3600_000);
    expect(zoneOffsetMs(at('2024-11-03T06:00:00Z'), 'America/New_York')).toBe(-5 * 3600_000);
  });

  it('maps local times to instants across DST', () => {
    expect(instantOf(2024, 3, 8, 9, 30, 'America/New_York')).toBe(at('2024-03-08T14:30:00Z'));
    expect(instantOf(2024, 3, 11, 9, 30, 'America/New_York')).toBe(at('2024-03-11T13:30:00Z'));
    expect(instantOf(2024, 11, 1, 9, 30, 'America/New_York')).toBe(at('2024-11-01T13:30:00Z'));
    expect(instantOf(2024, 11, 4, 9, 30, 'America/New_York')).toBe(at('2024-11-04T14:30:00Z'));
    // 01:30 on 2024-11-03 happens twice: the first (EDT) is chosen.
    expect(instantOf(2024, 11, 3, 1, 30, 'America/New_York')).toBe(at('2024-11-03T05:30:00Z'));
    // 02:30 on 2024-03-10 does not exist: resolves after the gap.
    expect(instantOf(2024, 3, 10, 2, 30, 'America/New_York')).toBe(at('2024-03-10T07:30:00Z'));
  });

  it('maps every minute of a fall-back day to the instant that reads it, the hours after the change too', () => {
    // 2024-11-03 New York: 02:00 to 05:59 are EST only (07:00Z to 10:59Z); they were put an hour
    // early (read back as 01:00 to 04:59), so a replayed 2:00 was "skipped by a DST change".
    expect(instantOf(2024, 11, 3, 2, 0, 'America/New_York')).toBe(at('2024-11-03T07:00:00Z'));
    expect(instantOf(2024, 11, 3, 5, 59, 'America/New_York')).toBe(at('2024-11-03T10:59:00Z'));
    // and London's 2024-10-27 change (02:00 BST → 01:00 GMT): 02:30 is GMT only
    expect(instantOf(2024, 10, 27, 2, 30, 'Europe/London')).toBe(at('2024-10-27T02:30:00Z'));
    for (const zone of ['America/New_York', 'America/Chicago', 'Europe/London', 'Australia/Sydney']) {
      for (const [y, mo, d] of [
        [2024, 11, 3],
        [2024, 10, 27],
        [2024, 4, 7],
        [2024, 3, 10],
        [2024, 3, 31],
        [2024, 10, 6],
      ] as const) {
        for (let minute = 0; minute < 24 * 60; minute += 15) {
          const [h, m] = [Math.floor(minute / 60), minute % 60];
          const l = localDateTime(instantOf(y, mo, d, h, m, zone), zone);
          const exists = l.hour === h && l.minute === m;
          // Only a spring-forward gap may read otherwise: the instant after it, an hour on.
          if (!exists)
            expect([l.hour * 60 + l.minute - minute, zone, y, mo, d, h, m]).toEqual([
              60,
              zone,
              y,
              mo,
              d,
              h,
              m,
            ]);
        }
      }
    }
  });

  it('reads local date and time', () => {
    expect(localDateTime(at('2011-01-03T14:30:00Z'), 'America/New_York')).toMatchObject({
      year: 2011,
      month: 1,
      day: 3,
      hour: 9,
      minute: 30,
      weekday: 1,
    });
  });
});

describe('UsEquityCalendar sessions', () => {
  const cal = new UsEquityCalendar();
  const cases: Array<[string, string]> = [
    // Friday before spring-forward (EST, UTC-5)
    ['2024-03-08T08:59:00Z', 'closed'],
    ['2024-03-08T09:00:00Z', 'pre'],
    ['2024-03-08T14:29:00Z', 'pre'],
    ['2024-03-08T14:30:00Z', 'regular'],
    ['2024-03-08T20:59:00Z', 'regular'],
    ['2024-03-08T21:00:00Z', 'post'],
    ['2024-03-09T00:59:00Z', 'post'],
    ['2024-03-09T01:00:00Z', 'closed'],
    // Sunday of the change
    ['2024-03-10T15:00:00Z', 'closed'],
    // Monday after (EDT, UTC-4)
    ['2024-03-11T07:59:00Z', 'closed'],
    ['2024-03-11T08:00:00Z', 'pre'],
    ['2024-03-11T13:29:00Z', 'pre'],
    ['2024-03-11T13:30:00Z', 'regular'],
    ['2024-03-11T19:59:00Z', 'regular'],
    ['2024-03-11T20:00:00Z', 'post'],
    ['2024-03-11T23:59:00Z', 'post'],
    ['2024-03-12T00:00:00Z', 'closed'],
    // Friday before fall-back (EDT)
    ['2024-11-01T13:29:00Z', 'pre'],
    ['2024-11-01T13:30:00Z', 'regular'],
    ['2024-11-01T20:00:00Z', 'post'],
    // Monday after fall-back (EST)
    ['2024-11-04T13:30:00Z', 'pre'],
    ['2024-11-04T14:30:00Z', 'regular'],
    ['2024-11-04T21:00:00Z', 'post'],
    // Half day after Thanksgiving 2024: regular until 13:00 ET, post until 17:00 ET
    ['2024-11-29T17:59:00Z', 'regular'],
    ['2024-11-29T18:00:00Z', 'post'],
    ['2024-11-29T21:59:00Z', 'post'],
    ['2024-11-29T22:00:00Z', 'closed'],
    // Christmas Eve 2024 half day, Christmas closed
    ['2024-12-24T18:00:00Z', 'post'],
    ['2024-12-25T15:00:00Z', 'closed'],
    // Good Friday 2024 closed
    ['2024-03-29T15:00:00Z', 'closed'],
    // January 2011 (EST), MLK day 2011-01-17 closed
    ['2011-01-03T14:30:00Z', 'regular'],
    ['2011-01-17T15:00:00Z', 'closed'],
    ['2011-01-18T14:30:00Z', 'regular'],
  ];
  it.each(cases)('%s is %s', (iso, session) => {
    expect(cal.sessionAt(at(iso))).toBe(session);
  });

  it('gives the trading day its true length on DST change days', () => {
    const spring = cal.tradingDayAt(at('2024-03-10T12:00:00Z'));
    expect(spring.date).toBe('2024-03-10');
    expect(spring.end - spring.start).toBe(23 * 3600_000);
    const fall = cal.tradingDayAt(at('2024-11-03T12:00:00Z'));
    expect(fall.end - fall.start).toBe(25 * 3600_000);
    expect(cal.tradingDayAt(at('2024-10-03T03:59:00Z')).date).toBe('2024-10-02');
    expect(cal.tradingDayAt(at('2024-10-03T04:00:00Z')).date).toBe('2024-10-03');
  });

  it('answers the same whether or not the day is cached (alternating days)', () => {
    const fresh = (iso: string) => new UsEquityCalendar().sessionAt(at(iso));
    for (const [iso, s] of [...cases].reverse()) {
      expect(cal.sessionAt(at(iso)), iso).toBe(s);
      expect(fresh(iso), iso).toBe(s);
    }
  });
});

describe('calendars without sessions', () => {
  it('crypto trades 24/7 with UTC days', () => {
    const c = calendarForSymbol('BTC-USD');
    expect(c.hasSessions).toBe(false);
    expect(c.sessionAt(at('2025-02-01T03:00:00Z'))).toBe('none'); // a Saturday
    expect(c.tradingDayAt(at('2025-02-01T23:59:59Z')).date).toBe('2025-02-01');
    expect(c.tradingDayAt(at('2025-02-02T00:00:00Z')).date).toBe('2025-02-02');
  });

  it('FX rolls its day at 17:00 New York, in summer and winter time', () => {
    const fx = calendarForSymbol('EURUSD=X');
    expect(fx.sessionAt(at('2024-10-07T12:00:00Z'))).toBe('none');
    expect(fx.tradingDayAt(at('2024-10-07T20:59:00Z')).date).toBe('2024-10-07'); // 16:59 EDT
    expect(fx.tradingDayAt(at('2024-10-07T21:00:00Z')).date).toBe('2024-10-08'); // 17:00 EDT
    expect(fx.tradingDayAt(at('2024-12-09T21:59:00Z')).date).toBe('2024-12-09'); // 16:59 EST
    expect(fx.tradingDayAt(at('2024-12-09T22:00:00Z')).date).toBe('2024-12-10'); // 17:00 EST
    const d = fx.tradingDayAt(at('2024-10-08T12:00:00Z'));
    expect([d.start, d.end]).toEqual([at('2024-10-07T21:00:00Z'), at('2024-10-08T21:00:00Z')]);
  });

  it('futures roll at 18:00 New York', () => {
    const f = calendarForSymbol('GC=F');
    expect(f.tradingDayAt(at('2024-10-07T21:59:00Z')).date).toBe('2024-10-07');
    expect(f.tradingDayAt(at('2024-10-07T22:00:00Z')).date).toBe('2024-10-08');
  });

  it('picks calendars by symbol', () => {
    expect(calendarForSymbol('AAPL')).toBeInstanceOf(UsEquityCalendar);
    expect(calendarForSymbol('BRK-B')).toBeInstanceOf(UsEquityCalendar);
    expect(calendarForSymbol('^GSPC')).toBeInstanceOf(UsEquityCalendar);
    expect(calendarForSymbol('0700.HK')).toBeInstanceOf(ContinuousCalendar);
  });
});
