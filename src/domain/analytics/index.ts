export * from './anomalies.ts';
export * from './change.ts';
export * from './config.ts';
export * from './symbol-analytics.ts';
