import { createHash } from 'node:crypto';
import { USEFUL_OUTCOMES } from '../model.ts';
import { STEP_COUNTER_NAMES, durationMs, type RunState } from './run-state.ts';

/**
 * Pre-aggregated day cells for cost rollups: tenant × UTC day × (repo, agent, branch, outcome). One
 * item per cell, with the run-level and step-level counters of the cell, and the same counters per
 * model under `m|<model>|<counter>`. A run counts on the day it started (and under every model it
 * used); costs, tokens and calls count on the day they were incurred, under the model of the step
 * (`unknown` for a step without one).
 *
 * Contributions are a pure function of the run's state. Ingest computes them before and after applying
 * new events and writes the difference, so a run whose repo or outcome becomes known later moves its
 * counters between cells instead of being counted twice.
 */
export interface CellDims {
  repo: string;
  agent: string;
  branch: string;
  outcome: string;
}

export interface CellRef {
  /** `YYYY-MM-DD` */
  day: string;
  dims: CellDims;
  /** set on a day summary (see `summariesOf`): which dimension it keeps, the others being `*` */
  summary?: SummaryKind;
}

/**
 * Day summaries answer the unfiltered rollups with a number of reads that does not grow with the data:
 * `T` is the day's total (with its per-model counters: `groupBy` day and model); `repo`, `agent`,
 * `branch` and `outcome` hold one item per value of that dimension (a run has one value of each, so
 * they add up to the total). Cells themselves, one per combination, serve the filtered rollups.
 */
export const SUMMARY_KINDS = ['T', 'repo', 'agent', 'branch', 'outcome'] as const;
export type SummaryKind = (typeof SUMMARY_KINDS)[number];
export const ANY = '*';

export type Counters = Record<string, number>;
export type CellMap = Map<string, { ref: CellRef; counters: Counters }>;

export const UNKNOWN = 'unknown';
export const RUN_COUNTERS = ['runs', 'wallTimeMs', 'usefulOutcomes'] as const;
/** the separator of per-model counter names: `m|<model>|<counter>` */
export const MODEL_PREFIX = 'm|';
export const modelCounter = (model: string, counter: string) => `${MODEL_PREFIX}${model}|${counter}`;

export function parseModelCounter(name: string): { model: string; counter: string } | undefined {
  if (!name.startsWith(MODEL_PREFIX)) return undefined;
  const end = name.lastIndexOf('|');
  return { model: name.slice(MODEL_PREFIX.length, end), counter: name.slice(end + 1) };
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Hashes already made: a tenant's runs share few combinations, and each is hashed for every cell it touches. */
const hashed = new Map<string, string>();
const MAX_HASHED = 50_000;

export function dimsHash(d: CellDims): string {
  const json = JSON.stringify([d.repo, d.agent, d.branch, d.outcome]);
  let hash = hashed.get(json);
  if (hash === undefined) {
    hash = createHash('sha256').update(json).digest('base64url').slice(0, 16);
    if (hashed.size >= MAX_HASHED) hashed.clear();
    hashed.set(json, hash);
  }
  return hash;
}
/** The id of a cell or summary in a CellMap (`<day>|[<summary kind>|]<dims hash>`). */
export const cellId = (ref: CellRef) => `${ref.day}|${ref.summary ? `${ref.summary}|` : ''}${dimsHash(ref.dims)}`;

function add(map: CellMap, ref: CellRef, counters: Counters): void {
  const id = cellId(ref);
  const cur = map.get(id);
  if (!cur) {
    map.set(id, { ref, counters: { ...counters } });
    return;
  }
  for (const [k, v] of Object.entries(counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
}

export function contributions(s: RunState | undefined): CellMap {
  const out: CellMap = new Map();
  if (!s) return out;
  const dims: CellDims = { repo: s.repo ?? UNKNOWN, agent: s.agent ?? UNKNOWN, branch: s.branch ?? UNKNOWN, outcome: s.outcome ?? UNKNOWN };

  // Steps without a model (tool calls, error logs, model calls that name none) are the model `unknown`,
  // as a missing dimension is everywhere: so the model rows add up to the totals. A run counts under
  // every model it used, and under `unknown` when it has such steps or used no model at all.
  const models = new Set(s.models);
  const steps: { day: string; counters: Counters }[] = [];
  for (const [key, values] of Object.entries(s.contrib)) {
    const sep = key.indexOf('|');
    const model = key.slice(sep + 1);
    const filed = model === '*' ? UNKNOWN : model;
    const counters: Counters = {};
    STEP_COUNTER_NAMES.forEach((name, i) => {
      const v = values[i];
      if (!v) return;
      counters[name] = v;
      counters[modelCounter(filed, name)] = v;
    });
    if (Object.keys(counters).length === 0) continue;
    if (filed === UNKNOWN) models.add(UNKNOWN);
    steps.push({ day: key.slice(0, sep), counters });
  }
  if (models.size === 0) models.add(UNKNOWN);

  // run-level counters on the start day, overall and under each of its models
  const run: Counters = { runs: 1, wallTimeMs: durationMs(s) ?? 0, usefulOutcomes: s.outcome && USEFUL_OUTCOMES.has(s.outcome) ? 1 : 0 };
  const startCounters: Counters = { ...run };
  for (const model of models) for (const [k, v] of Object.entries(run)) startCounters[modelCounter(model, k)] = v;
  add(out, { day: dayOf(s.startedAt), dims }, startCounters);
  // step counters where they were incurred
  for (const { day, counters } of steps) add(out, { day, dims }, counters);
  return out;
}

/** after − before, per cell, without zero entries. */
export function diffContributions(before: CellMap, after: CellMap): CellMap {
  const out: CellMap = new Map();
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(id);
    const b = before.get(id);
    const ref = (a ?? b)!.ref;
    const delta: Counters = {};
    for (const k of new Set([...Object.keys(a?.counters ?? {}), ...Object.keys(b?.counters ?? {})])) {
      const d = (a?.counters[k] ?? 0) - (b?.counters[k] ?? 0);
      if (d !== 0) delta[k] = d;
    }
    if (Object.keys(delta).length) out.set(id, { ref, counters: delta });
  }
  return out;
}

const ANY_DIMS: CellDims = { repo: ANY, agent: ANY, branch: ANY, outcome: ANY };

/**
 * The day summaries a combination cell moves, with the counters each takes: the total all of them,
 * the per-dimension ones all but the per-model counters. Linear, so the summaries of a sum of cells
 * are the sum of their summaries.
 */
export function summariesOf(ref: CellRef, counters: Counters): { ref: CellRef; counters: Counters }[] {
  const plain = Object.fromEntries(Object.entries(counters).filter(([k]) => !k.startsWith(MODEL_PREFIX)));
  return [
    { ref: { day: ref.day, dims: ANY_DIMS, summary: 'T' }, counters },
    ...(['repo', 'agent', 'branch', 'outcome'] as const).map((kind) => ({ ref: { day: ref.day, dims: { ...ANY_DIMS, [kind]: ref.dims[kind] }, summary: kind }, counters: plain })),
  ];
}




/** Histogram bins of run durations for p95: quarter-octaves of milliseconds. */
export function durationBin(ms: number): number {
  return ms <= 1 ? 0 : Math.min(160, Math.floor(Math.log2(ms) * 4));
}
export function binUpperMs(bin: number): number {
  return Math.round(2 ** ((bin + 1) / 4));
}
