import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BatchGetCommand, BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';
import type { RunState } from '../aggregate/run-state.ts';
import type { StepRecord } from '../ingest/steps.ts';
import { packBody, unpackBody, type RunBody } from './run-item.ts';
import { rawKey } from './raw-bucket.ts';

/**
 * The runs table: this module owns its key layout.
 *
 *   <tenant>#RUNS      / R#<runId>                       run summary (+ LSI byStart); body
 *                                                        in run-item.ts, steps inline while they fit
 *   <tenant>#R#<runId> / S#<receivedAt>#<batchId>        step chunk: the run's steps from one request
 *                                                        (gzip JSON), and where its raw events sit, once
 *                                                        the run's steps have outgrown its item
 *   <tenant>#R#<runId> / H#<ver>.<batch>                 sealed page: event hashes and chunk ids the run
 *                                                        item gathered, moved out of it once there were
 *                                                        enough (run-item.ts), referenced by the item
 *   <tenant>#T#<traceId> / R#<runId>                     trace id → run
 *
 * Run summaries share one partition per tenant so that listing by time is a strongly consistent LSI
 * query: read-your-writes on the query path. The LSI is KEYS_ONLY, so an update that keeps a run's
 * start writes nothing to it. It is the only index: each index entry costs a write unit per new run,
 * and filters (repo, agent, ...) are applied to the time-bounded read instead. (One partition per
 * tenant bounds a tenant to DynamoDB's 10 GB per item collection: about ten million live runs at 1 KB.)
 */
const SEP = '\u0001';

export const runsPartition = (tenantId: string) => `${tenantId}#RUNS`;
export const runSortKey = (runId: string) => `R#${runId}`;
/** Whether a runs-table key is a run summary (not a step chunk or a trace pointer). */
export const isRunItemKey = (pk: string, sk: string) => pk.endsWith('#RUNS') && sk.startsWith('R#');
export const chunkPartition = (tenantId: string, runId: string) => `${tenantId}#R#${runId}`;
export const chunkSortKey = (receivedAt: number, batchId: string) => `S#${new Date(receivedAt).toISOString()}#${batchId}`;

export const iso = (ms: number) => new Date(ms).toISOString();
export const byStartKey = (startedAt: number, runId: string) => `${iso(startedAt)}${SEP}${runId}`;
export const startRange = (ms: number) => iso(ms);

export interface StoredRun extends RunBody {
  ver: number;
  ttl: number;
}


export function encodeRun(tenantId: string, run: StoredRun): Record<string, NativeAttributeValue> {
  return {
    pk: runsPartition(tenantId),
    sk: runSortKey(run.state.runId),
    byStart: byStartKey(run.state.startedAt, run.state.runId),
    ver: run.ver,
    ttl: run.ttl,
    ...(run.ev.openCount ? { ev: run.ev.bytes() } : {}),
    d: packBody(run),
  };
}

export function decodeRun(item: Record<string, NativeAttributeValue>): StoredRun {
  return { ...unpackBody(item.d as Uint8Array, item.ev as Uint8Array | undefined), ver: Number(item.ver ?? 0), ttl: Number(item.ttl ?? 0) };
}

/** A run item's state and retention alone, without its event hashes (the stream handler's view). */
export function decodeRunState(item: Record<string, NativeAttributeValue>): Pick<StoredRun, 'state' | 'retentionDays'> {
  const { state, retentionDays } = unpackBody(item.d as Uint8Array, undefined);
  return { state, retentionDays };
}

/**
 * The PartiQL statement (for BatchExecuteStatement: conditional, but billed as a plain write) that
 * writes an item of this table: an insert that fails if it exists, or (for a run item) a whole update
 * conditional on the version that was read. Either fails on a concurrent writer, whose work the caller
 * then re-reads.
 */
export function writeStatement(table: string, item: Record<string, NativeAttributeValue>, readVer: number | undefined): { Statement: string; Parameters: NativeAttributeValue[] } {
  if (readVer === undefined) {
    const names = Object.keys(item);
    return { Statement: `INSERT INTO "${table}" VALUE {${names.map((n) => `'${n}': ?`).join(', ')}}`, Parameters: names.map((n) => item[n]) };
  }
  const { pk, sk, ...rest } = item;
  const names = Object.keys(rest);
  // an attribute a run item may lose between versions
  const removes = ['ev'].filter((n) => !(n in rest));
  return {
    Statement: `UPDATE "${table}" ${names.map((n) => `SET "${n}" = ?`).join(' ')}${removes.map((n) => ` REMOVE "${n}"`).join('')} WHERE "pk" = ? AND "sk" = ? AND "ver" = ?`,
    Parameters: [...names.map((n) => rest[n]), pk, sk, readVer],
  };
}

