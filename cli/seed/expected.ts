import { priceStep } from '../../shared/pricing/price.ts';
import type { NativeEvent, RunEvent } from './events.ts';
import type { RollupRow } from '../../shared/query/rollup.ts';

/**
 * What Lidless should answer for a set of native events, recomputed the slow way from the events
 * themselves (CONTRACT.md semantics), so that tests and the benchmark can check the run index and the
 * rollups against it. Events are taken once each (duplicates by id are ignored, as ingest does).
 */
export interface ExpectedRun {
  runId: string;
  agent?: string;
  repo?: string;
  branch?: string;
  traceId?: string;
  status: NonNullable<RunEvent['status']>;
  outcome?: NonNullable<RunEvent['outcome']>;
  startedAt: number;
  endedAt: number;
  models: string[];
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
  steps: number;
  events: number;
}

const USEFUL = new Set(['merged_change', 'green_build', 'fixed_incident']);
const ms = (t: string) => Date.parse(t);
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** A step's cost as ingest computes it: the client's cost, else the price table at the step's start; in nano-dollars. */
function stepCostNanos(e: Extract<NativeEvent, { type: 'step' }>): number {
  const { costUsd } = priceStep({ model: e.model, usage: e.usage, costUsd: e.costUsd, at: ms(e.startedAt) });
  return costUsd === undefined ? 0 : Math.round(costUsd * 1e9);
}

function unique(events: readonly NativeEvent[]): NativeEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.id) && seen.add(e.id));
}

export function expectedRuns(events: readonly NativeEvent[]): Map<string, ExpectedRun> {
  const runs = new Map<string, ExpectedRun>();
  const explicitEnd = new Map<string, number>();
  for (const e of unique(events)) {
    const at = e.type === 'step' ? ms(e.startedAt) : ms(e.timestamp);
    const end = e.type === 'step' ? Math.max(at, e.endedAt ? ms(e.endedAt) : at) : at;
    let r = runs.get(e.runId);
    if (!r) {
      r = { runId: e.runId, status: 'running', startedAt: at, endedAt: end, models: [], costNanos: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, llmCalls: 0, toolCalls: 0, errors: 0, steps: 0, events: 0 };
      runs.set(e.runId, r);
    }
    r.events += 1;
    r.startedAt = Math.min(r.startedAt, at);
    r.endedAt = Math.max(r.endedAt, end);
    if (e.type === 'run') {
      for (const k of ['agent', 'repo', 'branch', 'traceId', 'outcome', 'status'] as const) if (e[k] !== undefined) (r as unknown as Record<string, unknown>)[k] = e[k];
      if (e.startedAt) r.startedAt = Math.min(r.startedAt, ms(e.startedAt));
      if (e.endedAt) explicitEnd.set(e.runId, Math.max(explicitEnd.get(e.runId) ?? 0, ms(e.endedAt)));
    } else if (e.type === 'step') {
      r.steps += 1;
      r.costNanos += stepCostNanos(e);
      r.inputTokens += e.usage?.inputTokens ?? 0;
      r.outputTokens += e.usage?.outputTokens ?? 0;
      r.cacheReadTokens += e.usage?.cacheReadTokens ?? 0;
      r.cacheWriteTokens += e.usage?.cacheWriteTokens ?? 0;
      if (e.kind === 'llm') r.llmCalls += 1;
      if (e.kind === 'tool') r.toolCalls += 1;
      if (e.status === 'error') r.errors += 1;
      if (e.model && !r.models.includes(e.model)) r.models.push(e.model);
    } else if (e.type === 'log' && e.level === 'error') {
      r.errors += 1;
    }
  }
  // a run event's end stands; a run without one reaches as far as its latest event
  for (const [runId, end] of explicitEnd) runs.get(runId)!.endedAt = end;
  for (const r of runs.values()) r.models.sort();
  return runs;
}

