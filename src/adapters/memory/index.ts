/**
 * In-memory implementations of every stream-processor port, with the AWS adapters' semantics
 * (conditional state save, idempotent keyed upserts, forward-only LATEST, claim/confirm/release,
 * deterministic lake keys) and fault injection (`adapter.faults.failNext(...)`). For pipeline unit
 * tests and the throughput bench.
 */
import { MemoryAlertLedger, MemoryAlertNotifier } from './alerts.ts';
import { MemoryLakeWriter } from './lake-writer.ts';
import { MemoryMetricsStore } from './metrics-store.ts';
import { MemoryRejectedRecordSink } from './rejected-record-sink.ts';
import { MemoryStateStore } from './state-store.ts';
import { MemoryTimeseriesSink } from './timeseries-sink.ts';

export { Faults, type FaultTiming } from './faults.ts';
export type { MemoryLakeObject } from './lake-writer.ts';
export {
  MemoryAlertLedger,
  MemoryAlertNotifier,
  MemoryLakeWriter,
  MemoryMetricsStore,
  MemoryRejectedRecordSink,
  MemoryStateStore,
  MemoryTimeseriesSink,
};

export interface MemorySinks {
  readonly state: MemoryStateStore;
  readonly metrics: MemoryMetricsStore;
  readonly lake: MemoryLakeWriter;
  readonly timeseries: MemoryTimeseriesSink;
  readonly ledger: MemoryAlertLedger;
  readonly notifier: MemoryAlertNotifier;
  readonly rejects: MemoryRejectedRecordSink;
}

/** A fresh set of every in-memory sink. `encodeLake` builds real gzip NDJSON bodies (bench realism). */
export function createMemorySinks(options: { encodeLake?: boolean; now?: () => number } = {}): MemorySinks {
  return {
    state: new MemoryStateStore(),
    metrics: new MemoryMetricsStore(),
    lake: new MemoryLakeWriter({ encode: options.encodeLake ?? false }),
    timeseries: new MemoryTimeseriesSink(),
    ledger: new MemoryAlertLedger(options.now ? { now: options.now } : {}),
    notifier: new MemoryAlertNotifier(),
    rejects: new MemoryRejectedRecordSink(),
  };
}
