export * from './anomalies.ts';
export * from './change.ts';
export * from './config.ts';
export * from './flatten.ts';
export * from './symbol-analytics.ts';
