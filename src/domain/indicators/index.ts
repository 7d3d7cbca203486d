/**
 * Incremental technical indicators: one contract (update / value / isStable / requiredInputs /
 * snapshot / static restore), O(1) per update on typed ring buffers, JSON snapshots.
 */
export { ATR, type ATROptions, type ATRSnapshot } from './atr.ts';
export {
  BollingerBands,
  type BollingerBandsOptions,
  type BollingerBandsSnapshot,
  type BollingerBandsValue,
} from './bollinger.ts';
export type { Deviation, HighLowClose, Indicator, IndicatorSnapshotBase } from './contract.ts';
export { MAX_PERIOD } from './contract.ts';
export { EMA, type EMAOptions, type EMASnapshot } from './ema.ts';
export { IndicatorConfigError, IndicatorInputError, IndicatorSnapshotError } from './errors.ts';
export { MACD, type MACDOptions, type MACDSnapshot, type MACDValue } from './macd.ts';
export { type AnyIndicator, INDICATOR_TYPES, type IndicatorSnapshot, restoreIndicator } from './restore.ts';
export { ROC, type ROCOptions, type ROCSnapshot } from './roc.ts';
export { RSI, type RSIOptions, type RSISnapshot } from './rsi.ts';
export { SMA, type SMAOptions, type SMASnapshot } from './sma.ts';
export { RollingStdDev, type RollingStdDevOptions, type RollingStdDevSnapshot } from './stddev.ts';
export { VWAP, type VWAPInput, type VWAPSnapshot } from './vwap.ts';
export { WMA, type WMAOptions, type WMASnapshot } from './wma.ts';
export { ReturnsZScore, type ReturnsZScoreOptions, type ReturnsZScoreSnapshot } from './zscore.ts';
