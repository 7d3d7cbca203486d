import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BarAggregator, type TickInput } from '../../../src/domain/bars/aggregator.ts';
import { calendarForSymbol, UsEquityCalendar } from '../../../src/domain/calendar/calendar.ts';
import { type Bar, BarSchema } from '../../../src/domain/market/index.ts';

const at = (iso: string) => Date.parse(iso);
const tick = (iso: string, price: number, dayVolume?: number): TickInput => ({
  time: at(iso),
  price,
  ...(dayVolume === undefined ? {} : { dayVolume }),
  source: 'replay',
});

function feed(agg: BarAggregator, ticks: readonly TickInput[]): { bars: Bar[]; rejected: string[] } {
  const bars: Bar[] = [];
  const rejected: string[] = [];
  for (const t of ticks) {
    const r = agg.addTick(t);
    bars.push(...r.closed);
    if (r.rejected) rejected.push(r.rejected.code);
  }
  return { bars, rejected };
}

describe('BarAggregator', () => {
  it('builds a bar aligned to the exchange minute and closes it after the grace window', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 2_000 });
    expect(agg.addTick(tick('2024-10-02T13:30:05Z', 225.89, 1000)).closed).toEqual([]);
    agg.addTick(tick('2024-10-02T13:30:20Z', 226.11, 1500));
    agg.addTick(tick('2024-10-02T13:30:40Z', 225.42, 1800));
    agg.addTick(tick('2024-10-02T13:30:59.999Z', 225.7, 2000));
    // 13:31:01 is inside the grace window of the 13:30 bar: still open
    expect(agg.addTick(tick('2024-10-02T13:31:01Z', 225.73, 2100)).closed).toEqual([]);
    const closed = agg.addTick(tick('2024-10-02T13:31:02Z', 225.8, 2200)).closed;
    expect(closed).toEqual([
      {
        symbol: 'AAPL',
        start: at('2024-10-02T13:30:00Z'),
        interval: '1m',
        open: 225.89,
        high: 226.11,
        low: 225.42,
        close: 225.7,
        volume: 1000, // 2000 - 1000: a cold start counts from the first tick seen
        session: 'regular',
        source: 'replay',
      },
    ]);
    expect(BarSchema.safeParse(closed[0]).success).toBe(true);
    const [next] = agg.flush();
    expect(next).toMatchObject({
      start: at('2024-10-02T13:31:00Z'),
      open: 225.73,
      close: 225.8,
      volume: 200,
    });
  });

  it('folds an out-of-order tick into its open bar by event time', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 10_000 });
    agg.addTick(tick('2024-10-02T13:30:30Z', 100, 10));
    agg.addTick(tick('2024-10-02T13:31:02Z', 103, 40));
    // arrives late but inside 13:30's grace window, and is the earliest tick of that minute
    expect(agg.addTick(tick('2024-10-02T13:30:01Z', 99, 5)).rejected).toBeUndefined();
    agg.addTick(tick('2024-10-02T13:30:50Z', 101, 20));
    const bars = agg.flush();
    expect(bars.map((b) => [b.open, b.high, b.low, b.close, b.volume])).toEqual([
      [99, 101, 99, 101, 15],
      [103, 103, 103, 103, 20],
    ]);
  });

  it('rejects a tick later than its bar’s grace window and does not touch any bar', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 1_000 });
    agg.addTick(tick('2024-10-02T13:30:10Z', 100, 10));
    const closed = agg.addTick(tick('2024-10-02T13:31:01Z', 101, 20)).closed;
    expect(closed).toHaveLength(1);
    const late = agg.addTick(tick('2024-10-02T13:30:59Z', 500, 15));
    expect(late.rejected?.code).toBe('late');
    expect(late.rejected?.reason).toMatch(/late: its bar 2024-10-02T13:30:00.000Z closed \(grace 1000 ms/);
    const [open] = agg.flush();
    expect(open).toMatchObject({ high: 101, low: 101, volume: 10 });
  });

  it('rejects ticks for a bar closed by flush', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar());
    agg.addTick(tick('2024-10-02T13:30:10Z', 100));
    agg.flush();
    expect(agg.addTick(tick('2024-10-02T13:30:20Z', 100)).rejected?.code).toBe('late');
  });

  it('rejects ticks when the market is closed, naming the day', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar());
    const r = agg.addTick(tick('2024-11-28T15:00:00Z', 100)); // Thanksgiving
    expect(r.rejected?.code).toBe('outside-session');
    expect(r.rejected?.reason).toContain('2024-11-28');
    const evening = new BarAggregator('AAPL', new UsEquityCalendar());
    expect(evening.addTick(tick('2024-10-03T00:00:00Z', 100)).rejected?.code).toBe('outside-session'); // 20:00 ET
    expect(evening.addTick(tick('2024-10-02T23:59:59Z', 100)).rejected).toBeUndefined(); // 19:59 ET post
  });

  it('classifies sessions across the DST change and on half days', () => {
    const agg = new BarAggregator('SPY', new UsEquityCalendar(), { graceMs: 0 });
    const { bars } = feed(agg, [
      tick('2024-03-08T14:29:30Z', 1), // Fri 09:29 EST pre
      tick('2024-03-08T14:30:30Z', 1), // Fri 09:30 EST regular
      tick('2024-03-11T13:29:30Z', 1), // Mon 09:29 EDT pre
      tick('2024-03-11T13:30:30Z', 1), // Mon 09:30 EDT regular
      tick('2024-11-29T17:59:30Z', 1), // half day 12:59 regular
      tick('2024-11-29T18:00:30Z', 1), // half day 13:00 post
    ]);
    bars.push(...agg.flush());
    expect(bars.map((b) => b.session)).toEqual(['pre', 'regular', 'pre', 'regular', 'regular', 'post']);
  });

  it('gives crypto bars the session none, any day of the week', () => {
    const agg = new BarAggregator('BTC-USD', calendarForSymbol('BTC-USD'));
    agg.addTick(tick('2025-02-01T03:00:10Z', 100_000, 5));
    expect(agg.flush()[0]?.session).toBe('none');
  });

  it('never produces a negative volume when the day volume resets', () => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 0 });
    const { bars } = feed(agg, [
      tick('2024-10-02T19:58:10Z', 100, 1_000_000),
      tick('2024-10-02T19:59:10Z', 100, 1_500_000),
      // next day: the counter restarts
      tick('2024-10-03T08:00:10Z', 100, 300),
      tick('2024-10-03T08:01:10Z', 100, 700),
    ]);
    expect(bars.map((b) => b.volume)).toEqual([0, 500_000, 300]);
    expect(agg.flush()[0]?.volume).toBe(400);
  });

  it('does not subtract the last day’s counter from a new day’s that is already above it', () => {
    // Quotes of 2024-10-02 stop at 11:00 (20.1 M shares so far); those of 10-03 start at 12:00, when
    // that day's counter already reads 35 M: the day's earlier volume is unknown, so the first bar
    // counts from its own first tick (a cold start), not 35 M − 20.1 M.
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 0 });
    const { bars } = feed(agg, [
      tick('2024-10-02T15:00:05Z', 225, 20_000_000),
      tick('2024-10-02T15:00:35Z', 225.1, 20_100_000),
      tick('2024-10-03T16:00:05Z', 226, 35_000_000),
      tick('2024-10-03T16:00:35Z', 226.2, 35_050_000),
      tick('2024-10-03T16:01:10Z', 226.1, 35_080_000),
    ]);
    expect(bars.map((b) => b.volume)).toEqual([100_000, 50_000]);
    expect(agg.flush()[0]?.volume).toBe(30_000);
  });

  it('does not give a late first bar of a day the volume of the minutes nobody saw', () => {
    // 10-02's quotes end at 16:00 (50 M). On 10-03 the first quote comes at 10:15, when the
    // counter (restarted at the open) reads 5 M: shares traded from 09:30 to 10:15, not in the
    // 10:15 bar. That bar counts from its own first tick; the next from the last bar's counter.
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 0 });
    const { bars } = feed(agg, [
      tick('2024-10-02T19:59:10Z', 225, 49_900_000),
      tick('2024-10-02T19:59:50Z', 225.1, 50_000_000),
      tick('2024-10-03T14:15:05Z', 226, 5_000_000),
      tick('2024-10-03T14:15:45Z', 226.2, 5_040_000),
      tick('2024-10-03T14:16:20Z', 226.1, 5_100_000),
    ]);
    expect(bars.map((b) => b.volume)).toEqual([100_000, 40_000]);
    expect(agg.flush()[0]?.volume).toBe(60_000);
  });

  it('gives the bar in whose minute the counter restarted everything since the restart', () => {
    // The counter restarts at the regular open (09:30 EDT = 13:30Z) after pre-market quotes that
    // still carried the last day's; and a reset between two adjacent minutes belongs to the second.
    const open = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 0 });
    const a = feed(open, [
      tick('2024-10-03T13:10:10Z', 226, 50_000_000),
      tick('2024-10-03T13:30:20Z', 226.5, 120_000),
    ]);
    expect([...a.bars, ...open.flush()].map((b) => b.volume)).toEqual([0, 120_000]);
    const adjacent = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 0 });
    const b = feed(adjacent, [
      tick('2024-10-03T14:00:10Z', 226, 9_000_000),
      tick('2024-10-03T14:01:20Z', 226.5, 30_000),
    ]);
    expect([...b.bars, ...adjacent.flush()].map((x) => x.volume)).toEqual([0, 30_000]);
  });

  it('rejects a negative grace window', () => {
    expect(() => new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: -1 })).toThrow(/graceMs/);
  });

  it('snapshot → JSON → restore continues exactly like the original', () => {
    const ticks = [
      tick('2024-10-02T13:30:10Z', 100, 10),
      tick('2024-10-02T13:30:50Z', 102, 30),
      tick('2024-10-02T13:31:02Z', 101, 35),
      tick('2024-10-02T13:30:55Z', 103, 32),
      tick('2024-10-02T13:31:40Z', 99, 60),
      tick('2024-10-02T13:32:20Z', 98, 90),
    ];
    const whole = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 5_000 });
    const expected = [...feed(whole, ticks).bars, ...whole.flush()];
    for (let cut = 0; cut <= ticks.length; cut++) {
      const first = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs: 5_000 });
      const a = feed(first, ticks.slice(0, cut)).bars;
      const restored = BarAggregator.restore(
        JSON.parse(JSON.stringify(first.snapshot())),
        new UsEquityCalendar(),
      );
      const b = feed(restored, ticks.slice(cut)).bars;
      expect([...a, ...b, ...restored.flush()], `cut ${cut}`).toEqual(expected);
    }
  });

  it('refuses a snapshot of another version', () => {
    const s = new BarAggregator('AAPL', new UsEquityCalendar()).snapshot();
    expect(() => BarAggregator.restore({ ...s, v: 2 } as never, new UsEquityCalendar())).toThrow(
      /v: must be 1 \(the supported version\)/,
    );
    expect(() => BarAggregator.restore({ ...s, watermark: 'x' } as never, new UsEquityCalendar())).toThrow(
      /watermark: /,
    );
  });
});

