import type { Stores } from '../store/clients.ts';
import { readDayCells, type Cell } from '../store/rollups-table.ts';
import { RUN_COUNTERS, dayOf, parseModelCounter, type SummaryKind } from '../aggregate/cells.ts';
import { BadRequestError } from '../errors.ts';

/**
 * Cost rollups, read from the day cells only: O(days × cells) reads, never a scan of events or runs.
 * Without filters, from the day summaries of the grouped dimension: O(days × its values), so the reads
 * do not grow with the number of runs or of combinations.
 *
 * A cell holds its totals (each run once, every step) and the same counters per model under
 * `m|<model>|<counter>` (the runs that used the model, the model's steps). A `model` row, or any row
 * when a model filter is given, is made of those per-model counters; every other row of the totals.
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

const STEP_COUNTERS = ['costNanos', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens', 'llmCalls', 'toolCalls', 'errors'] as const;
const MAX_DAYS = 400;

type Acc = Record<(typeof RUN_COUNTERS)[number] | (typeof STEP_COUNTERS)[number], number>;
const emptyAcc = (): Acc => ({ runs: 0, wallTimeMs: 0, usefulOutcomes: 0, costNanos: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, llmCalls: 0, toolCalls: 0, errors: 0 });

const FIELDS = [...RUN_COUNTERS, ...STEP_COUNTERS] as const;

function addCounters(acc: Acc, counters: Record<string, number>): void {
  for (const k of FIELDS) acc[k] += counters[k] ?? 0;
}

/** A cell's counters per model: `{ model: { counter: value } }`. */
function perModel(cell: Cell): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const [name, v] of Object.entries(cell.counters)) {
    const m = parseModelCounter(name);
    if (!m) continue;
    const cur = out.get(m.model) ?? {};
    cur[m.counter] = v;
    out.set(m.model, cur);
  }
  return out;
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
  const filtered = q.repo !== undefined || q.agent !== undefined || q.model !== undefined;
  const summary: SummaryKind | undefined = filtered ? undefined : q.groupBy === 'day' || q.groupBy === 'model' ? 'T' : q.groupBy;
  const { cells, consumedUnits } = await readDayCells(s, q.tenantId, daysBetween(q.from, q.to), Math.floor(now / 1000), summary);
  const selected = cells.filter(
    (c) => (q.repo === undefined || c.dims.repo === q.repo) && (q.agent === undefined || c.dims.agent === q.agent),
  );
  const groups = new Map<string, Acc>();
  const totals = emptyAcc();
  const addRow = (key: string, counters: Record<string, number>) => {
    const acc = groups.get(key) ?? emptyAcc();
    addCounters(acc, counters);
    groups.set(key, acc);
  };
  for (const c of selected) {
    const keyOf = () => (q.groupBy === 'day' ? c.day : c.dims[q.groupBy as Exclude<GroupBy, 'day' | 'model'>] ?? 'unknown');
    if (q.groupBy === 'model' || q.model !== undefined) {
      for (const [model, counters] of perModel(c)) {
        if (q.model !== undefined && model !== q.model) continue;
        addRow(q.groupBy === 'model' ? model : keyOf(), counters);
        if (q.model !== undefined) addCounters(totals, counters);
      }
      if (q.model === undefined) addCounters(totals, c.counters);
    } else {
      addRow(keyOf(), c.counters);
      addCounters(totals, c.counters);
    }
  }
  const rows = [...groups.entries()]
    // a run that moved to another cell (its repo arrived late) leaves zeros behind: not a row
    .filter(([, a]) => FIELDS.some((f) => a[f] !== 0))
    .map(([k, a]) => row(k, a))
    .sort((a, b) => (q.groupBy === 'day' ? a.key.localeCompare(b.key) : b.costUsd - a.costUsd || a.key.localeCompare(b.key)));
  return { rows, totals: row('total', totals), consumedReadUnits: consumedUnits };
}
