import type { NormalizedEvent, Outcome, RunFields, RunStatus, StepInput } from '../model.ts';

/**
 * A run's summary, folded from its events. Pure: the same events on the same state give the same
 * result, which is what makes retries and concurrent writers converge (see shared/ingest/apply.ts).
 *
 * Money is kept as integer nano-dollars so that sums, and the subtractions made when a run moves
 * between rollup cells, are exact.
 */
export interface StepCounters {
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  unpricedTokens: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
}
export const STEP_COUNTER_NAMES = [
  'costNanos', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens',
  'unpricedTokens', 'llmCalls', 'toolCalls', 'errors',
] as const satisfies readonly (keyof StepCounters)[];

export interface RunState extends StepCounters {
  runId: string;
  traceId?: string;
  agent?: string;
  /** the agent came from a stand-in (RunFields.agentFallback): the first named agent replaces it */
  agentFallback?: boolean;
  repo?: string;
  branch?: string;
  commit?: string;
  status: RunStatus;
  outcome?: Outcome;
  startedAt: number;
  endedAt?: number;
  /** set when a run event or a root span decided the end; otherwise endedAt is the latest event */
  ended: boolean;
  models: string[];
  redactions: number;
  attributes: Record<string, unknown>;
  /**
   * Step counters by UTC day and model (`<YYYY-MM-DD>|<model or *>`): what the run has put into the
   * day cells, kept so that it can be moved when the run's repo, agent, branch or outcome becomes
   * known later (the root span may arrive last).
   */
  contrib: Record<string, number[]>;
}

/** An event after redaction and pricing: what the aggregation consumes. */
export type PricedEvent = NormalizedEvent & {
  /** secrets replaced in this event (all its strings) */
  redactions: number;
  /** for steps: the cost that stands (client's or computed), in nano-dollars; undefined when unpriced */
  costNanos?: number;
  unpricedTokens?: number;
};

export const SLOT_MS = 5 * 60_000;
export const slotOf = (ms: number) => Math.floor(ms / SLOT_MS) * SLOT_MS;
const dayKey = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Distinct models tracked per run; the steps of further models count under `other`. Keeps a run's
 * per-model counters (and the day cell they go into) bounded whatever a client sends.
 */
export const MAX_MODELS_PER_RUN = 16;
export const OTHER_MODELS = 'other';

export function emptyCounters(): StepCounters {
  return { costNanos: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, unpricedTokens: 0, llmCalls: 0, toolCalls: 0, errors: 0 };
}

function eventTime(e: NormalizedEvent): number {
  return e.type === 'step' ? e.step.startedAt : e.at;
}
function eventEnd(e: NormalizedEvent): number {
  return e.type === 'step' ? Math.max(e.step.endedAt ?? e.step.startedAt, e.step.startedAt) : e.at;
}

/** The model key a step's counters are filed under: its model, `unknown` for a model call without one, `*` otherwise. */
export function stepModelKey(step: StepInput): string {
  if (step.model) return step.model;
  return step.kind === 'llm' ? 'unknown' : '*';
}

export function stepCounters(e: PricedEvent & { type: 'step' }): StepCounters {
  const u = e.step.usage ?? {};
  return {
    costNanos: e.costNanos ?? 0,
    inputTokens: u.inputTokens ?? 0,
    outputTokens: u.outputTokens ?? 0,
    cacheReadTokens: u.cacheReadTokens ?? 0,
    cacheWriteTokens: u.cacheWriteTokens ?? 0,
    unpricedTokens: e.unpricedTokens ?? 0,
    llmCalls: e.step.kind === 'llm' ? 1 : 0,
    toolCalls: e.step.kind === 'tool' ? 1 : 0,
    errors: e.step.status === 'error' ? 1 : 0,
  };
}

/** A deep copy of a run's contributions (a flat map of counter arrays; structuredClone costs ten times as much). */
function copyContrib(contrib: Record<string, number[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [key, counters] of Object.entries(contrib)) out[key] = counters.slice();
  return out;
}

function addInto(target: Record<string, number[]>, key: string, c: StepCounters): void {
  const cur = target[key] ?? STEP_COUNTER_NAMES.map(() => 0);
  STEP_COUNTER_NAMES.forEach((name, i) => {
    cur[i] = cur[i]! + c[name];
  });
  target[key] = cur;
}

