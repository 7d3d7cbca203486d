import { type Indicator, type IndicatorSnapshotBase, rejectNumber, SnapshotReader } from './contract.ts';
import { describe, IndicatorInputError } from './errors.ts';

export interface VWAPInput {
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** Volume of this bar (not cumulative). */
  readonly volume: number;
  /**
   * Identifies the trading session (e.g. the exchange date '2024-10-02'); the VWAP restarts when it
   * changes. NOT the pre/regular/post classification of a bar.
   */
  readonly sessionId: string | number;
}

export interface VWAPSnapshot extends IndicatorSnapshotBase {
  readonly type: 'VWAP';
  readonly version: 1;
  readonly sessionId?: string | number;
  /** Σ typical price × volume, with its Neumaier compensation term. */
  readonly pv: number;
  readonly pvc: number;
  /** Σ volume, with its compensation term. */
  readonly vol: number;
  readonly volc: number;
}

/**
 * Session VWAP: Σ(typical price × volume) / Σ volume since the session began, typical price =
 * (high + low + close) / 3. Resets whenever `sessionId` changes. Undefined while the session has
 * traded no volume (e.g. FX quotes with volume 0). Sums are compensated (Neumaier).
 */
export class VWAP implements Indicator<VWAPInput, number, VWAPSnapshot> {
  readonly type = 'VWAP' as const;
  readonly requiredInputs = 1;
  private session: string | number | undefined = undefined;
  private pv = 0;
  private pvc = 0;
  private vol = 0;
  private volc = 0;
  /** The latest value: a double field that never holds undefined, so storing it never allocates. */
  private cur = Number.NaN;
  private ready = false;

  get value(): number | undefined {
    return this.ready ? this.cur : undefined;
  }

  get isStable(): boolean {
    return this.ready;
  }

  /** The session the current value belongs to. */
  get sessionId(): string | number | undefined {
    return this.session;
  }

  update(bar: VWAPInput): number | undefined {
    check(bar);
    const v = bar.volume;
    if (bar.sessionId !== this.session) {
      this.session = bar.sessionId;
      this.pv = 0;
      this.pvc = 0;
      this.vol = 0;
      this.volc = 0;
      this.ready = false;
    }
    const x = ((bar.high + bar.low + bar.close) / 3) * v;
    let s = this.pv;
    let t = s + x;
    this.pvc += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    this.pv = t;
    s = this.vol;
    t = s + v;
    this.volc += s >= v ? s - t + v : v - t + s;
    this.vol = t;
    this.compute();
    return this.ready ? this.cur : undefined;
  }

  private compute(): void {
    const vol = this.vol + this.volc;
    if (vol > 0) {
      this.cur = (this.pv + this.pvc) / vol;
      this.ready = true;
    }
  }

  snapshot(): VWAPSnapshot {
    return {
      type: 'VWAP',
      version: 1,
      ...(this.session === undefined ? {} : { sessionId: this.session }),
      pv: this.pv,
      pvc: this.pvc,
      vol: this.vol,
      volc: this.volc,
    };
  }

  static restore(snapshot: unknown): VWAP {
    const r = new SnapshotReader('VWAP', snapshot, 1);
    const vwap = new VWAP();
    const session = r.raw('sessionId');
    if (session !== undefined && !isSessionId(session)) {
      r.fail('sessionId', `must be a non-empty string or a finite number, got ${describe(session)}`);
    }
    vwap.session = session as string | number | undefined;
    vwap.pv = r.number('pv');
    vwap.pvc = r.number('pvc');
    vwap.vol = r.number('vol');
    vwap.volc = r.number('volc');
    if (vwap.vol < 0) r.fail('vol', `must not be negative, got ${vwap.vol}`);
    if (session === undefined && (vwap.vol !== 0 || vwap.pv !== 0)) {
      r.fail('sessionId', 'is required once the VWAP has seen volume');
    }
    vwap.compute();
    return vwap;
  }
}

function isSessionId(s: unknown): s is string | number {
  return (typeof s === 'string' && s.length > 0) || (typeof s === 'number' && Number.isFinite(s));
}

function check(bar: VWAPInput): void {
  if (bar === null || typeof bar !== 'object') {
    throw new IndicatorInputError(
      'VWAP',
      'input',
      `must be an object with high, low, close, volume and sessionId, got ${describe(bar)}`,
    );
  }
  const { high, low, close, volume, sessionId } = bar;
  if (!Number.isFinite(high)) rejectNumber('VWAP', 'high', high);
  if (!Number.isFinite(low)) rejectNumber('VWAP', 'low', low);
  if (!Number.isFinite(close)) rejectNumber('VWAP', 'close', close);
  if (!Number.isFinite(volume)) rejectNumber('VWAP', 'volume', volume);
  if (volume < 0) throw new IndicatorInputError('VWAP', 'volume', `must not be negative, got ${volume}`);
  if (high < low) throw new IndicatorInputError('VWAP', 'high', `(${high}) is below low (${low})`);
  if (!isSessionId(sessionId)) {
    throw new IndicatorInputError(
      'VWAP',
      'sessionId',
      `must be a non-empty string or a finite number (e.g. the session date), got ${describe(sessionId)}`,
    );
  }
}
