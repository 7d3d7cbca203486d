/**
 * What a per-symbol aggregate computes: the indicator set, the anomaly thresholds (with per-symbol
 * overrides), severity levels and the bar grace window. Plain JSON, validated with zod so a bad
 * setting fails at start-up naming the field.
 */
import { z } from 'zod';
import { issuesFromZod, MarketDataValidationError } from '../market/validation.ts';

const period = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(10_000, 'must be at most 10000');
const deviation = z.enum(['population', 'sample']);
/** Indicator names become metric column names: camelCase letters and digits. */
const indicatorName = z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, 'must be a camelCase name such as sma20');

export const IndicatorSpecSchema = z.discriminatedUnion('type', [
  z.object({ name: indicatorName, type: z.literal('SMA'), period }),
  z.object({ name: indicatorName, type: z.literal('EMA'), period }),
  z.object({ name: indicatorName, type: z.literal('WMA'), period }),
  z.object({ name: indicatorName, type: z.literal('RSI'), period }),
  z.object({ name: indicatorName, type: z.literal('ROC'), period }),
  z.object({ name: indicatorName, type: z.literal('ATR'), period }),
  z.object({
    name: indicatorName,
    type: z.literal('RollingStdDev'),
    period,
    deviation: deviation.optional(),
  }),
  z.object({
    name: indicatorName,
    type: z.literal('ReturnsZScore'),
    period,
    deviation: deviation.optional(),
  }),
  z.object({
    name: indicatorName,
    type: z.literal('MACD'),
    fast: period.optional(),
    slow: period.optional(),
    signal: period.optional(),
  }),
  z.object({
    name: indicatorName,
    type: z.literal('BollingerBands'),
    period: period.optional(),
    multiplier: z.number().positive('must be positive').optional(),
    deviation: deviation.optional(),
  }),
  z.object({ name: indicatorName, type: z.literal('VWAP') }),
]);
export type IndicatorSpec = z.infer<typeof IndicatorSpecSchema>;

/** Anomaly thresholds. Percentages are in percent (5 = 5 %). */
export const DetectorSettingsSchema = z.object({
  /** `price-move`: |change vs previous close| ≥ this many percent. */
  priceMovePct: z.number().positive('must be positive'),
  /** `return-zscore`: |z-score of the 1-minute return| ≥ this many standard deviations. */
  returnZ: z.number().positive('must be positive'),
  /** Window (bars) of 1-minute returns the z-score is measured against. */
  returnWindow: period.min(2, 'must be at least 2'),
  /** `volume-spike`: bar volume ≥ this multiple of the typical (mean) volume of the window. */
  volumeSpikeMultiple: z.number().gt(1, 'must be greater than 1'),
  /** Window (bars) of the typical volume. */
  volumeWindow: period,
  /** `opening-gap`: |first regular open vs previous close| ≥ this many percent. */
  openingGapPct: z.number().positive('must be positive'),
  /** An episode ends when the measure falls below threshold × rearm (hysteresis, 0 < rearm ≤ 1). */
  rearm: z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1'),
  /**
   * Whether `volume-spike` and `return-zscore` also judge pre/post-market bars. Off by default:
   * thin extended-hours prints make both fire constantly (SPY, January 2011, 5× volume: 63 regular
   * spikes against 259 pre/post ones in 20 days). Their windows are fed either way.
   */
  extendedHoursAlerts: z.boolean(),
  /** Detectors switched off by kind. */
  disabled: z.array(z.enum(['price-move', 'return-zscore', 'volume-spike', 'opening-gap'])),
});
export type DetectorSettings = z.infer<typeof DetectorSettingsSchema>;

