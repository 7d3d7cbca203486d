import { constants as osConstants } from 'node:os';
import type { MarketEvent } from '../../domain/market/index.ts';
import { encodeMarketEvent } from '../../domain/market/index.ts';
import type { EventPublisher, PublishReport } from '../../ports/event-publisher.ts';

/**
 * The exit code of a command a signal stopped before it was done, as a shell reports it: 128 + the
 * signal's number (SIGINT, Ctrl-C: 130; SIGTERM: 143; SIGHUP: 129; SIGPIPE: 141).
 */
export const interruptedBy = (signal: NodeJS.Signals): number => 128 + osConstants.signals[signal];

/**
 * Numbers the signals a command gets once the first has started its clean stop: 0 for the first and
 * for a repeat within a second of it — one Ctrl-C can arrive twice (the terminal signals the whole
 * process group, and `npm run` forwards what it got to the script) — then 1, 2, … for each later,
 * deliberate repeat.
 */
export function signalRepeats(clock: () => number = Date.now): () => number {
  let firstAt: number | undefined;
  let repeats = 0;
  return () => {
    if (firstAt === undefined) {
      firstAt = clock();
      return 0;
    }
    return clock() - firstAt <= 1000 ? 0 : ++repeats;
  };
}

/** A usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An ISO-8601 date, with a time or not, and the time's zone (`Z` or an offset) if any. */
const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses a date/time option: ISO-8601 (a bare date is 00:00 UTC; a time needs its zone) or epoch
 * ms. `Date.parse` reads a date and time without a zone (`2024-10-02T09:30`), and forms other than
 * ISO (`Oct 2 2024`, `2024/10/02`), in the machine's own zone: the same command would name other
 * minutes on a laptop in New York than on a UTC host, so those are refused rather than guessed at.
 */
export function parseInstant(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const iso = ISO_DATE_TIME.exec(v);
  // A date alone is 00:00 UTC; a time without its zone would be the machine's.
  if (iso && v.length > 10 && iso[1] === undefined)
    throw new UsageError(
      `--${name} "${v}" has no zone: add Z for UTC or the offset (2024-10-02T13:30:00Z, 2024-10-02T09:30-04:00)`,
    );
  const t = /^\d{10,}$/.test(v) ? Number(v) : iso ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t))
    throw new UsageError(
      `--${name} must be an ISO date/time such as 2024-10-02 or 2024-10-02T13:30:00Z, got "${v}"`,
    );
  return t;
}

/**
 * Parses a count option (`--limit N`): a positive whole number in plain decimal digits, as the
 * usage text says — not whatever `Number()` reads (`0x10` as 16, `1e3` as 1000, `5.0` as 5).
 */
export function parsePositiveWhole(name: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive whole number (like 100), got "${v}"`);
  return n;
}

/** Writes events as NDJSON to stdout instead of the stream (`--dry-run`). */
export class StdoutPublisher implements EventPublisher {
  private n = 0;
  readonly pending = 0;

  constructor() {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      // The reader went away (`--dry-run | head`): nothing more can be delivered; end quietly, as
      // Unix tools do, instead of with an unhandled 'error' event's stack trace.
      process.exit(0);
    });
  }

  async publish(e: MarketEvent): Promise<void> {
    this.n++;
    if (!process.stdout.write(`${encodeMarketEvent(e)}\n`)) {
      await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
    }
  }
  async flush(): Promise<PublishReport> {
    const r = { delivered: this.n, failed: [], calls: 0, retries: 0 };
    this.n = 0;
    return r;
  }
}

export function requireStreamName(env: NodeJS.ProcessEnv = process.env): string {
  const s = env.TICKS_STREAM_NAME;
  if (!s) {
    throw new UsageError(
      'TICKS_STREAM_NAME is not set: name the stream to write to (and TICKSTREAM_ENDPOINT_KINESIS for the local cloud), or pass --dry-run to print NDJSON',
    );
  }
  return s;
}
