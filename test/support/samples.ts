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

/** The open of the 2024-10-02 session (13:30 UTC). */
export const SESSION_OPEN_2024_10_02 = Date.parse('2024-10-02T13:30:00Z');

/** A regular-session 1-minute bar `minute` minutes after the 2024-10-02 open, around `close`. */
export function sessionBar(symbol: string, minute: number, close: number): Bar {
  return {
    symbol,
    start: SESSION_OPEN_2024_10_02 + minute * 60_000,
    interval: '1m',
    open: close - 0.5,
    high: close + 1,
    low: close - 1,
    close,
    volume: 1000 + minute,
    session: 'regular',
    source: 'replay',
  };
}