export const GROUP_BYS = ['day', 'model', 'repo', 'agent', 'outcome', 'branch'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

export interface RollupQuery {
  /** epoch ms; whole UTC days are counted, from the day of `from` to the last day starting before `to` */
  from: number;
  to: number;
  groupBy: GroupBy;
  repo?: string;
  agent?: string;
  model?: string;
}

/** The oracle computes its rows independently, in the shape the API answers. */
export type ExpectedRow = RollupRow;

interface Acc {
  runs: number;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  wallTimeMs: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
  usefulOutcomes: number;
}
const empty = (): Acc => ({ runs: 0, costNanos: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, wallTimeMs: 0, llmCalls: 0, toolCalls: 0, errors: 0, usefulOutcomes: 0 });

function toRow(key: string, a: Acc): ExpectedRow {
  const { costNanos, ...rest } = a;
  const costUsd = costNanos / 1e9;
  return { key, ...rest, costUsd, costPerUsefulOutcomeUsd: a.usefulOutcomes > 0 ? costUsd / a.usefulOutcomes : null };
}

/**
 * The cost rollup of CONTRACT.md from the events: a run counts on the day it started (and, grouped by
 * model, under every model it used); costs, tokens and calls count on the day their step started,
 * under the step's model; a missing dimension, a step's model included, is "unknown".
 */
export function expectedRollup(events: readonly NativeEvent[], q: RollupQuery): { rows: ExpectedRow[]; totals: Omit<ExpectedRow, 'key'> } {
  const runs = expectedRuns(events);
  const firstDay = Date.parse(`${dayOf(q.from)}T00:00:00Z`);
  const inRange = (t: number) => t >= firstDay && t < q.to && Date.parse(`${dayOf(t)}T00:00:00Z`) < q.to;
  const groups = new Map<string, Acc>();
  const totals = empty();
  const acc = (key: string) => {
    const a = groups.get(key) ?? empty();
    groups.set(key, a);
    return a;
  };
  const dimKey = (r: ExpectedRun, t: number) => (q.groupBy === 'day' ? dayOf(t) : ((r as unknown as Record<string, string | undefined>)[q.groupBy] ?? 'unknown'));
  const selected = (r: ExpectedRun) => (q.repo === undefined || r.repo === q.repo) && (q.agent === undefined || r.agent === q.agent);

  // steps without a model, and error logs, are the model "unknown"; a run counts under each model it
  // used, and under "unknown" when it has such steps that count anything, or used no model at all
  const modelOf = (e: NativeEvent) => (e.type === 'step' ? (e.model ?? 'unknown') : 'unknown');
  const countsAnything = (e: NativeEvent) =>
    e.type === 'step'
      ? stepCostNanos(e) > 0 || e.kind === 'llm' || e.kind === 'tool' || e.status === 'error' || Object.values(e.usage ?? {}).some((n) => n > 0)
      : e.type === 'log' && e.level === 'error';
  const runModels = new Map([...runs.values()].map((r) => [r.runId, new Set(r.models)]));
  for (const e of unique(events)) if (countsAnything(e) && modelOf(e) === 'unknown') runModels.get(e.runId)!.add('unknown');
  for (const models of runModels.values()) if (models.size === 0) models.add('unknown');

  // run counters
  for (const r of runs.values()) {
    if (!selected(r) || !inRange(r.startedAt)) continue;
    const models = [...runModels.get(r.runId)!];
    if (q.model !== undefined && !models.includes(q.model)) continue;
    const keys = q.groupBy === 'model' ? models.filter((m) => q.model === undefined || m === q.model) : [dimKey(r, r.startedAt)];
    for (const a of [...keys.map(acc), totals]) {
      a.runs += 1;
      a.wallTimeMs += Math.max(0, r.endedAt - r.startedAt);
      a.usefulOutcomes += r.outcome && USEFUL.has(r.outcome) ? 1 : 0;
    }
  }
  // step counters, and error logs
  for (const e of unique(events)) {
    const r = runs.get(e.runId)!;
    if (!selected(r)) continue;
    if (e.type === 'step') {
      const at = ms(e.startedAt);
      const model = modelOf(e);
      if (!inRange(at) || (q.model !== undefined && model !== q.model)) continue;
      const targets = [totals, acc(q.groupBy === 'model' ? model : dimKey(r, at))];
      for (const a of targets) {
        a.costNanos += stepCostNanos(e);
        a.inputTokens += e.usage?.inputTokens ?? 0;
        a.outputTokens += e.usage?.outputTokens ?? 0;
        a.cacheReadTokens += e.usage?.cacheReadTokens ?? 0;
        a.cacheWriteTokens += e.usage?.cacheWriteTokens ?? 0;
        a.llmCalls += e.kind === 'llm' ? 1 : 0;
        a.toolCalls += e.kind === 'tool' ? 1 : 0;
        a.errors += e.status === 'error' ? 1 : 0;
      }
    } else if (e.type === 'log' && e.level === 'error' && (q.model === undefined || q.model === 'unknown')) {
      const at = ms(e.timestamp);
      if (!inRange(at)) continue;
      totals.errors += 1;
      acc(q.groupBy === 'model' ? 'unknown' : dimKey(r, at)).errors += 1;
    }
  }
  const rows = [...groups.entries()].map(([k, a]) => toRow(k, a));
  const { key: _key, ...total } = toRow('total', totals);
  return { rows, totals: total };
}
