import { describe, expect, it } from 'vitest';
import { applyEvents, type PricedEvent, type RunState } from '../../shared/aggregate/run-state.ts';
import { crosses, eventFirings, ruleInput, runFirings } from '../../shared/alerts/rules.ts';
import type { AlertRule } from '../../shared/store/control-table.ts';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

function rule(metric: string, over: Partial<AlertRule> = {}): AlertRule {
  return { ruleId: `rl_${metric}`, tenantId: 't', name: metric, metric, op: '>', threshold: 1, webhookId: 'wh', createdAt: '', ...over };
}
function llm(id: string, costUsd: number, over: Record<string, unknown> = {}): PricedEvent {
  return {
    type: 'step',
    eventId: id,
    runId: 'r1',
    redactions: 0,
    costNanos: Math.round(costUsd * 1e9),
    step: { stepId: id, kind: 'llm', name: 'chat', startedAt: T0, endedAt: T0 + 1000, status: 'ok', model: 'claude-sonnet-4-5', usage: { inputTokens: 100, outputTokens: 50 }, ...over },
  } as PricedEvent;
}
const run = (id: string, fields: Record<string, unknown>): PricedEvent => ({ type: 'run', eventId: id, runId: 'r1', at: T0, redactions: 0, run: fields }) as PricedEvent;
const log = (id: string, level: string): PricedEvent => ({ type: 'log', eventId: id, runId: 'r1', at: T0, level, message: 'm', redactions: 0 }) as PricedEvent;
const check = (id: string, passed: boolean): PricedEvent => ({ type: 'assertion', eventId: id, runId: 'r1', at: T0, name: 'tests', passed, redactions: 0 }) as PricedEvent;

/** Folds events one request at a time and collects the run firings of each request. */
function firingsOver(rules: AlertRule[], ...requests: PricedEvent[][]) {
  let state: RunState | undefined;
  return requests.map((events) => {
    const before = state;
    state = applyEvents(before, 'r1', events);
    return runFirings(rules, before, state).map((f) => [f.rule.metric, f.value]);
  });
}

describe('run rules', () => {
  it('fire in the request where the run crosses, and never again for that run', () => {
    expect(firingsOver([rule('run.cost_usd')], [llm('a', 0.6)], [llm('b', 0.7)], [llm('c', 0.5)])).toEqual([[], [['run.cost_usd', 1.3]], []]);
  });

  it('do not fire when a crossing is only touched, not passed (strict >)', () => {
    expect(firingsOver([rule('run.cost_usd')], [llm('a', 0.5), llm('b', 0.5)])).toEqual([[]]);
    expect(firingsOver([rule('run.cost_usd', { op: '>=' })], [llm('a', 0.5), llm('b', 0.5)])).toEqual([[['run.cost_usd', 1]]]);
  });

  it('watch each run metric', () => {
    const rules = [
      rule('run.tokens', { threshold: 250 }),
      rule('run.llm_calls', { threshold: 1 }),
      rule('run.tool_calls', { threshold: 0 }),
      rule('run.errors', { threshold: 0 }),
      rule('run.duration_ms', { threshold: 59_999 }),
    ];
    const events = [
      llm('a', 0.1),
      llm('b', 0.1, { startedAt: T0 + 2000 }),
      llm('t', 0, { kind: 'tool', model: undefined, usage: undefined, status: 'error' }),
      run('end', { status: 'failed', startedAt: T0, endedAt: T0 + 60_000 }),
    ];
    expect(Object.fromEntries(firingsOver(rules, events)[0]!)).toEqual({
      'run.tokens': 300,
      'run.llm_calls': 2,
      'run.tool_calls': 1,
      'run.errors': 1,
      'run.duration_ms': 60_000,
    });
  });

  it('fire once the run matches the filters, even when the repo is learnt after the cost was over', () => {
    const rules = [rule('run.cost_usd', { filters: { repo: 'api', model: 'claude-sonnet-4-5' } })];
    expect(firingsOver(rules, [llm('a', 2)], [run('r', { repo: 'web' })])).toEqual([[], []]);
    expect(firingsOver(rules, [llm('a', 2)], [run('r', { repo: 'api' })])).toEqual([[], [['run.cost_usd', 2]]]);
    expect(firingsOver([rule('run.cost_usd', { filters: { model: 'gpt-5' } })], [llm('a', 2)])).toEqual([[]]);
  });

  it('name the run as the cause, so the alert id is the same for every retry', () => {
    const after = applyEvents(undefined, 'r1', [llm('a', 2)]);
    expect(runFirings([rule('run.cost_usd')], undefined, after)).toEqual([
      { rule: rule('run.cost_usd'), value: 2, runId: 'r1', cause: 'run:r1' },
    ]);
  });
});

describe('event rules', () => {
  it('fire once for each failed assertion and each error log among the new events', () => {
    const rules = [rule('assertion.failed', { op: '>=', threshold: 1 }), rule('log.error', { op: '>=', threshold: 1 })];
    const events = [check('c1', true), check('c2', false), check('c3', false), log('l1', 'warn'), log('l2', 'error')];
    const state = applyEvents(undefined, 'r1', events);
    expect(eventFirings(rules, state, events).map((f) => [f.rule.metric, f.cause, f.value])).toEqual([
      ['assertion.failed', 'event:c2', 1],
      ['assertion.failed', 'event:c3', 1],
      ['log.error', 'event:l2', 1],
    ]);
  });

  it('respect the filters of the rule', () => {
    const events = [run('r', { repo: 'web', agent: 'codex' }), log('l1', 'error')];
    const state = applyEvents(undefined, 'r1', events);
    expect(eventFirings([rule('log.error', { op: '>=', filters: { repo: 'api' } })], state, events)).toEqual([]);
    expect(eventFirings([rule('log.error', { op: '>=', filters: { repo: 'web', agent: 'codex' } })], state, events)).toHaveLength(1);
  });
});

describe('comparison', () => {
  it.each([
    ['>', 2, 1, true], ['>', 1, 1, false],
    ['>=', 1, 1, true], ['>=', 0.9, 1, false],
    ['<', 0, 1, true], ['<', 1, 1, false],
    ['<=', 1, 1, true], ['<=', 1.1, 1, false],
  ] as const)('%s: %d against %d is %s', (op, value, threshold, expected) => {
    expect(crosses(op, value, threshold)).toBe(expected);
  });
});

describe('rule input', () => {
  const valid = { tenantId: 't', name: 'n', metric: 'run.cost_usd', op: '>', threshold: 1, webhookId: 'wh' };
  const messages = (input: unknown) => {
    const r = ruleInput.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts every kind of metric with the window it needs', () => {
    expect(messages(valid)).toEqual([]);
    expect(messages({ ...valid, metric: 'p95_run_duration_ms', window: '24h', filters: { repo: 'a', agent: 'b', model: 'c', branch: 'd' } })).toEqual([]);
    expect(messages({ ...valid, metric: 'log.error' })).toEqual([]);
  });

  it('says which field is wrong and how', () => {
    expect(messages({ ...valid, metric: 'cost_usd' })).toEqual(['window: metric cost_usd needs a window: "5m", "1h" or "24h"']);
    expect(messages({ ...valid, window: '1h' })).toEqual(['window: metric run.cost_usd is not windowed; omit window']);
    expect(messages({ ...valid, metric: 'run.mood' })[0]).toMatch(/^metric: /);
    expect(messages({ ...valid, threshold: Number.POSITIVE_INFINITY })[0]).toMatch(/^threshold: /);
    expect(messages({ ...valid, extra: 1 })).toHaveLength(1);
  });
});
