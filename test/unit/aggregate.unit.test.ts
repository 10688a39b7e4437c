import { describe, expect, it } from 'vitest';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { contributions, diffContributions } from '../../shared/aggregate/cells.ts';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

function step(id: string, over: Partial<PricedEvent & { type: 'step' }>['step'] = {}, costNanos?: number): PricedEvent {
  return {
    type: 'step',
    eventId: id,
    runId: 'r1',
    redactions: 0,
    costNanos,
    step: { stepId: id, kind: 'llm', name: 'chat', startedAt: T0 + 1000, endedAt: T0 + 2000, status: 'ok', model: 'm1', usage: { inputTokens: 10, outputTokens: 5 }, ...over },
  } as PricedEvent;
}
const runEvent = (id: string, run: Record<string, unknown>): PricedEvent => ({ type: 'run', eventId: id, runId: 'r1', at: T0, run, redactions: 0 }) as PricedEvent;

function sumCells(cells: ReturnType<typeof contributions>, family: 'day' | 'slot', key: string, runCellsOnly = false): number {
  let total = 0;
  for (const { ref, counters } of cells.values()) {
    if (ref.family !== family) continue;
    if (runCellsOnly && ref.dims.model !== '*') continue;
    total += counters[key] ?? 0;
  }
  return total;
}

describe('run folding', () => {
  it('adds step counters, keeps the earliest start and the latest end of a run without an end signal', () => {
    const s = applyEvents(undefined, 'r1', [step('a', {}, 1000), step('b', { kind: 'tool', model: undefined, startedAt: T0 + 5000, endedAt: T0 + 9000, status: 'error' })]);
    expect(s).toMatchObject({ status: 'running', startedAt: T0 + 1000, endedAt: T0 + 9000, llmCalls: 1, toolCalls: 1, errors: 1, inputTokens: 20, costNanos: 1000, models: ['m1'] });
  });

  it('lets a run event decide status, outcome and end, and fills dimensions from other events only when blank', () => {
    const a = applyEvents(undefined, 'r1', [step('a', {}, 5)]);
    const b = applyEvents(a, 'r1', [runEvent('e', { repo: 'web', status: 'failed', outcome: 'rejected', startedAt: T0, endedAt: T0 + 60_000 })]);
    expect(b).toMatchObject({ repo: 'web', status: 'failed', outcome: 'rejected', startedAt: T0, endedAt: T0 + 60_000, ended: true });
    const c = applyEvents(b, 'r1', [{ ...step('c'), run: { repo: 'other' } } as PricedEvent]);
    expect(c.repo).toBe('web');
  });
});

describe('cells', () => {
  it('moves a run between rollup cells when its repo becomes known, without counting it twice', () => {
    const before = applyEvents(undefined, 'r1', [step('a', {}, 2000)]);
    const after = applyEvents(before, 'r1', [runEvent('e', { repo: 'web', outcome: 'merged_change' })]);
    const delta = diffContributions(contributions(before), contributions(after));
    // the run and its cost leave the `unknown` cells and arrive in `web`: the day totals do not change
    expect(sumCells(delta, 'day', 'runs', true)).toBe(0);
    expect(sumCells(delta, 'day', 'costNanos')).toBe(0);
    const moved = [...delta.values()].filter((c) => c.ref.family === 'day' && c.ref.dims.repo === 'web' && c.ref.dims.model === '*');
    expect(moved[0]?.counters).toMatchObject({ runs: 1, usefulOutcomes: 1 });
  });

  it('counts a run once on its start day and its costs on the day they were incurred', () => {
    const late = T0 + 86_400_000;
    const s = applyEvents(undefined, 'r1', [step('a', {}, 100), step('b', { startedAt: late, endedAt: late + 10 }, 300)]);
    const cells = [...contributions(s).values()].filter((c) => c.ref.family === 'day');
    const byDay = (day: string, k: string) => cells.filter((c) => c.ref.period === day).reduce((a, c) => a + (c.counters[k] ?? 0), 0);
    expect(byDay('2026-11-20', 'costNanos')).toBe(100);
    expect(byDay('2026-11-21', 'costNanos')).toBe(300);
    expect(cells.filter((c) => c.ref.dims.model === '*').reduce((a, c) => a + (c.counters.runs ?? 0), 0)).toBe(1);
  });

  it('records a finished run in the slot it ended, with failed and a duration bin', () => {
    const s = applyEvents(undefined, 'r1', [runEvent('e', { status: 'failed', startedAt: T0, endedAt: T0 + 4000 })]);
    const slot = [...contributions(s).values()].filter((c) => c.ref.family === 'slot');
    expect(slot).toHaveLength(1);
    expect(slot[0]!.counters).toMatchObject({ finished: 1, failed: 1 });
  });
});
