import { createHash } from 'node:crypto';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../store/clients.ts';
import type { AlertRule, Tenant } from '../store/control-table.ts';
import { applyEvents, type PricedEvent, type RunState } from '../aggregate/run-state.ts';
import { contributions, diffContributions, mergeInto, type CellMap, type CellRef } from '../aggregate/cells.ts';
import { encodeRun, encodeSteps, getRuns, chunkId, chunkPartition, chunkSortKey, tracePartition, runSortKey, type StoredRun } from '../store/runs-table.ts';
import { dayCellUpdate, windowCounterUpdate } from '../store/rollups-table.ts';
import { windowDeltas, type WindowDelta } from '../alerts/window-counters.ts';
import { alertPut, alertSortKey, type AlertPayload } from '../store/alerts-table.ts';
import { eventFirings, runFirings, type Firing } from '../alerts/rules.ts';
import { toStepRecord } from './steps.ts';
import { UnavailableError } from '../errors.ts';

/**
 * Applies a request's events to the index, exactly once however often the client retries.
 *
 * Each run item holds the hashes of the event ids it has absorbed and a version number. A run's new
 * state, the rollup cells it moves, its windowed-rule counters and the alerts it fires are written in
 * ONE transaction whose run write is conditional on the version read:
 *
 *   writer A: read run v3 ─ fold e1,e2 ─ TX(put run v4 if ver=3, add cells, put chunk) ✓
 *   writer B: read run v3 ─ fold e2,e5 ─ TX(put run v4 if ver=3, ...)  ✗ cancelled
 *             re-read v4 (has e2) ─ fold e5 ─ TX(put run v5 if ver=4, ...) ✓
 *
 * So a retried batch finds its events already absorbed (duplicates, nothing written); a request that
 * failed after S3 but before the index retries into the same state; concurrent writers to one run are
 * serialised by the version check. Cells are only ever changed with ADD of a difference computed from
 * the committed state, so they stay equal to the sum of the runs.
 *
 * The run's step chunk (its steps from this request) is written just before, outside the transaction
 * (half the write cost): its key is fixed by the request, so a retry overwrites it, and the run item
 * lists the chunks it committed, so a chunk whose transaction never committed is never shown.
 *
 * A transaction holds at most 100 items. When one run's events of a request would need more (many
 * failed assertions or error logs firing alerts, say), its events are applied in order over several
 * transactions, each with its own chunk; each one is exactly-once by itself.
 */
export interface ApplyInput {
  tenant: Tenant;
  batchId: string;
  receivedAt: number;
  s3Key: string;
  /** events in request order, each with its line number in the raw object */
  items: { event: PricedEvent; line: number }[];
  rules: readonly AlertRule[];
}

export interface AlertRef {
  tenantId: string;
  sk: string;
  webhookId: string;
}

export interface ApplyResult {
  /** per item, in input order */
  outcome: ('accepted' | 'duplicate' | 'rejected')[];
  /** why, for rejected items */
  reasons: Map<number, string>;
  alerts: AlertRef[];
  runs: RunState[];
  consumedWriteUnits: number;
}

const MAX_ATTEMPTS = 8;
const MAX_TX_ITEMS = 100;
/** counters one cell update may carry: its update expression must stay under DynamoDB's 4 KB */
const MAX_CELL_COUNTERS = 300;
/**
 * A run item must stay under DynamoDB's 400 KB. It grows by an event-id hash per event and a chunk
 * key per request; a run that reaches this size takes no more events (they are rejected with a reason).
 */
export const MAX_RUN_ITEM_BYTES = 350_000;

export function eventHash(eventId: string): string {
  return createHash('sha256').update(eventId).digest('base64url').slice(0, 12);
}

interface RunPlan {
  runId: string;
  itemIdx: number[];
  fresh: number[];
  dups: number[];
  /** the run's items left for a later transaction of this request */
  rest: number[];
  after?: RunState;
  /** written before the transaction (idempotent put) */
  chunk?: Record<string, unknown>;
  writes: Record<string, unknown>[];
  cells: CellMap;
  windows: WindowDelta[];
  alerts: AlertRef[];
  /** new events refused because the run item reached its size limit */
  tooLarge?: number[];
}

function approximateSize(item: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(item, (_k, v: unknown) => (v instanceof Set ? [...v] : v)));
}

const DAY_MS = 86_400_000;

