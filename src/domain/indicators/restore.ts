import { EMA, type EMASnapshot } from './ema.ts';
import { describe, IndicatorSnapshotError } from './errors.ts';
import { SMA, type SMASnapshot } from './sma.ts';

export type AnyIndicator = SMA | EMA;
export type IndicatorSnapshot = SMASnapshot | EMASnapshot;

const restorers: Record<string, (snapshot: unknown) => AnyIndicator> = {
  SMA: SMA.restore,
  EMA: EMA.restore,
};

/** Rebuilds any indicator from its snapshot, dispatching on the snapshot's `type` tag. */
export function restoreIndicator(snapshot: unknown): AnyIndicator {
  const type =
    snapshot !== null && typeof snapshot === 'object' ? (snapshot as { type?: unknown }).type : undefined;
  const restore = typeof type === 'string' && Object.hasOwn(restorers, type) ? restorers[type] : undefined;
  if (restore === undefined) {
    throw new IndicatorSnapshotError(
      'indicator',
      'type',
      `must be one of ${Object.keys(restorers).join(', ')}, got ${describe(type)}`,
    );
  }
  return restore(snapshot);
}
