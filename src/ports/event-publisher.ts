import type { MarketEvent } from '../domain/market/index.ts';

/** An event that could not be delivered after the publisher's bounded retries, with the reason. */
export interface FailedEvent {
  readonly event: MarketEvent;
  readonly reason: string;
  readonly attempts: number;
}

export interface PublishReport {
  /** Events acknowledged by the stream (since the previous flush). */
  readonly delivered: number;
  /** Events given up on (bounded retries exhausted, too large, rejected): never dropped silently. */
  readonly failed: readonly FailedEvent[];
  /** Write calls made (e.g. PutRecords requests). */
  readonly calls: number;
  /** Entries resent after a partial or whole-call failure. */
  readonly retries: number;
}

/**
 * Writes market events to the stream, preserving each symbol's order. `publish` resolves once the
 * event is buffered; it waits while the bounded buffer is full (back-pressure on the source).
 * `flush` resolves when everything buffered has been delivered or given up on, and reports what
 * happened since the previous flush.
 */
export interface EventPublisher {
  publish(event: MarketEvent): Promise<void>;
  flush(): Promise<PublishReport>;
  /** Events buffered and not yet delivered or failed. */
  readonly pending: number;
}
