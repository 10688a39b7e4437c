import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchExecuteStatementCommand, BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, type BatchExecuteStatementCommandInput, type BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseNativeBatch } from '../../shared/formats/native.ts';
import { batchIdOf, ingestParsed } from '../../shared/ingest/pipeline.ts';
import { RunCache, runCache } from '../../shared/ingest/run-cache.ts';
import type { Stores } from '../../shared/store/clients.ts';
import type { Tenant } from '../../shared/store/control-table.ts';
import { decodeRun, type StoredRun } from '../../shared/store/runs-table.ts';

/**
 * Runs are planned without a read when this process committed them last, or guessed new when it has
 * not seen them; the write's condition catches a stale state or a wrong guess, and the run is read.
 * DynamoDB is mocked: what matters is which reads and writes are sent, and what the client is told.
 */
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const s3 = new S3Client({ region: 'us-east-1' });
const ddbMock = mockClient(ddb);
const s3Mock = mockClient(s3);
const stores: Stores = { ddb, s3, tables: { control: 'c', runs: 'runs', rollups: 'ro', metrics: 'm', alerts: 'a' }, bucket: 'raw' };
const T0 = Date.UTC(2026, 10, 20, 10);

const tenant = (tenantId: string): Tenant => ({ tenantId, name: tenantId, retentionDays: 30, redactEmails: true, createdAt: '' });

function steps(runId: string, from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    type: 'step',
    id: `${runId}-e${from + i}`,
    runId,
    stepId: `s${from + i}`,
    kind: 'llm',
    name: 'chat',
    model: 'gpt-4o',
    startedAt: T0 + (from + i) * 1000,
    usage: { inputTokens: 100, outputTokens: 10 },
  }));
}

async function send(tenantId: string, events: unknown[]) {
  const parsed = parseNativeBatch({ events });
  const out = await ingestParsed({ stores, tenant: tenant(tenantId), rules: [] }, parsed, batchIdOf(tenantId, 'native', JSON.stringify(events)));
  return { accepted: out.accepted, duplicates: out.duplicates };
}

const statementsSent = () =>
  ddbMock.commandCalls(BatchExecuteStatementCommand).flatMap((c) => (c.args[0].input as BatchExecuteStatementCommandInput).Statements!.map((st) => st.Statement!));
const reads = () => ddbMock.commandCalls(BatchGetCommand).length;

/** What DynamoDB holds, kept by the mock: run items by key, written by the statements it accepts. */
let table: Map<string, Record<string, unknown>>;
/** statements to fail once with this code, by the run id in their key */
let failNext: Map<string, string>;

function accept(statement: string, params: unknown[]): { Error?: { Code: string; Message: string } } {
  const insert = statement.startsWith('INSERT');
  const names = insert ? [...statement.matchAll(/'([^']+)': \?/g)].map((m) => m[1]!) : [...statement.matchAll(/SET "([^"]+)" = \?/g)].map((m) => m[1]!);
  const item: Record<string, unknown> = {};
  names.forEach((n, i) => (item[n] = params[i]));
  const pk = insert ? item.pk : params[names.length];
  const sk = insert ? item.sk : params[names.length + 1];
  const key = `${String(pk)}|${String(sk)}`;
  const injected = failNext.get(String(sk));
  if (injected) {
    failNext.delete(String(sk));
    return { Error: { Code: injected, Message: 'injected' } };
  }
  const existing = table.get(key);
  if (insert && existing) return { Error: { Code: 'DuplicateItem', Message: 'exists' } };
  if (!insert && existing?.ver !== params[names.length + 2]) return { Error: { Code: 'ConditionalCheckFailed', Message: 'version' } };
  table.set(key, insert ? item : { ...existing, ...item });
  return {};
}

beforeEach(() => {
  runCache.clear();
  table = new Map();
  failNext = new Map();
  ddbMock.reset();
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
  ddbMock.on(BatchExecuteStatementCommand).callsFake((input: BatchExecuteStatementCommandInput) => ({
    Responses: input.Statements!.map((st) => accept(st.Statement!, st.Parameters ?? [])),
  }));
  // step chunks and sealed pages
  ddbMock.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => {
    for (const w of Object.values(input.RequestItems!)[0]!) table.set(`${String(w.PutRequest!.Item!.pk)}|${String(w.PutRequest!.Item!.sk)}`, w.PutRequest!.Item!);
    return {};
  });
  ddbMock.on(BatchGetCommand).callsFake((input) => {
    const keys = Object.values(input.RequestItems as Record<string, { Keys: { pk: string; sk: string }[] }>)[0]!.Keys;
    return { Responses: { runs: keys.map((k) => table.get(`${k.pk}|${k.sk}`)).filter(Boolean) } };
  });
});