export const AnalyticsConfigSchema = z
  .object({
    indicators: z.array(IndicatorSpecSchema).max(64, 'at most 64 indicators'),
    detectors: DetectorSettingsSchema,
    /** Per-symbol threshold overrides, e.g. { "TSLA": { "priceMovePct": 8 } }. */
    overrides: z.record(z.string(), DetectorSettingsSchema.partial()),
    /** Severity by how far past the threshold: ratio = |value| / threshold. */
    severity: z.object({
      warningRatio: z.number().min(1, 'must be at least 1'),
      criticalRatio: z.number().min(1, 'must be at least 1'),
    }),
    /** Bar grace window (event time) for late ticks, ms. */
    graceMs: z
      .number()
      .int('must be whole milliseconds')
      .min(0, 'must not be negative')
      .max(600_000, 'must be at most 10 minutes'),
    /**
     * Which bars feed indicators and detectors: `all` (pre, regular, post) or `regular` only.
     * Rows are produced for every bar either way.
     */
    indicatorSessions: z.enum(['all', 'regular']),
    /**
     * A symbol fed both quotes and 1-minute bars takes its bars from the bar feed: a bar its quotes
     * close is held this long (event time, past the bar's minute) for the feed's bar of that minute
     * before the quotes' bar is used instead. 0: the quotes' bars are used as soon as they close.
     */
    feedBarWaitMs: z
      .number()
      .int('must be whole milliseconds')
      .min(0, 'must not be negative')
      .max(3_600_000, 'must be at most 1 hour'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.indicators.forEach((spec, i) => {
      if (seen.has(spec.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['indicators', i, 'name'],
          message: `duplicate indicator name ${spec.name}`,
        });
      }
      seen.add(spec.name);
      // What the indicator's constructor would refuse, refused here with the field named.
      if (spec.type === 'MACD') {
        const fast = spec.fast ?? 12;
        const slow = spec.slow ?? 26;
        if (fast >= slow) {
          ctx.addIssue({
            code: 'custom',
            path: ['indicators', i, 'fast'],
            message: `must be shorter than slow (${slow})`,
          });
        }
      }
      // The returns z-score divides by n − 1 unless told otherwise; the others by n.
      const sample =
        (spec.type === 'ReturnsZScore' && spec.deviation !== 'population') ||
        ((spec.type === 'RollingStdDev' || spec.type === 'BollingerBands') && spec.deviation === 'sample');
      const period =
        spec.type === 'BollingerBands' ? (spec.period ?? 20) : 'period' in spec ? spec.period : 0;
      if (sample && period < 2) {
        ctx.addIssue({
          code: 'custom',
          path: ['indicators', i, 'period'],
          message: 'must be at least 2 with the sample deviation',
        });
      }
    });
    if (c.severity.criticalRatio < c.severity.warningRatio) {
      ctx.addIssue({
        code: 'custom',
        path: ['severity', 'criticalRatio'],
        message: 'must not be below warningRatio',
      });
    }
  });
export type AnalyticsConfig = z.infer<typeof AnalyticsConfigSchema>;

/**
 * The default set: the indicators a dashboard shows (200-period windows for the long SMA, the
 * return z-score and the typical volume) and the detectors with their default thresholds.
 */
export const DEFAULT_ANALYTICS_CONFIG: AnalyticsConfig = {
  indicators: [
    { name: 'sma20', type: 'SMA', period: 20 },
    { name: 'sma200', type: 'SMA', period: 200 },
    { name: 'ema20', type: 'EMA', period: 20 },
    { name: 'rsi14', type: 'RSI', period: 14 },
    { name: 'macd', type: 'MACD', fast: 12, slow: 26, signal: 9 },
    { name: 'bb20', type: 'BollingerBands', period: 20, multiplier: 2, deviation: 'population' },
    { name: 'atr14', type: 'ATR', period: 14 },
    { name: 'vwap', type: 'VWAP' },
    { name: 'roc10', type: 'ROC', period: 10 },
  ],
  detectors: {
    priceMovePct: 5,
    returnZ: 4,
    returnWindow: 200,
    volumeSpikeMultiple: 5,
    volumeWindow: 200,
    openingGapPct: 2,
    rearm: 0.8,
    extendedHoursAlerts: false,
    disabled: [],
  },
  overrides: {},
  severity: { warningRatio: 1.5, criticalRatio: 2 },
  graceMs: 5_000,
  indicatorSessions: 'all',
  // The poller asks for bars every 30 s by default and at most every 5 minutes.
  feedBarWaitMs: 600_000,
};

/**
 * Reads a (partial) configuration over the defaults: top-level keys replace the default's, and
 * `detectors` / `severity` are merged key by key. Throws a MarketDataValidationError naming each
 * bad field.
 */
export function parseAnalyticsConfig(input: unknown): AnalyticsConfig {
  const raw = (input ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MarketDataValidationError('analytics config', [
      { field: '(root)', reason: 'must be an object' },
    ]);
  }
  const merged = {
    ...DEFAULT_ANALYTICS_CONFIG,
    ...raw,
    detectors: { ...DEFAULT_ANALYTICS_CONFIG.detectors, ...((raw.detectors as object) ?? {}) },
    severity: { ...DEFAULT_ANALYTICS_CONFIG.severity, ...((raw.severity as object) ?? {}) },
  };
  const parsed = AnalyticsConfigSchema.safeParse(merged);
  if (!parsed.success) throw new MarketDataValidationError('analytics config', issuesFromZod(parsed.error));
  return parsed.data;
}

/** The detector settings in force for one symbol (defaults with that symbol's overrides). */
export function detectorSettingsFor(config: AnalyticsConfig, symbol: string): DetectorSettings {
  const o = config.overrides[symbol];
  return o ? { ...config.detectors, ...o } : config.detectors;
}
