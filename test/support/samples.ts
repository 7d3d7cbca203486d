import { readFileSync } from 'node:fs';
import type { Bar } from '../../src/domain/market/index.ts';

export const AAPL_SAMPLE = 'data/samples/aapl-2024-10-02.csv';

/**
 * The bundled real AAPL session of 2024-10-02 (389 regular bars; see data/samples/SOURCES.md),
 * parsed here independently of the replay adapter, optionally under another symbol.
 */
export function aaplSampleBars(symbol = 'AAPL'): Bar[] {
  return readFileSync(new URL(`../../${AAPL_SAMPLE}`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [, , startUtc, open, high, low, close, volume] = line.split(',');
      return {
        symbol,
        start: Date.parse(startUtc!),
        interval: '1m' as const,
        open: Number(open),
        high: Number(high),
        low: Number(low),
        close: Number(close),
        volume: Number(volume),
        session: 'regular' as const,
        source: 'replay' as const,
      };
    });
}
