import type { Stores } from '../store/clients.ts';
import { readDayCells, type Cell } from '../store/rollups-table.ts';
import { dayOf } from '../aggregate/cells.ts';
import { BadRequestError } from '../errors.ts';

/**
 * Cost rollups, read from the day cells only: O(days × cells) reads, never a scan of events or runs.
 *
 * A cell's run counters (runs, wall time, useful outcomes) sit in its `*` cell and, for runs that used
 * a model, in that model's cell too; step counters (cost, tokens, calls, errors) sit under the model of
 * the step. So a `model` row takes everything from its model's cells, and every other grouping takes
 * run counters from `*` cells and step counters from all cells, which counts each run once.
 */
export const GROUP_BYS = ['day', 'model', 'repo', 'agent', 'outcome', 'branch'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

export interface RollupRow {
  key: string;
  runs: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  wallTimeMs: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
  usefulOutcomes: number;
  costPerUsefulOutcomeUsd: number | null;
}

const RUN_COUNTERS = ['runs', 'wallTimeMs', 'usefulOutcomes'] as const;
const STEP_COUNTERS = ['costNanos', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'llmCalls', 'toolCalls', 'errors'] as const;
const MAX_DAYS = 400;

type Acc = Record<(typeof RUN_COUNTERS)[number] | (typeof STEP_COUNTERS)[number], number>;
const emptyAcc = (): Acc => ({ runs: 0, wallTimeMs: 0, usefulOutcomes: 0, costNanos: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, llmCalls: 0, toolCalls: 0, errors: 0 });

function addCell(acc: Acc, cell: Cell, runCounters: boolean): void {
  if (runCounters) for (const k of RUN_COUNTERS) acc[k] += cell.counters[k] ?? 0;
  for (const k of STEP_COUNTERS) acc[k] += cell.counters[k] ?? 0;
}

function row(key: string, a: Acc): RollupRow {
  const costUsd = a.costNanos / 1e9;
  return {
    key,
    runs: a.runs,
    costUsd,
    inputTokens: a.inputTokens,
    outputTokens: a.outputTokens,
    cacheReadTokens: a.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens,
    wallTimeMs: a.wallTimeMs,
    llmCalls: a.llmCalls,
    toolCalls: a.toolCalls,
    errors: a.errors,
    usefulOutcomes: a.usefulOutcomes,
    costPerUsefulOutcomeUsd: a.usefulOutcomes > 0 ? costUsd / a.usefulOutcomes : null,
  };
}

export function daysBetween(fromMs: number, toMs: number): string[] {
  if (!(toMs > fromMs)) throw new BadRequestError('to: must be after from');
  const days: string[] = [];
  for (let d = Date.parse(`${dayOf(fromMs)}T00:00:00Z`); d < toMs; d += 86_400_000) {
    days.push(dayOf(d));
    if (days.length > MAX_DAYS) throw new BadRequestError(`the range spans more than ${MAX_DAYS} days`);
  }
  return days;
}

export interface RollupInput {
  tenantId: string;
  from: number;
  to: number;
  groupBy: GroupBy;
  repo?: string;
  agent?: string;
  model?: string;
}

export async function costRollup(s: Stores, q: RollupInput, now: number) {
  const { cells, consumedUnits } = await readDayCells(s, q.tenantId, daysBetween(q.from, q.to), Math.floor(now / 1000));
  const selected = cells.filter(
    (c) => (q.repo === undefined || c.dims.repo === q.repo) && (q.agent === undefined || c.dims.agent === q.agent),
  );
  const groups = new Map<string, Acc>();
  const totals = emptyAcc();
  for (const c of selected) {
    const isRunCell = c.dims.model === '*';
    if (q.model !== undefined) {
      // only the model's cells: its steps, and the runs that used it
      if (c.dims.model !== q.model) continue;
      addCell(totals, c, true);
    } else {
      addCell(totals, c, isRunCell);
    }
    let key: string;
    let runCounters: boolean;
    if (q.groupBy === 'model') {
      if (isRunCell) continue;
      key = c.dims.model;
      runCounters = true;
    } else {
      key = q.groupBy === 'day' ? c.period : (c.dims[q.groupBy] ?? 'unknown');
      runCounters = q.model !== undefined || isRunCell;
    }
    const acc = groups.get(key) ?? emptyAcc();
    addCell(acc, c, runCounters);
    groups.set(key, acc);
  }
  const rows = [...groups.entries()]
    .map(([k, a]) => row(k, a))
    .sort((a, b) => (q.groupBy === 'day' ? a.key.localeCompare(b.key) : b.costUsd - a.costUsd || a.key.localeCompare(b.key)));
  return { rows, totals: row('total', totals), consumedReadUnits: consumedUnits };
}