describe('planning runs without reading them', () => {
  it('writes a run it has not seen as a new one, with no read', async () => {
    expect(await send('tA', steps('r1', 0, 3))).toEqual({ accepted: 3, duplicates: 0 });
    expect(reads()).toBe(0);
    expect(statementsSent()).toEqual([expect.stringMatching(/^INSERT INTO "runs"/)]);
  });

  it('plans the next batch of a run it committed from what it committed: an update of that version, no read', async () => {
    await send('tA', steps('r1', 0, 3));
    ddbMock.resetHistory();
    expect(await send('tA', steps('r1', 3, 2))).toEqual({ accepted: 2, duplicates: 0 });
    expect(reads()).toBe(0);
    expect(statementsSent()).toEqual([expect.stringMatching(/^UPDATE "runs" .* WHERE "pk" = \? AND "sk" = \? AND "ver" = \?$/)]);
    const stored = decodeRun(table.get('tA#RUNS|R#r1')!);
    expect(stored.ver).toBe(2);
    expect(stored.ev.size).toBe(5);
    expect(stored.state.llmCalls).toBe(5);
  });

  it('finds a resent batch duplicate from what it committed, writing nothing', async () => {
    await send('tA', steps('r1', 0, 3));
    ddbMock.resetHistory();
    expect(await send('tA', steps('r1', 0, 3))).toEqual({ accepted: 0, duplicates: 3 });
    expect(statementsSent()).toEqual([]);
  });

  it('reads a run guessed new that another process had written, and counts only what it lacks', async () => {
    // another container committed events 0-2; this one has never seen the run
    await send('tA', steps('r1', 0, 3));
    runCache.clear();
    ddbMock.resetHistory();

    expect(await send('tA', steps('r1', 1, 4))).toEqual({ accepted: 2, duplicates: 2 });
    expect(statementsSent()).toEqual([expect.stringMatching(/^INSERT/), expect.stringMatching(/^UPDATE/)]);
    expect(reads()).toBe(1);
    const stored = decodeRun(table.get('tA#RUNS|R#r1')!);
    expect(stored.ev.size).toBe(5);
    expect(stored.state.llmCalls).toBe(5);
  });

  it('reads a run whose cached version another process has moved on, and applies its batch to the newer one', async () => {
    await send('tA', steps('r1', 0, 2));
    // another container adds events 2-3 (version 2) behind this one's back
    const cached = runCache.get('tA', 'r1')!;
    runCache.clear();
    await send('tA', steps('r1', 2, 2));
    runCache.set('tA', 'r1', cached);
    ddbMock.resetHistory();

    expect(await send('tA', steps('r1', 3, 2))).toEqual({ accepted: 1, duplicates: 1 });
    expect(statementsSent()).toEqual([expect.stringMatching(/^UPDATE/), expect.stringMatching(/^UPDATE/)]);
    expect(reads()).toBe(1);
    const stored = decodeRun(table.get('tA#RUNS|R#r1')!);
    expect(stored.ver).toBe(3);
    expect(stored.ev.size).toBe(5);
  });

  it('after a throttled write, reads the run before trying again', async () => {
    failNext.set('R#r1', 'ThrottlingError');
    expect(await send('tA', steps('r1', 0, 2))).toEqual({ accepted: 2, duplicates: 0 });
    expect(reads()).toBe(1);
    expect(statementsSent()).toHaveLength(2);
    expect(decodeRun(table.get('tA#RUNS|R#r1')!).ev.size).toBe(2);
  });

  it('reads unseen runs first for a tenant whose unseen runs keep existing, and guesses again for others', async () => {
    // a tenant whose runs' batches land on other containers: every unseen run exists already
    for (let r = 0; r < 4; r++) {
      await send('tB', steps(`r${r}`, 0, 1));
      runCache.forget('tB', `r${r}`);
      await send('tB', steps(`r${r}`, 1, 1));
      runCache.forget('tB', `r${r}`);
    }
    ddbMock.resetHistory();
    await send('tB', steps('r0', 2, 1));
    expect(reads()).toBe(1);
    expect(statementsSent()).toEqual([expect.stringMatching(/^UPDATE/)]);

    ddbMock.resetHistory();
    await send('tC', steps('r0', 0, 1));
    expect(reads()).toBe(0);
  });
});

