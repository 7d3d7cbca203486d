import { randomUUID } from 'node:crypto';
import { eventTime, type MarketEvent } from '../../domain/market/index.ts';
import {
  type Alert,
  type AlertLedger,
  type AlertNotifier,
  AlertNotPublishedError,
  InvalidStoredStateError,
  type LakeWriter,
  type MetricRow,
  type MetricsStore,
  type RejectedRecord,
  type RejectedRecordSink,
  RowsNotWrittenError,
  type StreamRecord,
  type SymbolStateRecord,
  type SymbolStateStore,
  TimeseriesRowsRejectedError,
  type TimeseriesSink,
} from '../../ports/processor.ts';
import type { DetectedAnomaly, SymbolEngine, SymbolEngineFactory } from './engine.ts';
import type { EventLog } from './event-log.ts';
import { compareSequenceNumbers, isAfter } from './sequence.ts';
import {
  nextStoredState,
  readStoredState,
  restoreEngine,
  type StateParts,
  type Watermarks,
} from './stored-state.ts';
import { decodeStreamRecord, lakeRecordOf } from './stream-records.ts';

/** One record of a Kinesis batch, as the handler hands it over. */
export type { StreamRecord } from '../../ports/processor.ts';

export type SinkName = 'metrics' | 'lake' | 'timeseries' | 'alerts' | 'state' | 'rejects';

export interface ProcessLog {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export interface ProcessDeps {
  readonly engines: SymbolEngineFactory;
  readonly state: SymbolStateStore;
  readonly metrics: MetricsStore;
  readonly lake: LakeWriter;
  /** Only when the Timestream sink is enabled. */
  readonly timeseries?: TimeseriesSink;
  readonly ledger: AlertLedger;
  readonly notifier: AlertNotifier;
  readonly rejects: RejectedRecordSink;
  readonly clock: () => number;
  readonly log: ProcessLog;
  /** Engines kept warm between invocations of one container (skips restoring unchanged state). */
  readonly engineCache?: EngineCache;
  /** Wraps each sink call (tracing subsegments, latency metrics); identity by default. */
  readonly around?: <T>(sink: SinkName, work: () => Promise<T>) => Promise<T>;
}

export interface BatchReport {
  /** Sequence numbers to report as `batchItemFailures` (each symbol's first unprocessed record). */
  readonly failures: readonly string[];
  readonly received: number;
  readonly processed: number;
  /** Events skipped because their symbol's state already covers them (retries, replays). */
  readonly duplicates: number;
  /**
   * Of those, the events with a new sequence number but an event time at or behind the symbol's
   * watermark (less the tick reorder window): a replayed file, or an event later than the window.
   */
  readonly behindWatermark: number;
  readonly rejected: readonly RejectedRecord[];
  readonly rows: number;
  readonly lakeObjects: readonly string[];
  readonly anomalies: readonly DetectedAnomaly[];
  readonly alertsPublished: number;
  readonly alertsSuppressed: number;
  readonly stateConflicts: number;
  /** Rows the time-series store refused for good (reported, not retried: the table holds them). */
  readonly timeseriesRejected: number;
  /** now − event time of the newest event of the batch (ms), the pipeline's lag behind the market. */
  readonly maxLagMs: number | undefined;
  /** The newest row per symbol of this batch, for dashboards. */
  readonly latest: ReadonlyMap<string, MetricRow>;
}

interface Decoded {
  readonly record: StreamRecord;
  readonly event: MarketEvent;
}

interface SymbolWork {
  readonly symbol: string;
  readonly records: Decoded[];
  readonly previous: SymbolStateRecord | undefined;
  readonly watermarks: Watermarks;
  /** Time of the stored LATEST row (undefined: none yet), then of the one this batch writes. */
  latestRowTime: number | undefined;
  readonly rows: MetricRow[];
  readonly anomalies: DetectedAnomaly[];
  readonly accepted: Decoded[];
  /** First record not (durably) processed: failures restart here. */
  failedAt: string | undefined;
  engine: SymbolEngine | undefined;
  applied: Decoded | undefined;
  /** Every event handed to the engine this batch, in order: they join the stored state's log. */
  readonly appliedEvents: MarketEvent[];
  /** The stored state's base and log (undefined: none yet, or a version-1 state). */
  base: Uint8Array | undefined;
  log: EventLog | undefined;
  /** Some of its records were valid but unusable (rejected by the engine): they go to the DLQ. */
  unusable: boolean;
  /** Events skipped for an event time at or behind the watermark (see BatchReport.behindWatermark). */
  behindWatermark: number;
}

const direct = <T>(_sink: SinkName, work: () => Promise<T>) => work();

/** Symbols whose alerts or state are written side by side. */
const SINK_CONCURRENCY = 16;

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * Keeps each symbol's engine in memory after its state was saved, tagged with the saved sequence
 * number. The next batch takes it back (skipping the restore) only if the stored state is still that
 * one; an engine taken out and not saved again (the symbol failed) is simply dropped.
 */
/** An engine with the per-kind watermarks and the LATEST row's time saved beside it. */
export interface WarmEngine {
  readonly engine: SymbolEngine;
  readonly watermarks: Watermarks;
  readonly latestRowTime: number | undefined;
  /** The saved state's base and log, to append the next batch's events to. */
  readonly base: Uint8Array;
  readonly log: EventLog;
}

export class EngineCache {
  readonly #entries = new Map<string, { readonly sequenceNumber: string; readonly warm: WarmEngine }>();
  readonly #max: number;

