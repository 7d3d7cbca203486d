export * from './bar.ts';
export * from './event.ts';
export * from './symbol.ts';
export * from './tick.ts';
export * from './validation.ts';
