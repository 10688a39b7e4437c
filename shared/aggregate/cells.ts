import { createHash } from 'node:crypto';
import { USEFUL_OUTCOMES } from '../model.ts';
import { STEP_COUNTER_NAMES, SLOT_MS, durationMs, slotOf, type RunState } from './run-state.ts';

/**
 * Pre-aggregated cells. A run contributes counters to two families of cells:
 *
 * - day cells (cost rollups): tenant × UTC day × (repo, agent, branch, outcome, model). A run counts on
 *   the day it started (in its `*` cell and in the cell of every model it used); costs, tokens and calls
 *   count on the day they were incurred, under the model of the step (`*` for steps without a model).
 * - slot cells (windowed alerts): tenant × 5-minute slot × (repo, agent, branch, model): cost incurred,
 *   and runs finished / failed with a duration histogram at the slot the run ended.
 *
 * Contributions are a pure function of the run's state. Ingest computes them before and after applying
 * new events and writes the difference, so a run whose repo or outcome becomes known later moves its
 * counters between cells instead of being counted twice.
 */
export interface CellDims {
  repo: string;
  agent: string;
  branch: string;
  outcome?: string;
  model: string;
}

export type CellFamily = 'day' | 'slot';

export interface CellRef {
  family: CellFamily;
  /** day cells: `YYYY-MM-DD`; slot cells: the slot start, epoch ms */
  period: string;
  dims: CellDims;
}

export type Counters = Record<string, number>;

const UNKNOWN = 'unknown';

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function cellId(ref: CellRef): string {
  const d = ref.dims;
  const dimsKey = createHash('sha256')
    .update(JSON.stringify([d.repo, d.agent, d.branch, d.outcome ?? null, d.model]))
    .digest('base64url')
    .slice(0, 16);
  return `${ref.family}|${ref.period}|${dimsKey}`;
}

/** Histogram bins of run durations for p95: quarter-octaves of milliseconds. */
export function durationBin(ms: number): number {
  return ms <= 1 ? 0 : Math.min(160, Math.floor(Math.log2(ms) * 4));
}
export function binUpperMs(bin: number): number {
  return Math.round(2 ** ((bin + 1) / 4));
}

function add(map: Map<string, { ref: CellRef; counters: Counters }>, ref: CellRef, counters: Counters): void {
  const id = cellId(ref);
  const cur = map.get(id);
  if (!cur) {
    map.set(id, { ref, counters: { ...counters } });
    return;
  }
  for (const [k, v] of Object.entries(counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
}

export function contributions(s: RunState | undefined): Map<string, { ref: CellRef; counters: Counters }> {
  const out = new Map<string, { ref: CellRef; counters: Counters }>();
  if (!s) return out;
  const repo = s.repo ?? UNKNOWN;
  const agent = s.agent ?? UNKNOWN;
  const branch = s.branch ?? UNKNOWN;
  const outcome = s.outcome ?? UNKNOWN;
  const dayDims = (model: string): CellDims => ({ repo, agent, branch, outcome, model });
  const slotDims = (model: string): CellDims => ({ repo, agent, branch, model });

  // run-level counters on the start day, in the `*` cell and in each model's cell
  const wall = durationMs(s) ?? 0;
  const useful = s.outcome && USEFUL_OUTCOMES.has(s.outcome) ? 1 : 0;
  const runCounters = { runs: 1, wallTimeMs: wall, usefulOutcomes: useful };
  const startDay = dayOf(s.startedAt);
  for (const model of ['*', ...new Set(s.models)]) add(out, { family: 'day', period: startDay, dims: dayDims(model) }, runCounters);

  // step counters where and when they were incurred
  for (const [key, values] of Object.entries(s.contrib)) {
    const sep = key.indexOf('|');
    const slot = Number(key.slice(0, sep));
    const model = key.slice(sep + 1);
    const counters: Counters = {};
    STEP_COUNTER_NAMES.forEach((name, i) => {
      if (values[i]) counters[name] = values[i]!;
    });
    add(out, { family: 'day', period: dayOf(slot), dims: dayDims(model) }, counters);
    if (counters.costNanos) add(out, { family: 'slot', period: String(slot), dims: slotDims(model) }, { costNanos: counters.costNanos });
  }

  // finished runs at the slot they ended, for runs_failed, error_rate and p95 duration
  if (s.status !== 'running' && s.endedAt !== undefined) {
    const fin: Counters = { finished: 1, failed: s.status === 'failed' ? 1 : 0, [`h${durationBin(wall)}`]: 1 };
    for (const model of ['*', ...new Set(s.models)]) add(out, { family: 'slot', period: String(slotOf(s.endedAt)), dims: slotDims(model) }, fin);
  }
  return out;
}

/** after − before, per cell, without zero entries. */
export function diffContributions(
  before: Map<string, { ref: CellRef; counters: Counters }>,
  after: Map<string, { ref: CellRef; counters: Counters }>,
): Map<string, { ref: CellRef; counters: Counters }> {
  const out = new Map<string, { ref: CellRef; counters: Counters }>();
  for (const [id, { ref, counters }] of after) {
    const prev = before.get(id)?.counters ?? {};
    const delta: Counters = {};
    for (const k of new Set([...Object.keys(counters), ...Object.keys(prev)])) {
      const d = (counters[k] ?? 0) - (prev[k] ?? 0);
      if (d !== 0) delta[k] = d;
    }
    if (Object.keys(delta).length) out.set(id, { ref, counters: delta });
  }
  for (const [id, { ref, counters }] of before) {
    if (after.has(id)) continue;
    const delta: Counters = {};
    for (const [k, v] of Object.entries(counters)) if (v !== 0) delta[k] = -v;
    if (Object.keys(delta).length) out.set(id, { ref, counters: delta });
  }
  return out;
}

/** Sums several runs' deltas into one map (a transaction touches each cell once). */
export function mergeInto(
  target: Map<string, { ref: CellRef; counters: Counters }>,
  more: Map<string, { ref: CellRef; counters: Counters }>,
): void {
  for (const [, { ref, counters }] of more) add(target, ref, counters);
}

export { SLOT_MS };