  constructor(maxSymbols = 10_000) {
    this.#max = maxSymbols;
  }

  take(symbol: string, storedSequenceNumber: string): WarmEngine | undefined {
    const hit = this.#entries.get(symbol);
    this.#entries.delete(symbol);
    return hit?.sequenceNumber === storedSequenceNumber ? hit.warm : undefined;
  }

  keep(symbol: string, sequenceNumber: string, warm: WarmEngine): void {
    if (this.#entries.size >= this.#max && !this.#entries.has(symbol)) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(symbol, { sequenceNumber, warm });
  }
}

function alertFor(a: DetectedAnomaly): Alert {
  return {
    id: `${a.symbol}#${a.kind}#${a.at}`,
    symbol: a.symbol,
    kind: a.kind,
    severity: a.severity,
    at: a.at,
    value: a.value,
    threshold: a.threshold,
    message: a.message,
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Processes one ordered Kinesis batch (one shard): decode and validate → group by symbol → load
 * every symbol's state in one round trip → apply the metrics engine in sequence order → write the
 * sinks → advance each symbol's state with a condition on its last sequence number.
 *
 * Effects are idempotent so a retry or replay changes nothing twice: rows are upserts keyed by
 * (symbol, event time), lake objects have deterministic keys, alerts pass an idempotency ledger,
 * and events already covered by the stored state are skipped. A record that can never be processed
 * goes to the rejected-record sink with its reason; a symbol whose writes fail is reported from its
 * first unprocessed record on, and the other symbols succeed.
 */
export async function processBatch(
  records: readonly StreamRecord[],
  deps: ProcessDeps,
): Promise<BatchReport> {
  const around = deps.around ?? direct;
  const now = deps.clock();
  const rejected: RejectedRecord[] = [];
  const bySymbol = new Map<string, Decoded[]>();

  for (const record of records) {
    const reason = decodeInto(record, now, bySymbol);
    if (reason !== undefined) {
      rejected.push({
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        partitionKey: record.partitionKey,
        data: record.data,
        reason,
      });
    }
  }

  const failures = new Set<string>();
  let duplicates = 0;
  let stateConflicts = 0;
  let timeseriesRejected = 0;

  // Load every symbol's state in one round trip; if that fails nothing of the batch can proceed.
  const symbols = [...bySymbol.keys()];
  let states: Map<string, SymbolStateRecord | InvalidStoredStateError>;
  try {
    states = symbols.length > 0 ? await around('state', () => deps.state.loadMany(symbols)) : new Map();
  } catch (err) {
    deps.log.error('loading symbol state failed; the whole batch will be retried', { error: describe(err) });
    const first = records[0];
    return emptyReport(records.length, first ? [first.sequenceNumber] : []);
  }

  const work: SymbolWork[] = [];
  for (const [symbol, decoded] of bySymbol) {
    decoded.sort((a, b) => compareSequenceNumbers(a.record.sequenceNumber, b.record.sequenceNumber));
    const stored = states.get(symbol);
    const invalid = stored instanceof InvalidStoredStateError;
    const w: SymbolWork = {
      symbol,
      records: decoded,
      previous: invalid ? undefined : stored,
      watermarks: {},
      latestRowTime: undefined,
      rows: [],
      anomalies: [],
      accepted: [],
      failedAt: undefined,
      engine: undefined,
      applied: undefined,
      appliedEvents: [],
      base: undefined,
      log: undefined,
      unusable: false,
      behindWatermark: 0,
    };
    work.push(w);
    if (invalid) {
      // Not the records' fault: nothing of the symbol is processed, and it is retried (and in the
      // end sent to the onFailure destination) until its item is repaired. The others go on.
      w.failedAt = decoded[0]!.record.sequenceNumber;
      deps.log.error('stored state cannot be read; the symbol will be retried', {
        symbol,
        from: w.failedAt,
        error: stored.message,
      });
      continue;
    }
    duplicates += applyEvents(w, deps, rejected);
  }

  // Rejected records go to the dead-letter queue first; if that fails they are retried, never lost.
  // A symbol's state must then not move past its unusable records either: the retry would take
  // them as already processed.
  if (rejected.length > 0) {
    try {
      await around('rejects', () => deps.rejects.send(rejected));
      for (const r of rejected) deps.log.warn('record rejected', { ...r, data: undefined });
    } catch (err) {
      deps.log.error('sending rejected records to the dead-letter queue failed', { error: describe(err) });
      for (const r of rejected) failures.add(r.sequenceNumber);
      for (const w of work) if (w.unusable) w.failedAt ??= firstUnprocessed(w);
    }
  }

  const healthy = () => work.filter((w) => w.failedAt === undefined && w.applied !== undefined);
  const failSymbols = (sink: SinkName, affected: readonly SymbolWork[], err: unknown) => {
    for (const w of affected) w.failedAt ??= firstUnprocessed(w);
    // Each symbol with the record it is retried from: `batchItemFailures` and the batch line list
    // those sequence numbers without their symbols.
    deps.log.error(`${sink} write failed`, {
      error: describe(err),
      symbols: affected.map((w) => w.symbol),
      from: Object.fromEntries(affected.map((w) => [w.symbol, w.failedAt])),
    });
  };

  const rowsOf = (ws: readonly SymbolWork[]) => ws.flatMap((w) => w.rows);
  // Each symbol's LATEST item moves to its newest row only when that is newer than the stored one:
  // the state says when, so the item goes out with the rows instead of as a conditional put.
  const latestOf = (ws: readonly SymbolWork[]) => {
    const out: MetricRow[] = [];
    for (const w of ws) {
      let newest: MetricRow | undefined;
      for (const row of w.rows) if (!newest || row.time >= newest.time) newest = row;
      if (newest && (w.latestRowTime === undefined || newest.time > w.latestRowTime)) {
        out.push(newest);
        w.latestRowTime = newest.time;
      }
    }
    return out;
  };

  // The row store, the lake and the time series are independent and idempotent: write them at once.
  const lakeObjects: string[] = [];
  const batchWork = healthy();
  const lakeRecords = batchWork.flatMap((w) => w.accepted.map((d) => lakeRecordOf(d.record, d.event)));
  lakeRecords.sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
  const latestRows = latestOf(batchWork);
  const timeseries = deps.timeseries;
  const sinks = Promise.all([
    batchWork.length > 0 &&
      around('metrics', () => deps.metrics.write(rowsOf(batchWork), latestRows)).catch((err: unknown) => {
        // Throttled past the retries on some symbols' items (a hot partition): only those fail.
        const unwritten = err instanceof RowsNotWrittenError ? new Set(err.symbols) : undefined;
        failSymbols('metrics', unwritten ? batchWork.filter((w) => unwritten.has(w.symbol)) : batchWork, err);
      }),
    timeseries &&
      batchWork.length > 0 &&
      around('timeseries', () => timeseries.write(rowsOf(batchWork))).catch((err: unknown) => {
        if (!(err instanceof TimeseriesRowsRejectedError)) return failSymbols('timeseries', batchWork, err);
        // A refusal for good (outside the store's ingestion window, a limit) would be refused on every
        // retry and hold the shard: it fails no symbol, and is reported instead.
        timeseriesRejected += err.rejections.length;
        deps.log.error('time-series rows refused; not retried (the table holds them)', {
          count: err.rejections.length,
          first: err.rejections.slice(0, 5),
        });
      }),
    // The lake last, once the other requests have left: its gzip runs on this thread (see
    // encodeLakeObject) and would otherwise hold them back.
    lakeRecords.length > 0 &&
      yieldToIo()
        .then(() =>
          around('lake', () =>
            deps.lake.writeBatch({
              shardId: lakeRecords[0]!.shardId,
              firstSequenceNumber: lakeRecords[0]!.sequenceNumber,
              lastSequenceNumber: lakeRecords[lakeRecords.length - 1]!.sequenceNumber,
              records: lakeRecords,
            }),
          ),
        )
        .then(
          (keys) => lakeObjects.push(...keys),
          (err: unknown) => failSymbols('lake', batchWork, err),
        ),
  ]);
  // Encode each symbol's next state while those requests are out (the engines no longer change):
  // first let the sinks' requests leave, then spend the wait on CPU work the state save needs anyway.
  await yieldToIo();
  const nextStates = new Map<
    SymbolWork,
    { readonly record: SymbolStateRecord; readonly parts: StateParts }
  >();
  for (const w of batchWork) {
    try {
      nextStates.set(w, nextStateOf(w));
    } catch (err) {
      failSymbols('state', [w], err);
    }
  }
  await sinks;

  // Alerts: in order within a symbol, symbols side by side.
  let alertsPublished = 0;
  let alertsSuppressed = 0;
  await forEachLimited(healthy(), SINK_CONCURRENCY, async (w) => {
    for (const anomaly of w.anomalies) {
      try {
        const outcome = await around('alerts', () => publishOnce(alertFor(anomaly), deps));
        if (outcome === 'published') alertsPublished++;
        else alertsSuppressed++;
      } catch (err) {
        failSymbols('alerts', [w], err);
        return;
      }
    }
  });

  // Advance each symbol's state last: until then a retry recomputes the same effects.
  await forEachLimited(healthy(), SINK_CONCURRENCY, async (w) => {
    const { record: next, parts } = nextStates.get(w)!;
    const engine = w.engine!;
    try {
      const outcome = await around('state', () => deps.state.save(next, w.previous?.lastSequenceNumber));
      if (outcome === 'conflict') {
        // Another writer advanced the state after this batch loaded it, so this batch's effects
        // were computed from a state that is no longer the symbol's: retry the symbol from its
        // first unprocessed record. The retry loads the new state, skips what it covers and
        // rewrites the rest (rows are upserts, alerts pass the ledger).
        stateConflicts++;
        w.failedAt ??= firstUnprocessed(w);
        deps.log.error('symbol state was advanced by another writer; the symbol will be retried', {
          symbol: w.symbol,
          expected: w.previous?.lastSequenceNumber,
          from: w.failedAt,
        });
      } else {
        deps.engineCache?.keep(w.symbol, next.lastSequenceNumber, {
          engine,
          watermarks: { ...w.watermarks },
          latestRowTime: w.latestRowTime,
          base: parts.base,
          log: parts.log,
        });
      }
    } catch (err) {
      failSymbols('state', [w], err);
    }
  });

  for (const w of work) if (w.failedAt !== undefined) failures.add(w.failedAt);

  const ok = work.filter((w) => w.failedAt === undefined);
  const latest = new Map<string, MetricRow>();
  let newest: number | undefined;
  for (const w of ok) {
    const last = w.rows[w.rows.length - 1];
    if (last) latest.set(w.symbol, last);
    for (const d of w.accepted) newest = Math.max(newest ?? 0, eventTime(d.event));
  }

  return {
    failures: [...failures].sort(compareSequenceNumbers),
    received: records.length,
    processed: ok.reduce((n, w) => n + w.accepted.length, 0),
    duplicates,
    behindWatermark: work.reduce((n, w) => n + w.behindWatermark, 0),
    rejected,
    rows: ok.reduce((n, w) => n + w.rows.length, 0),
    lakeObjects,
    anomalies: ok.flatMap((w) => w.anomalies),
    alertsPublished,
    alertsSuppressed,
    stateConflicts,
    timeseriesRejected,
    maxLagMs: newest === undefined ? undefined : now - newest,
    latest,
  };
}

function decodeInto(record: StreamRecord, now: number, bySymbol: Map<string, Decoded[]>): string | undefined {
  const event = decodeStreamRecord(record, now);
  if (typeof event === 'string') return event;
  // decodeStreamRecord accepts an event only when its symbol is the record's partition key.
  const symbol = record.partitionKey;
  let group = bySymbol.get(symbol);
  if (!group) {
    group = [];
    bySymbol.set(symbol, group);
  }
  group.push({ record, event });
  return undefined;
}

/** Applies a symbol's new events in sequence order; returns how many were duplicates. */
function applyEvents(w: SymbolWork, deps: ProcessDeps, rejected: RejectedRecord[]): number {
  let duplicates = 0;
  let behind:
    | { kind: string; firstSequenceNumber: string; firstEventTime: number; watermark: number }
    | undefined;
  const skipBehind = (d: Decoded, watermark: number) => {
    duplicates++;
    w.behindWatermark++;
    behind ??= {
      kind: d.event.kind,
      firstSequenceNumber: d.record.sequenceNumber,
      firstEventTime: eventTime(d.event),
      watermark,
    };
  };
  const unusable: RejectedRecord[] = [];
  // A warm engine whose saved state is the stored one spares parsing and restoring the snapshot.
  const warm = w.previous ? deps.engineCache?.take(w.symbol, w.previous.lastSequenceNumber) : undefined;
  try {
    const stored = warm || !w.previous ? undefined : readStoredState(w.previous);
    Object.assign(w.watermarks, warm ? warm.watermarks : stored?.watermarks);
    w.latestRowTime = warm ? warm.latestRowTime : stored?.latestRowTime;
    w.base = warm ? warm.base : stored?.base;
    w.log = warm ? warm.log : stored?.log;
    for (const d of w.records) {
      const seq = d.record.sequenceNumber;
      const time = eventTime(d.event);
      const watermark = w.watermarks[d.event.kind];
      // Covered by the stored state: a retried record (sequence), or a replayed event (event time;
      // ticks a little out of order inside the bar grace window are still folded in, idempotently).
      const tolerance = d.event.kind === 'tick' ? deps.engines.tickReorderWindowMs : 0;
      if (!isAfter(seq, w.previous?.lastSequenceNumber)) {
        duplicates++;
        continue;
      }
      if (watermark !== undefined && time <= watermark - tolerance) {
        skipBehind(d, watermark);
        continue;
      }
      w.engine ??=
        warm?.engine ??
        (stored ? restoreEngine(w.symbol, stored, deps.engines) : deps.engines.create(w.symbol));
      const step = w.engine.apply(d.event);
      w.applied = d;
      w.appliedEvents.push(d.event);
      w.rows.push(...step.rows);
      w.anomalies.push(...step.anomalies);
      if (step.rejected !== undefined) {
        // A refused event moves no watermark: the symbol's later events are judged as if it never came.
        if (watermark !== undefined && time <= watermark) {
          // Refused at or behind the watermark (a tick whose bar has closed): a replay of one folded in
          // before, or as late as one; either way the stored state covers its time, as above.
          skipBehind(d, watermark);
          continue;
        }
        unusable.push({
          shardId: d.record.shardId,
          sequenceNumber: seq,
          partitionKey: d.record.partitionKey,
          data: d.record.data,
          reason: step.rejected,
        });
        continue;
      }
      w.watermarks[d.event.kind] = Math.max(time, watermark ?? time);
      // A bar whose minute the symbol already has (built from quotes, say): no row, no lake line.
      if (step.covered !== undefined) {
        duplicates++;
        continue;
      }
      w.accepted.push(d);
    }
    if (behind) {
      // Not an error (a replay is meant to end here), but never silent: one line per symbol and batch.
      deps.log.info(
        'events at or behind the watermark skipped (a replay, or later than the reorder window)',
        {
          symbol: w.symbol,
          count: w.behindWatermark,
          ...behind,
        },
      );
    }
    rejected.push(...unusable);
    w.unusable = unusable.length > 0;
    // Nothing new for this symbol: its warm engine is still the stored state.
    if (warm && w.engine === undefined)
      deps.engineCache?.keep(w.symbol, w.previous!.lastSequenceNumber, warm);
  } catch (err) {
    // Not bad input (that was rejected above) but a fault: nothing of this symbol is kept, and the
    // symbol is retried from its first unprocessed record; bisection isolates a poison record.
    w.failedAt = firstUnprocessed(w);
    deps.log.error('applying events failed; the symbol will be retried', {
      symbol: w.symbol,
      from: w.failedAt,
      error: describe(err),
    });
  }
  return duplicates;
}

/** The state a symbol advances to once its effects are written: its engine after this batch. */
function nextStateOf(w: SymbolWork): { readonly record: SymbolStateRecord; readonly parts: StateParts } {
  const engine = w.engine!;
  const { bytes, parts } = nextStoredState(w.symbol, w, w.appliedEvents, w.watermarks, w.latestRowTime, () =>
    engine.snapshot(),
  );
  return {
    record: {
      symbol: w.symbol,
      lastSequenceNumber: w.applied!.record.sequenceNumber,
      lastEventTime: Math.max(...Object.values(w.watermarks), w.previous?.lastEventTime ?? 0),
      snapshot: bytes,
    },
    parts,
  };
}

/** Resolves after pending I/O callbacks have run: requests just started are on their way. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function firstUnprocessed(w: SymbolWork): string {
  const previous = w.previous?.lastSequenceNumber;
  const first = w.records.find((d) => isAfter(d.record.sequenceNumber, previous));
  return (first ?? w.records[0]!).record.sequenceNumber;
}

/**
 * Claim → publish → confirm. A claimed alert is never published again: a crash after the publish
 * cannot send it twice. Only when nothing was sent — the claim itself failed (it may have been
 * stored, its reply lost), or the notifier says so — is the claim given back, so the retry sends it;
 * when the outcome is unknown (a crash or a timeout between claim and confirm) the alert stays
 * claimed — at most once, never twice — and is logged for the operator.
 */
async function publishOnce(alert: Alert, deps: ProcessDeps): Promise<'published' | 'duplicate'> {
  const token = randomUUID();
  let claim: Awaited<ReturnType<AlertLedger['claim']>>;
  try {
    claim = await deps.ledger.claim(alert, token);
  } catch (err) {
    await giveBack(alert, token, deps);
    throw err;
  }
  if (claim === 'already-claimed') return 'duplicate';
  let messageId: string;
  try {
    messageId = await deps.notifier.publish(alert);
  } catch (err) {
    if (err instanceof AlertNotPublishedError) {
      await giveBack(alert, token, deps);
    } else {
      deps.log.error('alert outcome unknown: it stays claimed and will not be sent again', {
        alertId: alert.id,
        error: describe(err),
      });
    }
    throw err;
  }
  await deps.ledger.confirm(alert, messageId);
  return 'published';
}

/** Releases an unpublished claim; if the ledger fails, the alert stays claimed, and that is said. */
async function giveBack(alert: Alert, token: string, deps: ProcessDeps): Promise<void> {
  try {
    await deps.ledger.release(alert, token);
  } catch (err) {
    deps.log.error('alert not published and its claim not given back: it will not be sent', {
      alertId: alert.id,
      error: describe(err),
    });
  }
}

function emptyReport(received: number, failures: string[]): BatchReport {
  return {
    failures,
    received,
    processed: 0,
    duplicates: 0,
    behindWatermark: 0,
    rejected: [],
    rows: 0,
    lakeObjects: [],
    anomalies: [],
    alertsPublished: 0,
    alertsSuppressed: 0,
    stateConflicts: 0,
    timeseriesRejected: 0,
    maxLagMs: undefined,
    latest: new Map(),
  };
}