/** Explicit values (run events, root spans) replace; fields seen on other events only fill blanks. */
function mergeFields(s: RunState, f: RunFields, explicit: boolean): void {
  for (const k of ['repo', 'branch', 'commit', 'traceId', 'outcome'] as const) {
    const v = f[k];
    if (v === undefined || v === '') continue;
    if (explicit || s[k] === undefined) (s as unknown as Record<string, unknown>)[k] = v;
  }
  // whichever span arrives first, a named agent (gen_ai.agent.name) wins over a service name
  if (f.agent && (explicit || s.agent === undefined || (s.agentFallback && !f.agentFallback))) {
    s.agent = f.agent;
    if (f.agentFallback && !explicit) s.agentFallback = true;
    else delete s.agentFallback;
  }
  if (f.startedAt !== undefined) s.startedAt = Math.min(s.startedAt, f.startedAt);
  if (f.endedAt !== undefined) {
    s.endedAt = Math.max(s.endedAt ?? f.endedAt, f.endedAt);
    s.ended = true;
  }
  if (f.status !== undefined && (explicit || s.status === 'running')) {
    s.status = f.status;
    if (f.status !== 'running') s.ended = true;
  }
  if (f.attributes) s.attributes = mergeAttributes(s.attributes, f.attributes);
}

/**
 * A run's attributes live in its run item (at most 400 KB with everything else), so together they stay
 * within this many characters of JSON: a key that would take them past it is not kept.
 */
export const MAX_RUN_ATTRIBUTES_CHARS = 65_536;

function mergeAttributes(current: Record<string, unknown>, more: Record<string, unknown>): Record<string, unknown> {
  const merged = new Map(Object.entries(current));
  const sizeOf = (key: string, value: unknown) => JSON.stringify({ [key]: value }).length;
  let size = JSON.stringify(current).length;
  for (const [key, value] of Object.entries(more)) {
    const replaced = merged.has(key) ? sizeOf(key, merged.get(key)) : 0;
    const added = sizeOf(key, value);
    if (size - replaced + added > MAX_RUN_ATTRIBUTES_CHARS) continue;
    merged.set(key, value);
    size += added - replaced;
  }
  // fromEntries defines own properties, so a `__proto__` key stays data
  return Object.fromEntries(merged);
}

export function newRunState(runId: string, firstEventAt: number): RunState {
  return {
    runId,
    status: 'running',
    startedAt: firstEventAt,
    ended: false,
    models: [],
    redactions: 0,
    attributes: {},
    contrib: {},
    ...emptyCounters(),
  };
}

/** Folds new (already de-duplicated) events into a run. Returns a new state; `prev` is not modified. */
export function applyEvents(prev: RunState | undefined, runId: string, events: readonly PricedEvent[]): RunState {
  const first = Math.min(...events.map(eventTime));
  const s: RunState = prev
    ? { ...prev, models: [...prev.models], attributes: { ...prev.attributes }, contrib: copyContrib(prev.contrib) }
    : newRunState(runId, first);
  let latest = s.endedAt ?? s.startedAt;
  for (const e of events) {
    s.redactions += e.redactions;
    s.startedAt = Math.min(s.startedAt, eventTime(e));
    latest = Math.max(latest, eventEnd(e));
    if (e.run) mergeFields(s, e.run, e.type === 'run');
    if (e.type === 'step') {
      const c = stepCounters(e as PricedEvent & { type: 'step' });
      for (const name of STEP_COUNTER_NAMES) s[name] += c[name];
      let model = stepModelKey(e.step);
      if (e.step.model) {
        if (!s.models.includes(model) && s.models.length >= MAX_MODELS_PER_RUN) model = OTHER_MODELS;
        if (!s.models.includes(model)) s.models.push(model);
      }
      addInto(s.contrib, `${dayKey(e.step.startedAt)}|${model}`, c);
    } else if (e.type === 'log' && e.level === 'error') {
      const c = { ...emptyCounters(), errors: 1 };
      s.errors += 1;
      addInto(s.contrib, `${dayKey(e.at)}|*`, c);
    }
  }
  // a run with no end signal reaches as far as its latest event
  if (!s.ended || s.endedAt === undefined) s.endedAt = latest;
  s.models.sort();
  return s;
}

export function durationMs(s: RunState): number | undefined {
  return s.endedAt === undefined ? undefined : Math.max(0, s.endedAt - s.startedAt);
}
