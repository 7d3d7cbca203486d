export type { Deviation, HighLowClose, Indicator, IndicatorSnapshotBase } from './contract.ts';
export { MAX_PERIOD } from './contract.ts';
export { EMA, type EMAOptions, type EMASnapshot } from './ema.ts';
export { IndicatorConfigError, IndicatorInputError, IndicatorSnapshotError } from './errors.ts';
export { type AnyIndicator, type IndicatorSnapshot, restoreIndicator } from './restore.ts';
export { SMA, type SMAOptions, type SMASnapshot } from './sma.ts';