/**
 * Puts the items that go beside a run before its item is written: step chunks and sealed pages
 * (idempotent: each key is fixed by its request, and a page's by the version too), 25 to a call.
 */
export async function putChunksAndPages(s: Stores, chunks: readonly Record<string, NativeAttributeValue>[]): Promise<void> {
  for (let i = 0; i < chunks.length; i += 25) {
    let requests: { PutRequest: { Item: Record<string, NativeAttributeValue> } }[] | undefined = chunks.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests && requests.length > 0; attempt++) {
      if (attempt > 8) throw new Error('BatchWriteItem left step chunks or pages unprocessed after retries');
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
      const res = await s.ddb.send(new BatchWriteCommand({ RequestItems: { [s.tables.runs]: requests }, ReturnConsumedCapacity: 'TOTAL' }));
      requests = res.UnprocessedItems?.[s.tables.runs] as typeof requests;
    }
  }
}

/**
 * A sealed page: the event hashes and chunk ids a run item had gathered when it was written at version
 * `ver` by request `batchId`. The key is fixed by both, so a page is only ever rewritten with the same
 * content (the same request planned from the same version), and a page of a write that failed its
 * condition is an orphan no item refers to.
 */
export const pageRef = (ver: number, batchId: string) => `${ver}.${batchId.slice(0, 16)}`;
const pageSortKey = (ref: string) => `H#${ref}`;

export function pageItem(tenantId: string, runId: string, ref: string, hashes: Uint8Array, chunkIds: readonly string[], ttl: number): Record<string, NativeAttributeValue> {
  return { pk: chunkPartition(tenantId, runId), sk: pageSortKey(ref), ...(hashes.byteLength ? { h: hashes } : {}), ...(chunkIds.length ? { c: chunkIds } : {}), ttl };
}

/** Strongly consistent BatchGetItem of any keys of the runs table, unprocessed keys retried. */
async function batchGet(s: Stores, keys: readonly Record<string, NativeAttributeValue>[]): Promise<Record<string, NativeAttributeValue>[]> {
  const out: Record<string, NativeAttributeValue>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, NativeAttributeValue>[] | undefined = keys.slice(i, i + 100);
    for (let attempt = 0; pending && pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
      const res = await s.ddb.send(
        new BatchGetCommand({ RequestItems: { [s.tables.runs]: { Keys: pending, ConsistentRead: true } } }),
      );
      out.push(...(res.Responses?.[s.tables.runs] ?? []));
      pending = res.UnprocessedKeys?.[s.tables.runs]?.Keys as Record<string, NativeAttributeValue>[] | undefined;
      if (attempt > 8 && pending?.length) throw new Error('BatchGetItem left keys unprocessed after retries');
    }
  }
  return out;
}

/**
 * Strongly consistent reads of several runs of one tenant. With `allHashes`, each run's event hashes
 * include those of its sealed pages (what ingest needs to tell a resent event); a page past its TTL
 * holds events past retention, and is skipped.
 */
export async function getRuns(s: Stores, tenantId: string, runIds: readonly string[], opts: { allHashes?: boolean } = {}): Promise<Map<string, StoredRun>> {
  const out = new Map<string, StoredRun>();
  const items = await batchGet(s, runIds.map((id) => ({ pk: runsPartition(tenantId), sk: runSortKey(id) })));
  for (const item of items) {
    const run = decodeRun(item);
    out.set(run.state.runId, run);
  }
  const paged = [...out.values()].filter((r) => r.pages.length > 0);
  if (!opts.allHashes || paged.length === 0) return out;
  const pages = new Map<string, Uint8Array>();
  const pageKey = (runId: string, ref: string) => ({ pk: chunkPartition(tenantId, runId), sk: pageSortKey(ref) });
  for (const page of await batchGet(s, paged.flatMap((r) => r.pages.map((ref) => pageKey(r.state.runId, ref))))) {
    if (page.h) pages.set(`${page.pk as string}|${page.sk as string}`, page.h as Uint8Array);
  }
  for (const run of paged) {
    const sealed = run.pages.flatMap((ref) => {
      const { pk, sk } = pageKey(run.state.runId, ref);
      const h = pages.get(`${pk}|${sk}`);
      return h ? [h] : [];
    });
    out.set(run.state.runId, { ...run, ev: run.ev.withSealed(sealed) });
  }
  return out;
}

