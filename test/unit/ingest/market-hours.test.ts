import { describe, expect, it } from 'vitest';
import { isMarketOpen, sessionOf } from '../../../src/pipeline/ingest/market-hours.ts';

// October 2024: New York is on EDT (UTC-4). Friday 2024-10-04, Sunday 2024-10-06, Wednesday 2024-10-02.
const ny = (date: string, time: string) => Date.parse(`${date}T${time}-04:00`);

describe('isMarketOpen', () => {
  it('FX and futures trade from Sunday 17:00 to Friday 17:00 New York time', () => {
    for (const symbol of ['EURUSD=X', 'ES=F']) {
      expect(isMarketOpen(symbol, ny('2024-10-06', '16:59:00'))).toBe(false);
      expect(isMarketOpen(symbol, ny('2024-10-06', '17:00:00'))).toBe(true);
      expect(isMarketOpen(symbol, ny('2024-10-04', '16:59:00'))).toBe(true);
      expect(isMarketOpen(symbol, ny('2024-10-04', '17:00:00'))).toBe(false);
      expect(isMarketOpen(symbol, ny('2024-10-05', '12:00:00'))).toBe(false);
    }
  });

  it('equities: the regular session, and with extendedHours pre-market (04:00) and post-market (to 20:00) too', () => {
    for (const [time, regular, extended] of [
      ['03:59:00', false, false],
      ['08:00:00', false, true],
      ['09:30:00', true, true],
      ['15:59:00', true, true],
      ['16:00:00', false, true],
      ['19:59:00', false, true],
      ['20:00:00', false, false],
    ] as const) {
      expect([time, isMarketOpen('AAPL', ny('2024-10-02', time))]).toEqual([time, regular]);
      expect([time, isMarketOpen('AAPL', ny('2024-10-02', time), true)]).toEqual([time, extended]);
    }
  });
});

describe('sessionOf', () => {
  it('labels a bar the calendar calls closed pre before 09:30 and post from then on', () => {
    // Christmas Day 2024 (EST, UTC-5): NYSE closed all day; a file may still hold bars of it.
    expect(sessionOf('AAPL', Date.parse('2024-12-25T09:15:00-05:00'))).toBe('pre');
    expect(sessionOf('AAPL', Date.parse('2024-12-25T09:30:00-05:00'))).toBe('post');
    expect(sessionOf('AAPL', ny('2024-10-02', '03:00:00'))).toBe('pre');
    expect(sessionOf('AAPL', ny('2024-10-02', '09:30:00'))).toBe('regular');
    expect(sessionOf('AAPL', ny('2024-10-02', '17:00:00'))).toBe('post');
    expect(sessionOf('AAPL', ny('2024-10-02', '21:00:00'))).toBe('post');
  });
});
