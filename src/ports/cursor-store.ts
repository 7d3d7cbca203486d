/**
 * Per-symbol progress of a bar feed, so that each bar is sent once across invocations.
 * The cursor is the start (epoch ms) of the last bar delivered to the stream.
 */
export interface CursorStore {
  get(symbol: string, feed: CursorFeed): Promise<number | undefined>;
  /** Moves the cursor forward to `lastBarStart`; never moves it back (a stale writer changes nothing). */
  advance(symbol: string, feed: CursorFeed, lastBarStart: number): Promise<void>;
}

export type CursorFeed = 'bars-1m';
