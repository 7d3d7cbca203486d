/**
 * Flat views of metrics for stores with one column per measure (DynamoDB attributes, Parquet
 * columns): the row's OHLCV, session, change metrics and indicator columns in one record.
 */
import type { MetricsRow, QuoteMetrics } from './symbol-analytics.ts';

export type FlatValue = number | string | null;

/**
 * `{ open, high, low, close, volume, session, tradingDay, previousClose, change, changePct,
 * previousBarClose, barChange, barChangePct, anomalies, <indicator columns…> }`. `anomalies` is the
 * number of anomalies of the bar. Indicator names never collide with these (they are validated
 * camelCase names; a collision is resolved in favour of the fixed columns).
 */
export function flattenMetricsRow(row: MetricsRow): Record<string, FlatValue> {
  const out: Record<string, FlatValue> = { ...row.indicators };
  out.open = row.open;
  out.high = row.high;
  out.low = row.low;
  out.close = row.close;
  out.volume = row.volume;
  out.session = row.session;
  out.tradingDay = row.tradingDay;
  out.previousClose = row.change.previousClose;
  out.change = row.change.change;
  out.changePct = row.change.changePct;
  out.previousBarClose = row.change.previousBarClose;
  out.barChange = row.change.barChange;
  out.barChangePct = row.change.barChangePct;
  out.anomalies = row.anomalies.length;
  return out;
}

/** `{ price, session, tradingDay, previousClose, change, changePct, previousBarClose, barChange, barChangePct }`. */
export function flattenQuoteMetrics(q: QuoteMetrics): Record<string, FlatValue> {
  return {
    price: q.price,
    session: q.session,
    tradingDay: q.tradingDay,
    previousClose: q.change.previousClose,
    change: q.change.change,
    changePct: q.change.changePct,
    previousBarClose: q.change.previousBarClose,
    barChange: q.change.barChange,
    barChangePct: q.change.barChangePct,
  };
}