export interface StepChunk {
  steps: StepRecord[];
  s3Key: string;
  lines: number[];
  receivedAt: number;
}

/** Steps are stored as gzip JSON: the chunk is written once per run and request, and is a third the size. */
export function encodeSteps(steps: unknown[]): Uint8Array {
  return gzipSync(JSON.stringify(steps));
}

/**
 * A chunk's short id, as the run item lists it: 8 characters instead of a 60-character sort key, so a
 * long session (an agent exporting every few seconds for hours) keeps a small run item.
 */
export function chunkId(chunkSk: string): string {
  return createHash('sha256').update(chunkSk).digest('base64url').slice(0, 8);
}

/**
 * The run's steps and raw-line references, oldest first: its inline parts, then the chunks it lists,
 * itself or in its sealed pages (which sort before the chunks in the same partition).
 */
export async function getChunks(s: Stores, tenantId: string, run: StoredRun): Promise<StepChunk[]> {
  const out: StepChunk[] = run.inline.map((p) => ({ steps: p.steps, s3Key: rawKey(tenantId, p.receivedAt, p.batchId), lines: p.lines, receivedAt: p.receivedAt }));
  if (run.chunks.length === 0 && run.pages.length === 0) return out;
  const keep = new Set(run.chunks);
  const pages = new Set(run.pages.map(pageSortKey));
  let start: Record<string, NativeAttributeValue> | undefined;
  do {
    const res = await s.ddb.send(
      new QueryCommand({
        TableName: s.tables.runs,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': chunkPartition(tenantId, run.state.runId) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of res.Items ?? []) {
      if (pages.has(item.sk as string)) for (const id of (item.c as string[] | undefined) ?? []) keep.add(id);
      if (!keep.has(chunkId(item.sk as string))) continue;
      out.push({
        steps: JSON.parse(gunzipSync(item.steps as Uint8Array).toString('utf8')),
        s3Key: item.s3Key as string,
        lines: item.lines as number[],
        receivedAt: item.receivedAt as number,
      });
    }
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

export interface RunListQuery {
  tenantId: string;
  fromMs: number;
  toMs: number;
  startKey?: Record<string, NativeAttributeValue>;
  pageSize: number;
}

/** One page of a run-list query, newest first; the caller keeps paging while it needs more. */
export async function queryRunPage(s: Stores, q: RunListQuery): Promise<{ items: Record<string, NativeAttributeValue>[]; lastKey?: Record<string, NativeAttributeValue> }> {
  const lo = startRange(q.fromMs);
  // `to` is exclusive: every key of an earlier start sorts before `<to ISO>`
  const hi = startRange(q.toMs);
  const res = await s.ddb.send(
    new QueryCommand({
      TableName: s.tables.runs,
      IndexName: 'byStart',
      KeyConditionExpression: 'pk = :pk AND byStart BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':pk': runsPartition(q.tenantId), ':lo': lo, ':hi': hi },
      ScanIndexForward: false,
      ConsistentRead: true,
      Select: 'ALL_ATTRIBUTES',
      Limit: q.pageSize,
      ExclusiveStartKey: q.startKey,
    }),
  );
  return { items: res.Items ?? [], lastKey: res.LastEvaluatedKey };
}

export function indexKeyOf(item: Record<string, NativeAttributeValue>): Record<string, NativeAttributeValue> {
  return { pk: item.pk, sk: item.sk, byStart: item.byStart };
}

/** Trace look-up: `<tenant>#T#<traceId> / R#<runId>`, written when a run first gets its trace id. */
export const tracePartition = (tenantId: string, traceId: string) => `${tenantId}#T#${traceId}`;

export async function runIdsByTrace(s: Stores, tenantId: string, traceId: string): Promise<string[]> {
  const res = await s.ddb.send(
    new QueryCommand({
      TableName: s.tables.runs,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tracePartition(tenantId, traceId) },
      ConsistentRead: true,
      Limit: 500,
    }),
  );
  return (res.Items ?? []).map((i) => String(i.sk).slice(2));
}
