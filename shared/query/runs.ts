import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../store/clients.ts';
import { decodeRun, getChunks, getRuns, indexKeyOf, queryRunPage, runIdsByTrace, type RunListQuery, type StoredRun } from '../store/runs-table.ts';
import { getRawLines } from '../store/raw-bucket.ts';
import { NotFoundError } from '../errors.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { mergeSteps, presentRun, presentStep, type Run } from './present.ts';
import type { StepRecord } from '../ingest/steps.ts';

/**
 * Run look-ups. Every read is strongly consistent and skips items past the tenant's retention even
 * before TTL deletes them.
 */
const nowSec = (now: number) => Math.floor(now / 1000);

async function liveRun(s: Stores, tenantId: string, runId: string, now: number) {
  const run = (await getRuns(s, tenantId, [runId])).get(runId);
  if (!run || run.ttl < nowSec(now)) throw new NotFoundError(`no run ${runId} in tenant ${tenantId}`);
  return run;
}

export async function getRun(s: Stores, tenantId: string, runId: string, now: number) {
  const run = await liveRun(s, tenantId, runId, now);
  const chunks = await getChunks(s, tenantId, run);
  const steps = mergeSteps(chunks.flatMap((c) => c.steps as StepRecord[]));
  return { run: presentRun(tenantId, run.state), steps: steps.map(presentStep) };
}

export interface RunFilters {
  from?: number;
  to?: number;
  repo?: string;
  branch?: string;
  agent?: string;
  model?: string;
  status?: string;
  outcome?: string;
  minCostUsd?: number;
}

/**
 * Newest first by start. Served by the `byStart` LSI of the tenant's run partition, bounded by the time
 * range; the filters are applied to the items that bounded read returns (a filter expression would
 * cost the same read units). A narrow filter over a wide range reads more pages: that is the price of
 * not paying an index write per run for each filterable field.
 */
export async function listRuns(s: Stores, cursorKey: Buffer, tenantId: string, f: RunFilters, limit: number, cursor: string | undefined, now: number) {
  const minCostNanos = f.minCostUsd === undefined ? undefined : Math.ceil(f.minCostUsd * 1e9 - 1e-6);
  const keep = (r: StoredRun) =>
    r.ttl >= nowSec(now) &&
    (f.repo === undefined || r.state.repo === f.repo) &&
    (f.agent === undefined || r.state.agent === f.agent) &&
    (f.branch === undefined || r.state.branch === f.branch) &&
    (f.status === undefined || r.state.status === f.status) &&
    (f.outcome === undefined || r.state.outcome === f.outcome) &&
    (f.model === undefined || r.state.models.includes(f.model)) &&
    (minCostNanos === undefined || r.state.costNanos >= minCostNanos);
  const scope = { tenantId, list: `runs.list:${JSON.stringify(f)}` };
  let startKey = cursor ? decodeCursor<Record<string, NativeAttributeValue>>(cursorKey, scope, cursor) : undefined;
  const items: Run[] = [];
  let lastRaw: Record<string, NativeAttributeValue> | undefined;
  let nextKey: Record<string, NativeAttributeValue> | undefined;
  const q: RunListQuery = {
    tenantId,
    fromMs: f.from ?? Date.UTC(2000, 0, 1),
    toMs: f.to ?? Date.UTC(2200, 0, 1),
    pageSize: Math.min(1000, Math.max(limit + 1, 100)),
  };
  for (;;) {
    const page = await queryRunPage(s, { ...q, startKey });
    for (const item of page.items) {
      const run = decodeRun(item);
      if (!keep(run)) continue;
      if (items.length === limit) {
        nextKey = indexKeyOf(lastRaw!);
        break;
      }
      items.push(presentRun(tenantId, run.state));
      lastRaw = item;
    }
    if (nextKey || !page.lastKey) break;
    startKey = page.lastKey;
  }
  return { items, nextCursor: nextKey ? encodeCursor(cursorKey, scope, nextKey) : null };
}
export async function runsByTrace(s: Stores, tenantId: string, traceId: string, now: number) {
  const tid = traceId.toLowerCase();
  // a run identified by its trace id (the default identity) has that id as its run id
  const ids = new Set([...(await runIdsByTrace(s, tenantId, tid)), tid]);
  const runs = await getRuns(s, tenantId, [...ids]);
  const items = [...runs.values()]
    .filter((r) => r.ttl >= nowSec(now) && (r.state.traceId?.toLowerCase() === tid || r.state.runId === tid))
    .sort((a, b) => b.state.startedAt - a.state.startedAt || (a.state.runId < b.state.runId ? 1 : -1))
    .map((r) => presentRun(tenantId, r.state));
  return { items };
}

/** The run's stored raw events, newest first, read from the raw objects. */
export async function rawEvents(s: Stores, cursorKey: Buffer, tenantId: string, runId: string, limit: number, cursor: string | undefined, now: number) {
  const run = await liveRun(s, tenantId, runId, now);
  // reversed first so that the parts of one request (same receivedAt, stored in order) also come newest first
  const chunks = (await getChunks(s, tenantId, run)).reverse().sort((a, b) => b.receivedAt - a.receivedAt);
  const refs = chunks.flatMap((c) => [...c.lines].reverse().map((line) => ({ key: c.s3Key, line })));
  const scope = { tenantId, list: `runs.raw:${runId}` };
  const offset = cursor ? decodeCursor<number>(cursorKey, scope, cursor) : 0;
  const page = refs.slice(offset, offset + limit);
  const objects = new Map<string, Awaited<ReturnType<typeof getRawLines>>>();
  for (const key of new Set(page.map((r) => r.key))) objects.set(key, await getRawLines(s, key));
  // a page ends early past RAW_PAGE_BYTES: raw events carry prompts and outputs, and a Lambda answer
  // is at most 6 MB; the cursor goes on from the first event left out (always at least one per page)
  const items: { source: string; receivedAt: string; event: unknown }[] = [];
  let taken = 0;
  let bytes = 0;
  for (const r of page) {
    const line = objects.get(r.key)?.[r.line];
    if (line) {
      // UTF-8 bytes as the answer carries them: the tRPC body, escaped once more inside Lambda's response
      const size = Buffer.byteLength(JSON.stringify(JSON.stringify(line.event)));
      if (taken > 0 && bytes + size > RAW_PAGE_BYTES) break;
      bytes += size;
      items.push({ source: line.source, receivedAt: line.receivedAt, event: line.event });
    }
    taken += 1;
  }
  const next = offset + taken < refs.length ? encodeCursor(cursorKey, scope, offset + taken) : null;
  return { items, nextCursor: next };
}

/** The raw events of one runs.raw page, in bytes of JSON at most (a single larger event still comes alone). */
export const RAW_PAGE_BYTES = 4 * 1024 * 1024;
