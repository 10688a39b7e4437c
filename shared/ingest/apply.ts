import { createHash } from 'node:crypto';
import { BatchExecuteStatementCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../store/clients.ts';
import type { AlertRule, Tenant } from '../store/control-table.ts';
import { applyEvents, type PricedEvent, type RunState } from '../aggregate/run-state.ts';
import { encodeRun, encodeSteps, getRuns, chunkId, chunkPartition, chunkSortKey, pageItem, pageRef, putChunksAndPages, writeStatement, tracePartition, runSortKey, type StoredRun } from '../store/runs-table.ts';
import { EventHashes, eventHash, type InlinePart } from '../store/run-item.ts';
import { rawKey } from '../store/raw-bucket.ts';
import { windowCounterUpdate } from '../store/rollups-table.ts';
import { windowDeltas, type WindowDelta } from '../alerts/window-counters.ts';
import { alertPut, alertSortKey, type AlertPayload } from '../store/alerts-table.ts';
import { eventFirings, runFirings, type Firing } from '../alerts/rules.ts';
import { toStepRecord } from './steps.ts';
import { runCache } from './run-cache.ts';
import { UnavailableError } from '../errors.ts';

/**
 * Applies a request's events to the run index, exactly once however often the client retries.
 *
 * Each run item holds the hashes of the event ids it has absorbed and a version number. A run's new
 * state is written conditionally on the version read:
 *
 *   writer A: read run v3 ─ fold e1,e2 ─ write run v4 if ver=3 ✓
 *   writer B: read run v3 ─ fold e2,e5 ─ write run v4 if ver=3 ✗ (condition)
 *             re-read v4 (has e2) ─ fold e5 ─ write run v5 if ver=4 ✓
 *
 * So a retried batch finds its events already absorbed (duplicates, nothing written); a request that
 * failed after S3 but before the index retries into the same state; concurrent writers to one run are
 * serialised by the version check. Each run's write stands alone, so the runs of a request go out in
 * one BatchExecuteStatement: conditional writes billed as plain writes, half a transaction's price.
 *
 * The rollup day cells are not written here: they are folded from the runs table's stream
 * (shared/aggregate/stream.ts), from each run's state before and after, amortised over many requests.
 *
 * A run whose events fire alerts or move windowed-rule counters is written in a transaction with those
 * alert events and counters, so that they happen exactly when the run's new state commits. A
 * transaction holds at most 100 items: when one run's events of a request would need more (many failed
 * assertions or error logs firing alerts, say), they are applied in order over several transactions,
 * each exactly-once by itself.
 *
 * The state a run is planned from is usually not read: a run this process committed last comes from
 * its cache, and a run it has not seen is guessed new (run-cache.ts). Either is checked by the write's
 * condition like a read would be; when the condition fails, the run is read.
 *
 * Steps stay in the run item while it fits in one write unit; then they move to step chunk items, one
 * per run and request, written just before the run (their key is fixed by the request, so a retry
 * overwrites them, and the run item lists the chunks it committed, so an orphan is never shown). A long
 * run's event hashes and chunk ids move on to sealed pages the same way (runs-table.ts).
 */
export interface ApplyInput {
  tenant: Tenant;
  batchId: string;
  receivedAt: number;
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
}

const MAX_ATTEMPTS = 8;
const MAX_TX_ITEMS = 100;
/** statements one BatchExecuteStatement may carry */
const MAX_STATEMENTS = 25;
/**
 * Events one run takes; further events are rejected with a reason. It keeps the odds of two of a run's
 * 48-bit event hashes colliding below one in ten billion (run-item.ts), and a cold read of its sealed
 * pages to a few BatchGetItem calls.
 */
export const MAX_RUN_EVENTS = 25_000;
/** A run item must stay under DynamoDB's 400 KB (its attributes and page refs grow it): past this, the same. */
export const MAX_RUN_ITEM_BYTES = 350_000;
/** steps stay inline while the run item stays within one write unit (1 KB, with attribute names) */
const INLINE_ITEM_BYTES = 1000;
/**
 * A run item seals its event hashes and chunk ids in a page once it holds this many (768 and about 350
 * bytes): a long session's item then stays near a kilobyte, where it would grow by 6 bytes an event
 * and 8 a request, every request rewriting it whole.
 */
const SEAL_HASHES = 128;
const SEAL_CHUNKS = 32;

interface RunPlan {
  runId: string;
  fresh: number[];
  dups: number[];
  /** the run's items left for a later transaction of this request */
  rest: number[];
  after?: RunState;
  /** the version read (undefined: the run is new) */
  readVer?: number;
  /** the run as this plan writes it */
  next?: StoredRun;
  item?: Record<string, unknown>;
  /** step chunks and sealed pages, written before the run (idempotent puts) */
  chunksAndPages: Record<string, unknown>[];
  /** a new trace id → run pointer */
  trace?: Record<string, unknown>;
  /** alert events (transaction puts) */
  alertWrites: Record<string, unknown>[];
  windows: WindowDelta[];
  alerts: AlertRef[];
  /** new events refused because the run item reached its size limit */
  tooLarge?: number[];
}

/** DynamoDB's item size: attribute names and values (binary and strings by length, numbers ~ digits). */
function itemBytes(item: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) {
    n += k.length;
    if (v instanceof Uint8Array) n += v.byteLength;
    else if (typeof v === 'string') n += Buffer.byteLength(v);
    else n += 21;
  }
  return n;
}

