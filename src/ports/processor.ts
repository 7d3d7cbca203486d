/**
 * The ports the stream processor needs. The pipeline (src/pipeline/process) orchestrates them;
 * adapters in src/adapters/aws (and in-memory ones for the bench) implement them.
 */

/** One Kinesis record as the pipeline takes it (from a Lambda event, or read back from the stream). */
export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** Base64 payload, as Lambda delivers it. */
  readonly data: string;
  /** Approximate arrival time on the stream (epoch ms). */
  readonly arrivalTime: number;
}

/** A scalar a metrics row may hold: numbers for measures, strings for labels, null when not yet defined. */
export type MetricValue = number | string | boolean | null;

/** One computed metrics row, keyed by (symbol, event time). */
export interface MetricRow {
  readonly symbol: string;
  /** Event time in epoch ms: a bar's start or a tick's exchange time. */
  readonly time: number;
  readonly kind: 'bar' | 'tick';
  /** Flat measures (price, change %, indicator values…) and labels (session, source). */
  readonly values: Readonly<Record<string, MetricValue>>;
}

/** Per-symbol processing state, persisted between invocations. */
export interface SymbolStateRecord {
  readonly symbol: string;
  /** Kinesis sequence number (decimal string) of the last record applied. */
  readonly lastSequenceNumber: string;
  /** Event time (epoch ms) of the last event applied; older or equal events are duplicates or late. */
  readonly lastEventTime: number;
  /**
   * The pipeline's snapshot of the symbol, opaque to the store: bytes (the pipeline's encoded
   * snapshot, stored as a binary attribute) or, as earlier releases wrote it, a plain JSON document.
   */
  readonly snapshot: unknown;
}

export type StateSaveOutcome = 'saved' | 'conflict';

/**
 * A stored state item that is not one this release can read (a required attribute missing or of
 * the wrong type). Its symbol cannot be processed until the item is repaired; the others can.
 */
export class InvalidStoredStateError extends Error {
  constructor(symbol: string, reason: string) {
    super(`stored state of ${symbol} is invalid: ${reason}`);
    this.name = 'InvalidStoredStateError';
  }
}

export interface SymbolStateStore {
  /**
   * Loads the states of many symbols in one round trip (per 100 keys). Missing symbols are absent;
   * an item that cannot be read is returned as its InvalidStoredStateError, so it fails only its
   * own symbol. Throws only when the round trip itself fails.
   */
  loadMany(symbols: readonly string[]): Promise<Map<string, SymbolStateRecord | InvalidStoredStateError>>;
  /**
   * Saves a state only if the stored one still has `expectedLastSequenceNumber` (undefined: no state
   * stored yet). Returns 'conflict' when another writer advanced it first.
   */
  save(state: SymbolStateRecord, expectedLastSequenceNumber: string | undefined): Promise<StateSaveOutcome>;
}

export interface MetricsStore {
  /**
   * Idempotent upserts of rows keyed by (symbol, kind, time), and each symbol's LATEST item.
   * With `latest`, those rows become their symbols' LATEST items, written with the rows and without a
   * condition: the caller knows each is newer than the stored one (the pipeline does, from a symbol's
   * state). Without it, each symbol's newest row is put with a condition that it is newer.
   * Throws RowsNotWrittenError when only some symbols' items could not be written.
   */
  write(rows: readonly MetricRow[], latest?: readonly MetricRow[]): Promise<void>;
}

/**
 * Thrown by a MetricsStore when these symbols' items were not all written (throttled past the
 * retries: a hot partition, say); every other symbol's items were.
 */
export class RowsNotWrittenError extends Error {
  readonly symbols: readonly string[];
  constructor(message: string, symbols: readonly string[]) {
    super(message);
    this.name = 'RowsNotWrittenError';
    this.symbols = symbols;
  }
}

/** One accepted stream record as stored in the raw zone of the lake. */
export interface LakeRecord {
  readonly symbol: string;
  readonly time: number;
  readonly kind: 'bar' | 'tick';
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Approximate arrival time on the stream (epoch ms). */
  readonly arrivalTime: number;
  /** The validated market event's data. */
  readonly event: unknown;
}

export interface LakeBatch {
  readonly shardId: string;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly records: readonly LakeRecord[];
}

export interface LakeWriter {
  /** Writes one compressed object per (batch, shard, event day); returns the object keys. */
  writeBatch(batch: LakeBatch): Promise<readonly string[]>;
}

export interface TimeseriesSink {
  /** Throws TimeseriesRowsRejectedError when the service refused some rows for good. */
  write(rows: readonly MetricRow[]): Promise<void>;
}

/** A row the time-series store refused, and why. */
export interface TimeseriesRejection {
  readonly symbol: string;
  readonly kind: 'bar' | 'tick';
  readonly time: number;
  readonly reason: string;
}

/**
 * Thrown by a TimeseriesSink when the service refused these rows for good (outside its ingestion
 * window, beyond a limit): writing them again would be refused again. Every other row was stored.
 */
export class TimeseriesRowsRejectedError extends Error {
  readonly rejections: readonly TimeseriesRejection[];
  constructor(message: string, rejections: readonly TimeseriesRejection[]) {
    super(message);
    this.name = 'TimeseriesRowsRejectedError';
    this.rejections = rejections;
  }
}

export interface Alert {
  /** Idempotency key: `${symbol}#${kind}#${barStart}`; the same condition never alerts twice. */
  readonly id: string;
  readonly symbol: string;
  readonly kind: string;
  readonly severity: string;
  /** Event time the alert refers to (epoch ms). */
  readonly at: number;
  readonly value: number;
  readonly threshold: number;
  readonly message: string;
}

export type AlertClaim = 'claimed' | 'already-claimed';

/** Remembers which alerts were sent, so a retry or a replay never sends one twice. */
export interface AlertLedger {
  /**
   * Claims the alert's key with `token` (unique to this claim) unless it is already claimed; a key
   * still claimed, unpublished, with this same token is this claim (a retried call) and is 'claimed'.
   */
  claim(alert: Alert, token: string): Promise<AlertClaim>;
  confirm(alert: Alert, messageId: string): Promise<void>;
  /**
   * Gives back the claim `token` made, if it is still unpublished (and if it was made at all: a
   * claim whose reply was lost), so the retry sends the alert. Any other claim stays.
   */
  release(alert: Alert, token: string): Promise<void>;
}

/**
 * Thrown by an AlertNotifier when the alert was certainly NOT published (the service answered with
 * an error, or the request was refused before sending). Any other error leaves the outcome unknown.
 */
export class AlertNotPublishedError extends Error {
  constructor(alertId: string, reason: string, options?: { cause?: unknown }) {
    super(`alert ${alertId} was not published: ${reason}`, options);
    this.name = 'AlertNotPublishedError';
  }
}

export interface AlertNotifier {
  /**
   * Publishes one alert (with attributes for subscription filter policies); returns the message id.
   * Throws AlertNotPublishedError when nothing was sent.
   */
  publish(alert: Alert): Promise<string>;
}

/** A stream record that can never be processed, with the reason. */
export interface RejectedRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** The record's payload as received (base64). */
  readonly data: string;
  readonly reason: string;
}

export interface RejectedRecordSink {
  send(records: readonly RejectedRecord[]): Promise<void>;
}
