/** Option values of the ingest command lines (`npm run replay`, `npm run backfill`), parsed strictly. */
import { describe, expect, it } from 'vitest';
import { parseInstant, parsePositiveWhole, UsageError } from '../../../src/pipeline/ingest/cli.ts';

describe('parsePositiveWhole (--limit N)', () => {
  it('takes a positive whole number in plain decimal digits', () => {
    expect(parsePositiveWhole('limit', '1')).toBe(1);
    expect(parsePositiveWhole('limit', '16')).toBe(16);
    expect(parsePositiveWhole('limit', '1000')).toBe(1000);
  });

  it('refuses what Number() would read as a count (0x10 as 16, 1e3 as 1000, 5.0 as 5), and 0 or less', () => {
    for (const v of [
      '0x10',
      '0o20',
      '0b10',
      '1e3',
      '5.0',
      '5.',
      '.5',
      '+5',
      '-5',
      ' 5',
      '5 ',
      '',
      '0',
      '00',
      'Infinity',
      '9007199254740993',
      '1_000',
      '5x',
    ]) {
      expect(() => parsePositiveWhole('limit', v), v).toThrow(UsageError);
      expect(() => parsePositiveWhole('limit', v), v).toThrow(
        `--limit must be a positive whole number (like 100), got "${v}"`,
      );
    }
  });
});

describe('parseInstant (backfill --from / --to)', () => {
  it('reads a date alone as its 00:00 UTC, a time with its zone, and epoch milliseconds', () => {
    expect(parseInstant('to', '2026-11-20')).toBe(Date.UTC(2026, 10, 20));
    expect(parseInstant('from', '2026-11-17T14:30:00.000Z')).toBe(Date.UTC(2026, 10, 17, 14, 30));
    expect(parseInstant('from', '2026-11-17T09:30-05:00')).toBe(Date.UTC(2026, 10, 17, 14, 30));
    expect(parseInstant('from', '2026-11-17T09:30:00-0500')).toBe(Date.UTC(2026, 10, 17, 14, 30));
    expect(parseInstant('from', '1795000000000')).toBe(1_795_000_000_000);
    expect(parseInstant('from', undefined)).toBeUndefined();
  });

  it("refuses a time without a zone, or a date in another form: Date.parse reads those in the machine's zone", () => {
    // The same command would ask Yahoo for other minutes on a laptop in New York than on a UTC host.
    for (const v of [
      '2026-11-17T09:30',
      '2026-11-17 09:30:00',
      '2026-11-17T09:30:00.000',
      'Nov 17 2026',
      '2026/11/17',
      // A compact date is not 10 digits of epoch milliseconds: not read as a moment of 1970.
      '20261117',
      '2026-13-01',
    ])
      expect(() => parseInstant('from', v)).toThrow(UsageError);
    expect(() => parseInstant('from', '2026-11-17T09:30')).toThrow(/--from "2026-11-17T09:30" has no zone/);
    expect(() => parseInstant('to', 'tomorrow')).toThrow(/--to must be an ISO date\/time/);
  });
});
