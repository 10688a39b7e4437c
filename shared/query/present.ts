import { durationMs, type RunState } from '../aggregate/run-state.ts';
import type { StepRecord } from '../ingest/steps.ts';

/** The public shapes of CONTRACT.md (Run, Step): ISO times, dollars, no storage details. */
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function presentRun(tenantId: string, s: RunState) {
  return {
    tenantId,
    runId: s.runId,
    traceId: s.traceId,
    agent: s.agent,
    repo: s.repo,
    branch: s.branch,
    commit: s.commit,
    status: s.status,
    outcome: s.outcome,
    startedAt: iso(s.startedAt)!,
    endedAt: iso(s.endedAt),
    durationMs: durationMs(s),
    models: s.models,
    inputTokens: s.inputTokens,
    outputTokens: s.outputTokens,
    cacheReadTokens: s.cacheReadTokens,
    cacheWriteTokens: s.cacheWriteTokens,
    costUsd: s.costNanos / 1e9,
    unpricedTokens: s.unpricedTokens,
    llmCalls: s.llmCalls,
    toolCalls: s.toolCalls,
    errors: s.errors,
    redactions: s.redactions,
    attributes: s.attributes,
  };
}
export type Run = ReturnType<typeof presentRun>;

export function presentStep(r: StepRecord) {
  return {
    stepId: r.stepId,
    parentStepId: r.parentStepId,
    kind: r.kind,
    name: r.name,
    startedAt: iso(r.startedAt)!,
    endedAt: iso(r.endedAt),
    durationMs: r.endedAt === undefined ? undefined : Math.max(0, r.endedAt - r.startedAt),
    status: r.status,
    model: r.model,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    costUsd: r.costNanos === undefined ? undefined : r.costNanos / 1e9,
    error: r.error,
  };
}
export type Step = ReturnType<typeof presentStep>;

/** Several events may describe one step (a start, then an end): later values fill in, counters add. */
export function mergeSteps(records: readonly StepRecord[]): StepRecord[] {
  const byId = new Map<string, StepRecord>();
  for (const r of records) {
    const cur = byId.get(r.stepId);
    if (!cur) {
      byId.set(r.stepId, { ...r });
      continue;
    }
    const add = (a?: number, b?: number) => (a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0));
    byId.set(r.stepId, {
      ...cur,
      ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)),
      startedAt: Math.min(cur.startedAt, r.startedAt),
      endedAt: cur.endedAt === undefined ? r.endedAt : r.endedAt === undefined ? cur.endedAt : Math.max(cur.endedAt, r.endedAt),
      status: cur.status === 'error' || r.status === 'error' ? 'error' : 'ok',
      inputTokens: add(cur.inputTokens, r.inputTokens),
      outputTokens: add(cur.outputTokens, r.outputTokens),
      cacheReadTokens: add(cur.cacheReadTokens, r.cacheReadTokens),
      cacheWriteTokens: add(cur.cacheWriteTokens, r.cacheWriteTokens),
      costNanos: add(cur.costNanos, r.costNanos),
    } as StepRecord);
  }
  return [...byId.values()].sort((a, b) => a.startedAt - b.startedAt || a.stepId.localeCompare(b.stepId));
}
