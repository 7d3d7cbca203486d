/** Option values of the ingest command lines (`npm run replay`), parsed strictly. */
import { describe, expect, it } from 'vitest';
import { parsePositiveWhole, UsageError } from '../../../src/pipeline/ingest/cli.ts';

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
