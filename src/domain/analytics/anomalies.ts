/**
 * Typed anomalies and the episode logic of the detectors.
 *
 * Kinds:
 * - `price-move`: the close moved beyond ±priceMovePct % against the previous close.
 * - `return-zscore`: the bar's 1-minute return is beyond ±returnZ standard deviations of the
 *   previous `returnWindow` returns (volatility-adjusted; not scored on the first bar of a trading
 *   day, whose return spans the overnight gap — that is the opening gap's job).
 * - `volume-spike`: the bar's volume is ≥ volumeSpikeMultiple × the mean volume of the previous
 *   `volumeWindow` bars of the same liquidity class — regular-session bars against regular ones,
 *   pre/post-market bars against extended-hours ones, so a thin pre-market does not make every
 *   open a spike (needs a full window and a typical volume above 0; FX quotes with volume 0 never
 *   spike).
 * - `opening-gap`: the first regular bar of a trading day (the first bar, for markets without
 *   sessions) opens beyond ±openingGapPct % of the previous close.
 *
 * `volume-spike` and `return-zscore` judge regular-session bars only unless `extendedHoursAlerts`
 * is set (their windows still see every bar).
 *
 * Severity, by ratio = |value| / threshold: `info` from 1, `warning` from warningRatio (1.5),
 * `critical` from criticalRatio (2). With the default 5 % move: 5 % info, 7.5 % warning, 10 %
 * critical.
 *
 * Episodes: a detector fires once when its condition starts, not on every bar while it persists.
 * It fires again within the same episode only if the severity rises (info → warning → critical)
 * or the direction flips. The episode ends when the measure falls below threshold × rearm (0.8 by
 * default: hysteresis so a value hovering at the threshold does not flap); `price-move` episodes
 * also end with the trading day (the previous close changes). `opening-gap` fires at most once a
 * day. Downstream, alerts are deduplicated by (symbol, kind, at), `at` being the bar start.
 */

export type AnomalyKind = 'price-move' | 'return-zscore' | 'volume-spike' | 'opening-gap';
export type Severity = 'info' | 'warning' | 'critical';

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly severity: Severity;
  readonly symbol: string;
  /** Start of the bar that triggered it (epoch ms): with symbol and kind, the dedup key. */
  readonly at: number;
  /** The measure: percent for price-move / opening-gap, z for return-zscore, multiple for volume-spike. */
  readonly value: number;
  /** The threshold it crossed, in the same unit. */
  readonly threshold: number;
  readonly message: string;
}

export interface SeverityLevels {
  readonly warningRatio: number;
  readonly criticalRatio: number;
}

const RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

export function severityOf(value: number, threshold: number, levels: SeverityLevels): Severity {
  const r = Math.abs(value) / threshold;
  if (r >= levels.criticalRatio) return 'critical';
  if (r >= levels.warningRatio) return 'warning';
  return 'info';
}

/** Episode state of one detector: the direction (−1, 0 = none, +1) and the highest severity fired. */
export interface EpisodeState {
  sign: number;
  rank: number;
}

export function newEpisode(): EpisodeState {
  return { sign: 0, rank: 0 };
}

/**
 * Advances an episode with a new measure. Returns the severity to fire, or undefined.
 * `value` is signed; the condition holds when |value| ≥ threshold.
 */
export function stepEpisode(
  e: EpisodeState,
  value: number,
  threshold: number,
  rearm: number,
  levels: SeverityLevels,
): Severity | undefined {
  const mag = Math.abs(value);
  if (mag < threshold) {
    if (e.sign !== 0 && mag < threshold * rearm) {
      e.sign = 0;
      e.rank = 0;
    }
    return undefined;
  }
  const sign = value < 0 ? -1 : 1;
  const sev = severityOf(value, threshold, levels);
  const rank = RANK[sev];
  if (e.sign === sign && rank <= e.rank) return undefined;
  e.sign = sign;
  e.rank = rank;
  return sev;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} %`;
const iso = (t: number) => new Date(t).toISOString();

export function priceMoveAnomaly(
  symbol: string,
  at: number,
  severity: Severity,
  changePct: number,
  threshold: number,
  close: number,
  previousClose: number,
): Anomaly {
  return {
    kind: 'price-move',
    severity,
    symbol,
    at,
    value: changePct,
    threshold,
    message: `${symbol} ${changePct >= 0 ? 'up' : 'down'} ${pct(changePct)} vs previous close ${previousClose} (now ${close}, bar ${iso(at)}; threshold ±${threshold} %)`,
  };
}

export function returnZAnomaly(
  symbol: string,
  at: number,
  severity: Severity,
  z: number,
  threshold: number,
  window: number,
): Anomaly {
  return {
    kind: 'return-zscore',
    severity,
    symbol,
    at,
    value: z,
    threshold,
    message: `${symbol} 1-minute return is ${z.toFixed(2)} standard deviations from the last ${window} returns (bar ${iso(at)}; threshold ±${threshold})`,
  };
}

export function volumeSpikeAnomaly(
  symbol: string,
  at: number,
  severity: Severity,
  multiple: number,
  threshold: number,
  volume: number,
  typical: number,
): Anomaly {
  return {
    kind: 'volume-spike',
    severity,
    symbol,
    at,
    value: multiple,
    threshold,
    message: `${symbol} volume ${volume} is ${multiple.toFixed(1)}× the typical ${Math.round(typical)} per bar (bar ${iso(at)}; threshold ${threshold}×)`,
  };
}

export function openingGapAnomaly(
  symbol: string,
  at: number,
  severity: Severity,
  gapPct: number,
  threshold: number,
  open: number,
  previousClose: number,
): Anomaly {
  return {
    kind: 'opening-gap',
    severity,
    symbol,
    at,
    value: gapPct,
    threshold,
    message: `${symbol} opened ${gapPct >= 0 ? 'up' : 'down'} ${pct(gapPct)} at ${open} vs previous close ${previousClose} (bar ${iso(at)}; threshold ±${threshold} %)`,
  };
}
