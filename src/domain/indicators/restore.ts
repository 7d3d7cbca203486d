import { ATR, type ATRSnapshot } from './atr.ts';
import { BollingerBands, type BollingerBandsSnapshot } from './bollinger.ts';
import { EMA, type EMASnapshot } from './ema.ts';
import { describe, IndicatorSnapshotError } from './errors.ts';
import { MACD, type MACDSnapshot } from './macd.ts';
import { ROC, type ROCSnapshot } from './roc.ts';
import { RSI, type RSISnapshot } from './rsi.ts';
import { SMA, type SMASnapshot } from './sma.ts';
import { RollingStdDev, type RollingStdDevSnapshot } from './stddev.ts';
import { VWAP, type VWAPSnapshot } from './vwap.ts';
import { WMA, type WMASnapshot } from './wma.ts';
import { ReturnsZScore, type ReturnsZScoreSnapshot } from './zscore.ts';

export type AnyIndicator =
  | SMA
  | EMA
  | WMA
  | RSI
  | MACD
  | BollingerBands
  | ATR
  | VWAP
  | RollingStdDev
  | ReturnsZScore
  | ROC;

export type IndicatorSnapshot =
  | SMASnapshot
  | EMASnapshot
  | WMASnapshot
  | RSISnapshot
  | MACDSnapshot
  | BollingerBandsSnapshot
  | ATRSnapshot
  | VWAPSnapshot
  | RollingStdDevSnapshot
  | ReturnsZScoreSnapshot
  | ROCSnapshot;

const restorers = {
  SMA: SMA.restore,
  EMA: EMA.restore,
  WMA: WMA.restore,
  RSI: RSI.restore,
  MACD: MACD.restore,
  BollingerBands: BollingerBands.restore,
  ATR: ATR.restore,
  VWAP: VWAP.restore,
  RollingStdDev: RollingStdDev.restore,
  ReturnsZScore: ReturnsZScore.restore,
  ROC: ROC.restore,
} satisfies Record<IndicatorSnapshot['type'], (snapshot: unknown) => AnyIndicator>;

/** Every snapshot `type` tag restoreIndicator understands. */
export const INDICATOR_TYPES = Object.keys(restorers) as readonly IndicatorSnapshot['type'][];

/** Rebuilds any indicator from its snapshot, dispatching on the snapshot's `type` tag. */
export function restoreIndicator(snapshot: unknown): AnyIndicator {
  if (snapshot === null || typeof snapshot !== 'object' || Array.isArray(snapshot)) {
    throw new IndicatorSnapshotError('indicator', 'snapshot', `must be an object, got ${describe(snapshot)}`);
  }
  const type = (snapshot as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(restorers, type)) {
    throw new IndicatorSnapshotError(
      'indicator',
      'type',
      `must be one of ${INDICATOR_TYPES.join(', ')}, got ${describe(type)}`,
    );
  }
  return restorers[type as IndicatorSnapshot['type']](snapshot);
}