function plan(input: ApplyInput, runId: string, itemIdx: number[], stored: StoredRun | undefined, s: Stores, part: number): RunPlan {
  const seen = new Set(stored?.ev ?? []);
  const fresh: number[] = [];
  const dups: number[] = [];
  for (const i of itemIdx) {
    const h = eventHash(input.items[i]!.event.eventId);
    if (seen.has(h)) dups.push(i);
    else {
      seen.add(h);
      fresh.push(i);
    }
  }
  const p: RunPlan = { runId, itemIdx, fresh, dups, rest: [], writes: [], cells: new Map(), windows: [], alerts: [] };
  if (fresh.length === 0) return p;

  const events = fresh.map((i) => input.items[i]!.event);
  const before = stored?.state;
  const after = applyEvents(before, runId, events);
  p.after = after;
  p.cells = diffContributions(contributions(before), contributions(after));
  p.windows = windowDeltas(input.rules, before, after, events);

  const retentionMs = input.tenant.retentionDays * DAY_MS;
  const ttl = Math.ceil(Math.max(stored?.ttl ?? 0, (input.receivedAt + retentionMs) / 1000, ((after.endedAt ?? 0) + retentionMs) / 1000));
  // later parts of the same request sort after the first, in order
  const chunkSk = chunkSortKey(input.receivedAt, part === 0 ? input.batchId : `${input.batchId}.${String(part).padStart(4, '0')}`);
  const steps = events.filter((e) => e.type === 'step').map((e) => toStepRecord(e as PricedEvent & { type: 'step' }));
  p.chunk = {
    pk: chunkPartition(input.tenant.tenantId, runId),
    sk: chunkSk,
    steps: encodeSteps(steps),
    s3Key: input.s3Key,
    lines: fresh.map((i) => input.items[i]!.line),
    receivedAt: input.receivedAt,
    ttl: Math.ceil((input.receivedAt + retentionMs) / 1000),
  };
  const chunks = [...(stored?.chunks ?? []).filter((c) => c !== chunkId(chunkSk)), chunkId(chunkSk)];
  const runItem = encodeRun(input.tenant.tenantId, after, (stored?.ver ?? 0) + 1, seen, ttl, chunks);
  if (approximateSize(runItem) > MAX_RUN_ITEM_BYTES) {
    return { ...p, fresh: [], after: undefined, cells: new Map(), windows: [], tooLarge: fresh };
  }
  p.writes.push({
    Put: {
      TableName: s.tables.runs,
      Item: runItem,
      ...(stored
        ? { ConditionExpression: 'ver = :v', ExpressionAttributeValues: { ':v': stored.ver } }
        : { ConditionExpression: 'attribute_not_exists(pk)' }),
    },
  });
  if (after.traceId && after.traceId !== before?.traceId) {
    p.writes.push({
      Put: { TableName: s.tables.runs, Item: { pk: tracePartition(input.tenant.tenantId, after.traceId.toLowerCase()), sk: runSortKey(runId), ttl } },
    });
  }

  const firings: Firing[] = [...runFirings(input.rules, before, after), ...eventFirings(input.rules, after, events)];
  for (const f of firings) {
    const payload: AlertPayload = {
      id: `al_${createHash('sha256').update(`${f.rule.ruleId}|${f.cause}`).digest('hex').slice(0, 24)}`,
      type: 'alert.firing',
      tenantId: input.tenant.tenantId,
      rule: { ruleId: f.rule.ruleId, name: f.rule.name, metric: f.rule.metric, op: f.rule.op, threshold: f.rule.threshold },
      value: f.value,
      runId: f.runId,
      firedAt: new Date(input.receivedAt).toISOString(),
    };
    p.writes.push(alertPut(s, payload, [f.rule.webhookId], ttl));
    p.alerts.push({ tenantId: input.tenant.tenantId, sk: alertSortKey(payload), webhookId: f.rule.webhookId });
  }
  return p;
}

const txItems = (p: RunPlan) => p.writes.length + p.cells.size + p.windows.length;

/** The plan of as many of the run's first items as fit in one transaction; the others are left in `rest`. */
function fittingPlan(input: ApplyInput, runId: string, itemIdx: number[], stored: StoredRun | undefined, s: Stores, part: number): RunPlan {
  let take = itemIdx.length;
  for (;;) {
    const p = plan(input, runId, itemIdx.slice(0, take), stored, s, part);
    if (txItems(p) <= MAX_TX_ITEMS || take === 1) return { ...p, rest: itemIdx.slice(take) };
    take = Math.ceil(take / 2);
  }
}

/**
 * Retention counts from when data was received, for every item alike (runs, chunks, raw objects, cells):
 * a backfill of old runs stays queryable, and a cell lives as long as the last run written into it.
 */
function cellTtl(ref: CellRef, retentionDays: number, receivedAt: number): number {
  return Math.ceil(Math.max(receivedAt, Date.parse(`${ref.day}T00:00:00Z`) + DAY_MS) / 1000 + retentionDays * 86_400);
}
const windowTtl = (slot: number) => Math.ceil((slot + 2 * DAY_MS) / 1000);

