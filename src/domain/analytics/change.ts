/** Change metrics: against the previous close and against the previous bar. */

export interface ChangeMetrics {
  /** The previous trading day's close (regular session), or null when unknown. */
  readonly previousClose: number | null;
  /** price − previousClose. */
  readonly change: number | null;
  /** 100 × change / previousClose (percent, as Yahoo's regularMarketChangePercent). */
  readonly changePct: number | null;
  /** Close of the previous bar of this symbol (any session, any day), or null for the first bar. */
  readonly previousBarClose: number | null;
  readonly barChange: number | null;
  readonly barChangePct: number | null;
}

/** Change of `price` against a previous close and a previous bar close (either may be unknown). */
export function changeMetrics(
  price: number,
  previousClose: number | null,
  previousBarClose: number | null,
): ChangeMetrics {
  const change = previousClose === null ? null : price - previousClose;
  const barChange = previousBarClose === null ? null : price - previousBarClose;
  return {
    previousClose,
    change,
    changePct: change === null ? null : (change / (previousClose as number)) * 100,
    previousBarClose,
    barChange,
    barChangePct: barChange === null ? null : (barChange / (previousBarClose as number)) * 100,
  };
}