const DAY_MS = 86_400_000;

function chunkItem(tenantId: string, runId: string, part: InlinePart, ttl: number): Record<string, unknown> {
  // later parts of one request sort after the first, in order
  const suffix = part.part ? `.${String(part.part).padStart(4, '0')}` : '';
  return {
    pk: chunkPartition(tenantId, runId),
    sk: chunkSortKey(part.receivedAt, `${part.batchId}${suffix}`),
    steps: encodeSteps(part.steps),
    s3Key: rawKey(tenantId, part.receivedAt, part.batchId),
    lines: part.lines,
    receivedAt: part.receivedAt,
    ttl,
  };
}

function plan(s: Stores, input: ApplyInput, runId: string, itemIdx: number[], stored: StoredRun | undefined, part: number): RunPlan {
  const known = stored?.ev ?? EventHashes.none;
  const freshHashes = new Set<string>();
  const fresh: number[] = [];
  const dups: number[] = [];
  for (const i of itemIdx) {
    const h = eventHash(input.items[i]!.event.eventId);
    if (known.has(h) || freshHashes.has(h)) dups.push(i);
    else {
      freshHashes.add(h);
      fresh.push(i);
    }
  }
  const p: RunPlan = { runId, fresh, dups, rest: [], chunksAndPages: [], alertWrites: [], windows: [], alerts: [] };
  if (fresh.length === 0) return p;
  if (known.size + fresh.length > MAX_RUN_EVENTS) return { ...p, fresh: [], tooLarge: fresh };

  const tenantId = input.tenant.tenantId;
  const events = fresh.map((i) => input.items[i]!.event);
  const before = stored?.state;
  const after = applyEvents(before, runId, events);
  const retentionMs = input.tenant.retentionDays * DAY_MS;
  const ttl = Math.ceil(Math.max(stored?.ttl ?? 0, (input.receivedAt + retentionMs) / 1000, ((after.endedAt ?? 0) + retentionMs) / 1000));

  const newPart: InlinePart = {
    receivedAt: input.receivedAt,
    batchId: input.batchId,
    ...(part ? { part } : {}),
    lines: fresh.map((i) => input.items[i]!.line),
    steps: events.filter((e) => e.type === 'step').map((e) => toStepRecord(e as PricedEvent & { type: 'step' })),
  };
  const next: StoredRun = {
    state: after,
    ev: known.with([...freshHashes]),
    ver: (stored?.ver ?? 0) + 1,
    ttl,
    retentionDays: input.tenant.retentionDays,
    chunks: stored?.chunks ?? [],
    inline: stored?.chunks.length || stored?.pages.length ? [] : [...(stored?.inline ?? []), newPart],
    pages: stored?.pages ?? [],
  };
  const chunkTtl = Math.ceil((input.receivedAt + retentionMs) / 1000);
  // a run whose steps already live in chunks adds its new part as a chunk too: no inline attempt to encode
  let item = next.inline.length === 0 ? undefined : encodeRun(tenantId, next);
  if (!item || itemBytes(item) > INLINE_ITEM_BYTES) {
    // the steps outgrow the item: each inline part becomes its own chunk, and so do later parts
    const spilled = next.inline.length ? next.inline : [newPart];
    p.chunksAndPages = spilled.map((c) => chunkItem(tenantId, runId, c, chunkTtl));
    const ids = p.chunksAndPages.map((c) => chunkId(c.sk as string));
    next.chunks = [...next.chunks.filter((c) => !ids.includes(c)), ...ids];
    next.inline = [];
    item = encodeRun(tenantId, next);
  }
  if (next.inline.length === 0 && (next.ev.openCount >= SEAL_HASHES || next.chunks.length >= SEAL_CHUNKS)) {
    // the item's hashes and chunk ids move to a page, written before it like the chunks (run-item.ts);
    // only a run whose steps live in chunks is sealed, so a run with pages never has inline steps
    const ref = pageRef(next.ver, input.batchId);
    const { page, hashes } = next.ev.sealed();
    p.chunksAndPages.push(pageItem(tenantId, runId, ref, page, next.chunks, chunkTtl));
    next.ev = hashes;
    next.chunks = [];
    next.pages = [...next.pages, ref];
    item = encodeRun(tenantId, next);
  }
  if (itemBytes(item) > MAX_RUN_ITEM_BYTES) return { ...p, fresh: [], tooLarge: fresh };
  p.after = after;
  p.readVer = stored?.ver;
  p.next = next;
  p.item = item;
  p.windows = windowDeltas(input.rules, before, after, events);
  if (after.traceId && after.traceId !== before?.traceId) {
    p.trace = { pk: tracePartition(tenantId, after.traceId.toLowerCase()), sk: runSortKey(runId), ttl };
  }

  const firings: Firing[] = [...runFirings(input.rules, before, after), ...eventFirings(input.rules, after, events)];
  for (const f of firings) {
    const payload: AlertPayload = {
      id: `al_${createHash('sha256').update(`${f.rule.ruleId}|${f.cause}`).digest('hex').slice(0, 24)}`,
      type: 'alert.firing',
      tenantId,
      rule: { ruleId: f.rule.ruleId, name: f.rule.name, metric: f.rule.metric, op: f.rule.op, threshold: f.rule.threshold },
      value: f.value,
      runId: f.runId,
      firedAt: new Date(input.receivedAt).toISOString(),
    };
    p.alertWrites.push(alertPut(s, payload, [f.rule.webhookId], ttl));
    p.alerts.push({ tenantId, sk: alertSortKey(payload), webhookId: f.rule.webhookId });
  }
  return p;
}

