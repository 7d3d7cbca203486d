import { describe, expect, it } from 'vitest';
import { type DashboardView, renderDashboard } from '../../../scripts/pipeline/dashboard.ts';

const view = (over: Partial<DashboardView> = {}): DashboardView => ({
  title: 'tickstream — local pipeline',
  status: 'running',
  symbols: [
    {
      symbol: 'AAPL',
      time: Date.parse('2024-10-02T19:59:00Z'),
      price: 226.78,
      changePct: 0.3,
      sma20: 226.5,
      ema20: 226.6,
      rsi14: 55.1,
      vwap: 225.9,
      anomalies: 2,
    },
  ],
  counters: { 'ticks in': 389 },
  throughput: 0,
  lagMs: 0,
  alerts: [],
  ...over,
});

describe('renderDashboard', () => {
  it('says how many symbols of the run the view has no room for', () => {
    expect(renderDashboard(view({ symbolsNotShown: 4 }))).toContain(
      '… and 4 more symbols (npm run query for every one)',
    );
    expect(renderDashboard(view({ symbolsNotShown: 1 }))).toContain('… and 1 more symbol (');
    for (const symbolsNotShown of [0, undefined])
      expect(renderDashboard(view({ symbolsNotShown }))).not.toContain('more symbol');
  });
});