describe('BarAggregator properties', () => {
  // Ticks within one regular session (2024-10-02 13:30Z .. 19:59Z), cumulative volume rising with time.
  const sessionStart = at('2024-10-02T13:30:00Z');
  const ticksArb = fc
    .array(
      fc.record({
        offset: fc.integer({ min: 0, max: 30 * 60_000 }),
        price: fc.double({ min: 1, max: 1000, noNaN: true, noDefaultInfinity: true }),
        volumeStep: fc.integer({ min: 0, max: 10_000 }),
        jitter: fc.double({ min: 0, max: 0.999, noNaN: true }),
      }),
      { minLength: 1, maxLength: 80 },
    )
    .map((raw) => {
      const sorted = [...raw].sort((a, b) => a.offset - b.offset);
      let cum = 0;
      return sorted.map((r) => {
        cum += r.volumeStep;
        return {
          tick: { time: sessionStart + r.offset, price: r.price, dayVolume: cum, source: 'replay' as const },
          jitter: r.jitter,
        };
      });
    });

  const run = (ticks: readonly TickInput[], graceMs: number) => {
    const agg = new BarAggregator('AAPL', new UsEquityCalendar(), { graceMs });
    const { bars, rejected } = feed(agg, ticks);
    return { bars: [...bars, ...agg.flush()], rejected };
  };

  it('any arrival order within the grace window gives the same bars as time order', () => {
    fc.assert(
      fc.property(ticksArb, fc.integer({ min: 1, max: 30_000 }), (items, graceMs) => {
        const inOrder = run(
          items.map((i) => i.tick),
          graceMs,
        );
        // each tick arrives at most (just under) graceMs after its event time
        const shuffled = [...items]
          .sort((a, b) => a.tick.time + a.jitter * graceMs - (b.tick.time + b.jitter * graceMs))
          .map((i) => i.tick);
        const outOfOrder = run(shuffled, graceMs);
        expect(outOfOrder.rejected).toEqual([]);
        expect(outOfOrder.bars).toEqual(inOrder.bars);
      }),
      { numRuns: 300 },
    );
  });

  it('bars hold OHLC invariants, are minute-aligned, in order, and never have negative volume', () => {
    fc.assert(
      fc.property(
        ticksArb,
        fc.integer({ min: 0, max: 10_000 }),
        fc.boolean(),
        (items, graceMs, reverseChunks) => {
          const ticks = items.map((i) => i.tick);
          // arbitrary disorder: some ticks will be late and rejected, the rest must stay consistent
          const arrival = reverseChunks
            ? ticks.flatMap((_, i) => (i % 3 === 0 ? ticks.slice(i, i + 3).reverse() : []))
            : ticks;
          const { bars, rejected } = run(arrival, graceMs);
          expect(bars.length + rejected.length).toBeLessThanOrEqual(arrival.length);
          let prev = -Infinity;
          let total = 0;
          for (const b of bars) {
            expect(BarSchema.safeParse(b).success).toBe(true);
            expect(b.low).toBeLessThanOrEqual(Math.min(b.open, b.close));
            expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
            expect(b.volume).toBeGreaterThanOrEqual(0);
            expect(b.start % 60_000).toBe(0);
            expect(b.start).toBeGreaterThan(prev);
            prev = b.start;
            total += b.volume;
          }
          // accepted volume never exceeds the counter's total rise
          const last = ticks[ticks.length - 1] as TickInput;
          expect(total).toBeLessThanOrEqual(
            (last.dayVolume as number) - ((ticks[0] as TickInput).dayVolume as number),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