const txItems = (p: RunPlan) => 1 + (p.trace ? 1 : 0) + p.alertWrites.length + p.windows.length;
const needsTransaction = (p: RunPlan) => p.alertWrites.length > 0 || p.windows.length > 0;

/** The plan of as many of the run's first items as fit in one transaction; the others are left in `rest`. */
function fittingPlan(s: Stores, input: ApplyInput, runId: string, itemIdx: number[], stored: StoredRun | undefined, part: number): RunPlan {
  let take = itemIdx.length;
  for (;;) {
    const p = plan(s, input, runId, itemIdx.slice(0, take), stored, part);
    if (!p.item || !needsTransaction(p) || txItems(p) <= MAX_TX_ITEMS || take === 1) return { ...p, rest: itemIdx.slice(take) };
    take = Math.ceil(take / 2);
  }
}

const windowTtl = (slot: number) => Math.ceil((slot + 2 * DAY_MS) / 1000);

/** Runs with alert or window effects, grouped into transactions of at most 100 items (windows merged). */
function transactions(s: Stores, tenantId: string, plans: RunPlan[]): { plans: RunPlan[]; items: Record<string, unknown>[] }[] {
  const groups: { plans: RunPlan[]; items: Record<string, unknown>[]; windows: Map<string, WindowDelta> }[] = [];
  for (const p of plans) {
    let g = groups[groups.length - 1];
    if (!g || g.items.length + g.windows.size + txItems(p) > MAX_TX_ITEMS) {
      g = { plans: [], items: [], windows: new Map() };
      groups.push(g);
    }
    g.plans.push(p);
    g.items.push(
      { Put: { TableName: s.tables.runs, Item: p.item, ...(p.readVer === undefined ? { ConditionExpression: 'attribute_not_exists(pk)' } : { ConditionExpression: 'ver = :v', ExpressionAttributeValues: { ':v': p.readVer } }) } },
      ...(p.trace ? [{ Put: { TableName: s.tables.runs, Item: p.trace } }] : []),
      ...p.alertWrites,
    );
    for (const w of p.windows) {
      const key = `${w.ruleId}|${w.slot}`;
      const cur = g.windows.get(key) ?? { ruleId: w.ruleId, slot: w.slot, counters: {} };
      for (const [k, v] of Object.entries(w.counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
      g.windows.set(key, cur);
    }
  }
  return groups.map((g) => ({
    plans: g.plans,
    items: [...g.items, ...[...g.windows.values()].map((w) => windowCounterUpdate(s, tenantId, w.ruleId, w.slot, w.counters, windowTtl(w.slot)))],
  }));
}

/** Per-statement errors that mean "someone else wrote this run first, or DynamoDB asked to slow down". */
const RETRYABLE_STATEMENT_ERRORS = new Set(['ConditionalCheckFailed', 'DuplicateItem', 'TransactionConflict', 'ProvisionedThroughputExceeded', 'ThrottlingError', 'RequestLimitExceeded', 'InternalServerError']);

/** Writes the plain runs' statements; returns the runs to re-read and try again. */
async function writePlain(s: Stores, plans: RunPlan[]): Promise<{ done: RunPlan[]; retry: RunPlan[] }> {
  const done: RunPlan[] = [];
  const retry: RunPlan[] = [];
  const statements: { plan?: RunPlan; statement: { Statement: string; Parameters: unknown[] } }[] = [];
  for (const p of plans) {
    statements.push({ plan: p, statement: writeStatement(s.tables.runs, p.item!, p.readVer) });
    // a trace pointer that exists already is what we wanted: its errors are ignored
    if (p.trace) statements.push({ statement: writeStatement(s.tables.runs, p.trace, undefined) });
  }
  for (let i = 0; i < statements.length; i += MAX_STATEMENTS) {
    const slice = statements.slice(i, i + MAX_STATEMENTS);
    const res = await s.ddb.send(new BatchExecuteStatementCommand({ Statements: slice.map((x) => x.statement) as never, ReturnConsumedCapacity: 'TOTAL' }));
    slice.forEach((x, j) => {
      if (!x.plan) return;
      const error = res.Responses?.[j]?.Error;
      if (!error) done.push(x.plan);
      else if (RETRYABLE_STATEMENT_ERRORS.has(error.Code ?? '')) retry.push(x.plan);
      else throw new Error(`run ${x.plan.runId} could not be written: ${error.Code}: ${error.Message}`);
    });
  }
  return { done, retry };
}

function isContention(err: unknown): boolean {
  const name = (err as Error).name;
  return name === 'TransactionCanceledException' || name === 'TransactionConflictException' || name === 'ConditionalCheckFailedException';
}

/**
 * The stored state of each run to plan from: this process's last commit of it, nothing for a run
 * guessed new, or a strongly consistent read (run-cache.ts says when). Reads of runs that were neither
 * cached nor stale teach the cache how often unseen runs exist.
 */
async function knownRuns(s: Stores, tenantId: string, runIds: readonly string[], stale: ReadonlySet<string>, guessed: Set<string>): Promise<Map<string, StoredRun>> {
  const out = new Map<string, StoredRun>();
  const unseen: string[] = [];
  const toRead: string[] = [];
  for (const runId of runIds) {
    const cached = stale.has(runId) ? undefined : runCache.get(tenantId, runId);
    if (cached) out.set(runId, cached);
    else if (stale.has(runId)) toRead.push(runId);
    else if (runCache.guessNew(tenantId)) guessed.add(runId);
    else unseen.push(runId);
  }
  if (toRead.length + unseen.length === 0) return out;
  const read = await getRuns(s, tenantId, [...toRead, ...unseen], { allHashes: true });
  for (const runId of unseen) runCache.learn(tenantId, read.has(runId));
  for (const [runId, run] of read) out.set(runId, run);
  return out;
}

export async function applyToIndex(s: Stores, input: ApplyInput): Promise<ApplyResult> {
  const tenantId = input.tenant.tenantId;
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
  let contended = 0;

  /** runs whose last write failed its condition (or that were guessed new wrongly): read them */
  const stale = new Set<string>();
  /** runs planned as new without a read */
  const guessed = new Set<string>();

  while (pending.length > 0) {
    const stored = await knownRuns(s, tenantId, pending, stale, guessed);
    const plans = pending.map((runId) => fittingPlan(s, input, runId, byRun.get(runId)!, stored.get(runId), parts.get(runId) ?? 0));
    const retry: string[] = [];
    const next: string[] = [];
    const moveOn = (p: RunPlan) => {
      if (p.rest.length === 0) return;
      byRun.set(p.runId, p.rest);
      parts.set(p.runId, (parts.get(p.runId) ?? 0) + 1);
      next.push(p.runId);
    };
    const committed = (p: RunPlan) => {
      if (guessed.delete(p.runId)) runCache.learn(tenantId, false);
      stale.delete(p.runId);
      runCache.set(tenantId, p.runId, p.next!);
      for (const i of p.fresh) outcome[i] = 'accepted';
      for (const i of p.dups) outcome[i] = 'duplicate';
      alerts.push(...p.alerts);
      if (p.after) runs.push(p.after);
      moveOn(p);
    };
    const writes: RunPlan[] = [];
    for (const p of plans) {
      if (p.item) {
        writes.push(p);
        continue;
      }
      for (const i of p.dups) outcome[i] = 'duplicate';
      for (const i of p.tooLarge ?? []) {
        outcome[i] = 'rejected';
        reasons.set(i, `runId: run ${p.runId} has reached its size limit; send further events under a new run id`);
      }
      moveOn(p);
    }
    try {
      await putChunksAndPages(s, writes.flatMap((p) => p.chunksAndPages));
      const plain = await writePlain(s, writes.filter((p) => !needsTransaction(p)));
      plain.done.forEach(committed);
      retry.push(...plain.retry.map((p) => p.runId));
      for (const tx of transactions(s, tenantId, writes.filter(needsTransaction))) {
        try {
          await s.ddb.send(new TransactWriteCommand({ TransactItems: tx.items as never, ReturnConsumedCapacity: 'TOTAL' }));
          tx.plans.forEach(committed);
        } catch (err) {
          if (!isContention(err)) throw err;
          retry.push(...tx.plans.map((p) => p.runId));
        }
      }
    } catch (err) {
      throw new UnavailableError('the index could not be written; retry the request', { cause: err });
    }
    for (const runId of retry) {
      if (guessed.delete(runId)) runCache.learn(tenantId, true);
      runCache.forget(tenantId, runId);
      stale.add(runId);
    }
    if (retry.length > 0) {
      if (++contended >= MAX_ATTEMPTS) throw new UnavailableError('the index is contended; retry the request');
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 20 * 2 ** contended)));
    }
    pending = [...next, ...retry];
  }
  return { outcome, reasons, alerts, runs };
}