/** Groups run plans into transactions of at most 100 items, cells merged within each. */
function transactions(input: ApplyInput, plans: RunPlan[], s: Stores): { plans: RunPlan[]; items: Record<string, unknown>[] }[] {
  const groups: { plans: RunPlan[]; cells: CellMap; windows: Map<string, WindowDelta>; writes: number }[] = [];
  const cellsOverflow = (g: (typeof groups)[number], p: RunPlan) =>
    [...p.cells].some(([id, c]) => {
      const cur = g.cells.get(id);
      return cur !== undefined && new Set([...Object.keys(cur.counters), ...Object.keys(c.counters)]).size > MAX_CELL_COUNTERS;
    });
  for (const p of plans) {
    if (p.writes.length === 0) continue;
    let g = groups[groups.length - 1];
    const extra = p.writes.length + p.cells.size + p.windows.length;
    if (!g || g.writes + g.cells.size + g.windows.size + extra > MAX_TX_ITEMS || cellsOverflow(g, p)) {
      g = { plans: [], cells: new Map(), windows: new Map(), writes: 0 };
      groups.push(g);
    }
    g.plans.push(p);
    g.writes += p.writes.length;
    mergeInto(g.cells, p.cells);
    for (const w of p.windows) {
      const key = `${w.ruleId}|${w.slot}`;
      const cur = g.windows.get(key) ?? { ruleId: w.ruleId, slot: w.slot, counters: {} };
      for (const [k, v] of Object.entries(w.counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
      g.windows.set(key, cur);
    }
  }
  const tenantId = input.tenant.tenantId;
  return groups.map((g) => ({
    plans: g.plans,
    items: [
      ...g.plans.flatMap((p) => p.writes),
      ...[...g.cells.values()]
        .filter(({ counters }) => Object.values(counters).some((v) => v !== 0))
        .map(({ ref, counters }) => dayCellUpdate(s, tenantId, ref, counters, cellTtl(ref, input.tenant.retentionDays, input.receivedAt))),
      ...[...g.windows.values()].map((w) => windowCounterUpdate(s, tenantId, w.ruleId, w.slot, w.counters, windowTtl(w.slot))),
    ],
  }));
}

function isContention(err: unknown): boolean {
  const name = (err as Error).name;
  return name === 'TransactionCanceledException' || name === 'TransactionConflictException' || name === 'ConditionalCheckFailedException';
}

export async function applyToIndex(s: Stores, input: ApplyInput): Promise<ApplyResult> {
  const outcome: ApplyResult['outcome'] = input.items.map(() => 'duplicate');
  const reasons = new Map<number, string>();
  const byRun = new Map<string, number[]>();
  input.items.forEach((it, i) => {
    const list = byRun.get(it.event.runId) ?? [];
    list.push(i);
    byRun.set(it.event.runId, list);
  });
  let pending = [...byRun.keys()];
  /** transactions each run has committed in this request */
  const parts = new Map<string, number>();
  const alerts: AlertRef[] = [];
  const runs: RunState[] = [];
  let consumedWriteUnits = 0;
  let contended = 0;

  while (pending.length > 0) {
    const stored = await getRuns(s, input.tenant.tenantId, pending);
    const plans = pending.map((runId) => fittingPlan(input, runId, byRun.get(runId)!, stored.get(runId), s, parts.get(runId) ?? 0));
    const retry: string[] = [];
    const next: string[] = [];
    const moveOn = (p: RunPlan) => {
      if (p.rest.length === 0) return;
      byRun.set(p.runId, p.rest);
      parts.set(p.runId, (parts.get(p.runId) ?? 0) + 1);
      next.push(p.runId);
    };
    for (const p of plans) {
      if (p.writes.length > 0) continue;
      for (const i of p.dups) outcome[i] = 'duplicate';
      for (const i of p.tooLarge ?? []) {
        outcome[i] = 'rejected';
        reasons.set(i, `runId: run ${p.runId} has reached its size limit; send further events under a new run id`);
      }
      moveOn(p);
    }
    for (const tx of transactions(input, plans, s)) {
      try {
        await Promise.all(
          tx.plans.filter((p) => p.chunk).map((p) => s.ddb.send(new PutCommand({ TableName: s.tables.runs, Item: p.chunk!, ReturnConsumedCapacity: 'TOTAL' }))),
        );
        const res = await s.ddb.send(
          new TransactWriteCommand({ TransactItems: tx.items as never, ReturnConsumedCapacity: 'TOTAL' }),
        );
        for (const c of res.ConsumedCapacity ?? []) consumedWriteUnits += c.CapacityUnits ?? 0;
        for (const p of tx.plans) {
          for (const i of p.fresh) outcome[i] = 'accepted';
          for (const i of p.dups) outcome[i] = 'duplicate';
          alerts.push(...p.alerts);
          if (p.after) runs.push(p.after);
          moveOn(p);
        }
      } catch (err) {
        if (!isContention(err)) throw new UnavailableError('the index could not be written; retry the request', { cause: err });
        retry.push(...tx.plans.map((p) => p.runId));
      }
    }
    if (retry.length > 0) {
      if (++contended >= MAX_ATTEMPTS) throw new UnavailableError('the index is contended; retry the request');
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 20 * 2 ** contended)));
    }
    pending = [...next, ...retry];
  }
  return { outcome, reasons, alerts, runs, consumedWriteUnits };
}
