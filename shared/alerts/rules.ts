import { z } from 'zod';
import type { AlertRule, RuleFilters } from '../store/control-table.ts';
import { durationMs, type PricedEvent, type RunState } from '../aggregate/run-state.ts';

/**
 * Alert rules: which metrics exist, how a rule compares, and when a per-run or per-event rule fires.
 * Pure functions; windowed rules are evaluated by shared/alerts/evaluate-windows.ts.
 */
export const RUN_METRICS = {
  'run.cost_usd': (s: RunState) => s.costNanos / 1e9,
  'run.duration_ms': (s: RunState) => durationMs(s) ?? 0,
  'run.tokens': (s: RunState) => s.inputTokens + s.outputTokens + s.cacheReadTokens + s.cacheWriteTokens,
  'run.errors': (s: RunState) => s.errors,
  'run.llm_calls': (s: RunState) => s.llmCalls,
  'run.tool_calls': (s: RunState) => s.toolCalls,
} as const;
export const WINDOW_METRICS = ['cost_usd', 'runs_failed', 'error_rate', 'p95_run_duration_ms'] as const;
export const EVENT_METRICS = ['assertion.failed', 'log.error'] as const;
export const ALL_METRICS = [...Object.keys(RUN_METRICS), ...WINDOW_METRICS, ...EVENT_METRICS] as unknown as [string, ...string[]];

export const ruleInput = z
  .strictObject({
    tenantId: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    metric: z.enum(ALL_METRICS),
    op: z.enum(['>', '>=', '<', '<=']),
    threshold: z.number().finite(),
    window: z.enum(['5m', '1h', '24h']).optional(),
    filters: z
      .strictObject({
        repo: z.string().max(1024).optional(),
        agent: z.string().max(1024).optional(),
        model: z.string().max(1024).optional(),
        branch: z.string().max(1024).optional(),
      })
      .optional(),
    webhookId: z.string().min(1).max(64),
  })
  .superRefine((r, ctx) => {
    const windowed = (WINDOW_METRICS as readonly string[]).includes(r.metric);
    if (windowed && !r.window) ctx.addIssue({ code: 'custom', path: ['window'], message: `metric ${r.metric} needs a window: "5m", "1h" or "24h"` });
    if (!windowed && r.window) ctx.addIssue({ code: 'custom', path: ['window'], message: `metric ${r.metric} is not windowed; omit window` });
  });

export function isRunMetric(m: string): m is keyof typeof RUN_METRICS {
  return m in RUN_METRICS;
}
export function isWindowMetric(m: string): boolean {
  return (WINDOW_METRICS as readonly string[]).includes(m);
}

export function crosses(op: AlertRule['op'], value: number, threshold: number): boolean {
  switch (op) {
    case '>': return value > threshold;
    case '>=': return value >= threshold;
    case '<': return value < threshold;
    case '<=': return value <= threshold;
  }
}

export function runMatches(filters: RuleFilters | undefined, s: RunState, model?: string): boolean {
  if (!filters) return true;
  if (filters.repo !== undefined && s.repo !== filters.repo) return false;
  if (filters.agent !== undefined && s.agent !== filters.agent) return false;
  if (filters.branch !== undefined && s.branch !== filters.branch) return false;
  if (filters.model !== undefined && !(model ? model === filters.model : s.models.includes(filters.model))) return false;
  return true;
}

export interface Firing {
  rule: AlertRule;
  value: number;
  runId?: string;
  /** what makes this firing unique: the run for run rules, the event for event rules */
  cause: string;
}

/** Run rules fire once per run and rule: when the run crosses, i.e. the rule held after but not before. */
export function runFirings(rules: readonly AlertRule[], before: RunState | undefined, after: RunState): Firing[] {
  const out: Firing[] = [];
  for (const rule of rules) {
    if (!isRunMetric(rule.metric)) continue;
    const f = RUN_METRICS[rule.metric];
    const nowHolds = runMatches(rule.filters, after) && crosses(rule.op, f(after), rule.threshold);
    const heldBefore = before !== undefined && runMatches(rule.filters, before) && crosses(rule.op, f(before), rule.threshold);
    if (nowHolds && !heldBefore) out.push({ rule, value: f(after), runId: after.runId, cause: `run:${after.runId}` });
  }
  return out;
}

/** `assertion.failed` and `log.error` fire on each such (new) event. */
export function eventFirings(rules: readonly AlertRule[], run: RunState, events: readonly PricedEvent[]): Firing[] {
  const out: Firing[] = [];
  for (const rule of rules) {
    if (rule.metric !== 'assertion.failed' && rule.metric !== 'log.error') continue;
    if (!runMatches(rule.filters, run)) continue;
    const matching = events.filter((e) =>
      rule.metric === 'assertion.failed' ? e.type === 'assertion' && !e.passed : e.type === 'log' && e.level === 'error',
    );
    // the value is how many such events the run has seen in this request: 1 for each firing
    for (const e of matching) {
      if (crosses(rule.op, 1, rule.threshold)) out.push({ rule, value: 1, runId: run.runId, cause: `event:${e.eventId}` });
    }
  }
  return out;
}