describe('a long session', () => {
  const runItem = () => decodeRun(table.get('tA#RUNS|R#long')! as never);
  const batches = Array.from({ length: 60 }, (_, b) => steps('long', b * 5, 5));

  it("keeps its run item small: hashes and chunk ids move to sealed pages beside it", async () => {
    for (const batch of batches.slice(0, 40)) expect(await send('tA', batch)).toEqual({ accepted: 5, duplicates: 0 });
    const stored = runItem();
    expect(stored.pages.length).toBeGreaterThan(0);
    expect(stored.ev.openCount).toBeLessThan(128);
    expect(stored.chunks.length).toBeLessThan(32);
    const item = table.get('tA#RUNS|R#long')!;
    expect((item.ev as Uint8Array | undefined)?.byteLength ?? 0).toBeLessThan(128 * 6);
    expect((item.d as Uint8Array).byteLength).toBeLessThan(1024);
  });

  it('finds a resent early batch duplicate from the sealed pages when it has not seen the run, writing nothing', async () => {
    for (const batch of batches.slice(0, 40)) await send('tA', batch);
    const version = runItem().ver;
    runCache.clear();
    ddbMock.resetHistory();

    expect(await send('tA', batches[2]!)).toEqual({ accepted: 0, duplicates: 5 });
    // guessed new, the insert fails; then the run item is read, and its pages
    expect(statementsSent()).toEqual([expect.stringMatching(/^INSERT/)]);
    expect(reads()).toBe(2);
    expect(ddbMock.commandCalls(BatchWriteCommand)).toHaveLength(0);
    expect(runItem().ver).toBe(version);

    // and goes on from there: new events count, a mix counts only what is new
    expect(await send('tA', batches[40]!)).toEqual({ accepted: 5, duplicates: 0 });
    expect(await send('tA', [...batches[1]!, ...batches[41]!])).toEqual({ accepted: 5, duplicates: 5 });
    expect(runItem().state.llmCalls).toBe(210);
  });
});

describe("a run's size", () => {
  it('takes 25,000 events, then rejects further ones with a reason, and still tells a resent one', async () => {
    const big = (from: number, count: number) => steps('huge', from, count);
    for (let from = 0; from < 25_000; from += 1000) expect(await send('tA', big(from, 1000))).toEqual({ accepted: 1000, duplicates: 0 });
    const parsed = parseNativeBatch({ events: big(25_000, 3) });
    const out = await ingestParsed({ stores, tenant: tenant('tA'), rules: [] }, parsed, batchIdOf('tA', 'native', 'over'));
    expect(out.accepted).toBe(0);
    expect(out.rejected).toHaveLength(3);
    expect(out.rejected[0]!.error).toMatch(/^runId: run huge has reached its size limit/);
    expect(await send('tA', big(0, 5))).toEqual({ accepted: 0, duplicates: 5 });
    expect(decodeRun(table.get('tA#RUNS|R#huge')! as never).state.llmCalls).toBe(25_000);
  });
});

describe('the cache itself', () => {
  it('keeps the runs used most recently, up to its size', () => {
    const cache = new RunCache(2);
    const run = (runId: string) => ({ runId }) as unknown as StoredRun;
    cache.set('t', 'a', run('a'));
    cache.set('t', 'b', run('b'));
    cache.get('t', 'a');
    cache.set('t', 'c', run('c'));
    expect(cache.get('t', 'a')).toBeDefined();
    expect(cache.get('t', 'b')).toBeUndefined();
    expect(cache.get('t', 'c')).toBeDefined();
  });

  it('guesses again once unseen runs stop existing', () => {
    const cache = new RunCache();
    for (let i = 0; i < 5; i++) cache.learn('t', true);
    expect(cache.guessNew('t')).toBe(false);
    for (let i = 0; i < 40; i++) cache.learn('t', false);
    expect(cache.guessNew('t')).toBe(true);
  });
});
