import { describe, expect, it } from 'vitest';
import { windowValue } from '../../shared/alerts/evaluate-windows.ts';
import { durationBin } from '../../shared/aggregate/cells.ts';
import type { AlertRule } from '../../shared/store/control-table.ts';

const MIN = 60_000;
/** a slot start (slots are 5-minute aligned) */
const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

function rule(metric: string, window: AlertRule['window'] = '5m'): AlertRule {
  return { ruleId: 'rl', tenantId: 't', name: metric, metric, op: '>', threshold: 0, window, webhookId: 'wh', createdAt: '' };
}
const finished = (ms: number, failed = false) => ({ finished: 1, failed: failed ? 1 : 0, [`h${durationBin(ms)}`]: 1, [`d${durationBin(ms)}`]: ms });

describe('the value of a windowed rule', () => {
  it('sums the slots that overlap the window, up to now', () => {
    const slots = [
      { slot: T0 - 5 * MIN, counters: { costNanos: 1e9 } }, // ended before the window began
      { slot: T0, counters: { costNanos: 2e9 } }, // partly inside
      { slot: T0 + 5 * MIN, counters: { costNanos: 0.25e9 } }, // the current slot
      { slot: T0 + 10 * MIN, counters: { costNanos: 8e9 } }, // not yet begun
    ];
    expect(windowValue(rule('cost_usd'), slots, T0 + 7 * MIN)).toBe(2.25);
    expect(windowValue(rule('cost_usd'), slots, T0 + 10 * MIN)).toBe(8.25);
    expect(windowValue(rule('cost_usd', '1h'), slots, T0 + 7 * MIN)).toBe(3.25);
    expect(windowValue(rule('cost_usd'), slots, T0 + 30 * MIN)).toBe(0);
  });

  it('counts failed runs and the share of finished runs that failed', () => {
    const slots = [
      { slot: T0, counters: { finished: 3, failed: 1 } },
      { slot: T0 + 5 * MIN, counters: { finished: 1, failed: 1 } },
    ];
    expect(windowValue(rule('runs_failed', '1h'), slots, T0 + 6 * MIN)).toBe(2);
    expect(windowValue(rule('error_rate', '1h'), slots, T0 + 6 * MIN)).toBe(0.5);
  });

  it('is an error rate of 0, not NaN, when no run finished', () => {
    expect(windowValue(rule('error_rate'), [], T0)).toBe(0);
    expect(windowValue(rule('p95_run_duration_ms'), [], T0)).toBe(0);
  });

  it('takes the p95 duration from the histogram, within a quarter octave', () => {
    const histogram = (fast: number, slow: number) => {
      const counters: Record<string, number> = {};
      const runs = [...Array(fast).fill(finished(1_000)), ...Array(slow).fill(finished(90_000, true))];
      for (const c of runs) for (const [k, v] of Object.entries(c)) counters[k] = (counters[k] ?? 0) + (v as number);
      return [{ slot: T0, counters }];
    };
    const p95 = (fast: number, slow: number) => windowValue(rule('p95_run_duration_ms', '24h'), histogram(fast, slow), T0 + MIN);

    // 6 slow runs of 100: the 95th is a slow one; 5 of 100: it is a fast one
    expect(p95(94, 6)).toBeGreaterThanOrEqual(90_000);
    expect(p95(94, 6)).toBeLessThanOrEqual(90_000 * 2 ** 0.25);
    expect(p95(95, 5)).toBeGreaterThanOrEqual(1_000);
    expect(p95(95, 5)).toBeLessThanOrEqual(1_000 * 2 ** 0.25);
  });

  it('is the mean duration of the bin holding the p95: exact for one run, never a bin bound', () => {
    const p95 = (counters: Record<string, number>) => windowValue(rule('p95_run_duration_ms', '1h'), [{ slot: T0, counters }], T0 + MIN);
    const bin = durationBin(120_000);

    // a run of 120 s reads 120 s, not its bin's upper bound (131 s), so a 125 s threshold does not hold
    expect(p95(finished(120_000))).toBe(120_000);
    expect(p95({ finished: 2, [`h${bin}`]: 2, [`d${bin}`]: 115_000 + 125_000 })).toBe(120_000);
    // a slot counted before bins kept their durations falls back to the bin's upper bound
    expect(p95({ finished: 1, [`h${bin}`]: 1 })).toBe(Math.round(2 ** ((bin + 1) / 4)));
    // and, beside slots that kept them, counts at that bound rather than as runs of no duration
    const mixed = windowValue(rule('p95_run_duration_ms', '1h'), [{ slot: T0, counters: { finished: 10, [`h${bin}`]: 10 } }, { slot: T0 + 5 * MIN, counters: finished(120_000) }], T0 + 6 * MIN);
    expect(mixed).toBeGreaterThanOrEqual(120_000);
    expect(mixed).toBeLessThanOrEqual(Math.round(2 ** ((bin + 1) / 4)));
  });
});
