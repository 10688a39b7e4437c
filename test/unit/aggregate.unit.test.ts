import { describe, expect, it } from 'vitest';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { contributions, diffContributions, modelCounter, type CellMap } from '../../shared/aggregate/cells.ts';
import { dayCellDeltas } from '../../shared/aggregate/stream.ts';
import { encodeRun } from '../../shared/store/runs-table.ts';
import { EventHashes } from '../../shared/store/run-item.ts';
import { windowDeltas } from '../../shared/alerts/window-counters.ts';
import type { StepInput } from '../../shared/model.ts';
import type { AlertRule } from '../../shared/store/control-table.ts';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

function step(id: string, over: Partial<StepInput> = {}, costNanos?: number): PricedEvent {
  const s: StepInput = { stepId: id, kind: 'llm', name: 'chat', startedAt: T0 + 1000, endedAt: T0 + 2000, status: 'ok', model: 'm1', usage: { inputTokens: 10, outputTokens: 5 }, ...over };
  return { type: 'step', eventId: id, runId: 'r1', redactions: 0, costNanos, step: s };
}
const runEvent = (id: string, run: Record<string, unknown>): PricedEvent => ({ type: 'run', eventId: id, runId: 'r1', at: T0, run, redactions: 0 }) as PricedEvent;

const sum = (cells: CellMap, key: string, where: (repo: string) => boolean = () => true) =>
  [...cells.values()].filter((c) => where(c.ref.dims.repo)).reduce((a, c) => a + (c.counters[key] ?? 0), 0);

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

describe('day cells', () => {
  it('moves a run between cells when its repo becomes known, without counting it twice', () => {
    const before = applyEvents(undefined, 'r1', [step('a', {}, 2000)]);
    const after = applyEvents(before, 'r1', [runEvent('e', { repo: 'web', outcome: 'merged_change' })]);
    const delta = diffContributions(contributions(before), contributions(after));
    // the run and its cost leave the `unknown` cell and arrive in `web`: the day totals do not change
    expect(sum(delta, 'runs')).toBe(0);
    expect(sum(delta, 'costNanos')).toBe(0);
    expect(sum(delta, 'runs', (r) => r === 'web')).toBe(1);
    expect(sum(delta, 'usefulOutcomes', (r) => r === 'web')).toBe(1);
    expect(sum(delta, modelCounter('m1', 'costNanos'), (r) => r === 'web')).toBe(2000);
  });

  it('counts a run once on its start day and its costs on the day they were incurred', () => {
    const late = T0 + 86_400_000;
    const s = applyEvents(undefined, 'r1', [step('a', {}, 100), step('b', { startedAt: late, endedAt: late + 10 }, 300)]);
    const cells = [...contributions(s).values()];
    const byDay = (day: string, k: string) => cells.filter((c) => c.ref.day === day).reduce((a, c) => a + (c.counters[k] ?? 0), 0);
    expect(byDay('2026-11-20', 'costNanos')).toBe(100);
    expect(byDay('2026-11-21', 'costNanos')).toBe(300);
    expect(byDay('2026-11-20', 'runs') + byDay('2026-11-21', 'runs')).toBe(1);
    expect(byDay('2026-11-20', modelCounter('m1', 'runs'))).toBe(1);
  });
});

describe('day summaries', () => {
  it('hold the day total with its models, and one item per value of each dimension that add up to it', () => {
    const a = applyEvents(undefined, 'r1', [step('a', {}, 100), runEvent('e', { repo: 'web', branch: 'main', agent: 'codex', outcome: 'green_build' })]);
    const b = applyEvents(undefined, 'r2', [{ ...step('b', { model: 'm2' }, 300), runId: 'r2' } as PricedEvent, { ...runEvent('f', { repo: 'api', branch: 'main' }), runId: 'r2' } as PricedEvent]);
    // two new runs of one tenant, as the stream delivers them
    const created = (state: typeof a, i: number) => ({ eventId: `e${i}`, newImage: encodeRun('t', { state, ver: 1, ttl: 0, ev: EventHashes.none, chunks: [], inline: [], pages: [], retentionDays: 30 }), createdAtMs: T0 });
    const sums = dayCellDeltas([created(a, 1), created(b, 2)]).get('t')!;
    const of = (kind: string) => [...sums.values()].filter((c) => c.ref.summary === kind);

    expect(of('T')).toHaveLength(1);
    expect(of('T')[0]!.counters).toMatchObject({ runs: 2, costNanos: 400, usefulOutcomes: 1, [modelCounter('m1', 'costNanos')]: 100, [modelCounter('m2', 'runs')]: 1 });
    expect(of('repo').map((c) => [c.ref.dims.repo, c.counters.costNanos]).sort()).toEqual([['api', 300], ['web', 100]]);
    expect(of('branch').map((c) => [c.ref.dims.branch, c.counters.runs])).toEqual([['main', 2]]);
    expect(of('agent').map((c) => c.ref.dims.agent).sort()).toEqual(['codex', 'unknown']);
    // per-dimension items carry no per-model counters: only the total answers by model
    expect(of('outcome').every((c) => Object.keys(c.counters).every((k) => !k.startsWith('m|')))).toBe(true);
  });
});

describe('windowed rule counters', () => {
  const rule = (metric: string, filters?: AlertRule['filters']): AlertRule =>
    ({ ruleId: metric, tenantId: 't', name: metric, metric, op: '>', threshold: 0, window: '5m', filters, webhookId: 'w', createdAt: '' }) as AlertRule;

  it('adds new step costs and a run once when it finishes, only for rules whose filters match', () => {
    const before = applyEvents(undefined, 'r1', [{ ...step('a', {}, 700), run: { repo: 'web' } } as PricedEvent]);
    const fin = runEvent('e', { status: 'failed', endedAt: T0 + 4000 });
    const after = applyEvents(before, 'r1', [fin]);
    const rules = [rule('cost_usd'), rule('runs_failed'), rule('runs_failed', { repo: 'api' })];
    expect(windowDeltas(rules, undefined, before, [step('a', {}, 700)])).toEqual([{ ruleId: 'cost_usd', slot: T0, counters: { costNanos: 700 } }]);
    const finished = windowDeltas(rules, before, after, [fin]);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ ruleId: 'runs_failed', counters: { finished: 1, failed: 1 } });
    // a later event of a finished run does not count it again
    expect(windowDeltas(rules, after, applyEvents(after, 'r1', [step('z')]), [step('z')])).toEqual([]);
  });
});
