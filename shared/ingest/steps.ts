import type { PricedEvent } from '../aggregate/run-state.ts';

/** The compact step summary kept in a run's step chunks, for the run timeline (`runs.get`). */
export interface StepRecord {
  stepId: string;
  parentStepId?: string;
  kind: string;
  name: string;
  startedAt: number;
  endedAt?: number;
  status: 'ok' | 'error';
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  costNanos?: number;
  error?: string;
}

const clip = (s: string | undefined, n: number) => (s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}…` : s);

export function toStepRecord(e: PricedEvent & { type: 'step' }): StepRecord {
  const st = e.step;
  return {
    stepId: st.stepId,
    parentStepId: st.parentStepId,
    kind: st.kind,
    name: clip(st.name, 256)!,
    startedAt: st.startedAt,
    endedAt: st.endedAt,
    status: st.status,
    model: st.model,
    inputTokens: st.usage?.inputTokens,
    outputTokens: st.usage?.outputTokens,
    cacheReadTokens: st.usage?.cacheReadTokens,
    cacheWriteTokens: st.usage?.cacheWriteTokens,
    costNanos: e.costNanos,
    // the full error stays in the raw object; the timeline keeps a readable head of it
    error: clip(st.error, 500),
  };
}
