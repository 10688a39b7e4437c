import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ingest, newTenant, settled, stackInfo } from '../helpers/stack.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { applyStreamBatch } from '../../shared/aggregate/apply-cells.ts';
import type { StreamImageRecord } from '../../shared/aggregate/stream.ts';
import { createStores } from '../../shared/store/clients.ts';
import { encodeRun } from '../../shared/store/runs-table.ts';
import { EventHashes } from '../../shared/store/run-item.ts';
import { readDayCells } from '../../shared/store/rollups-table.ts';
import { tableName } from '../../shared/tables.ts';
import { lambdaRecord, StreamPoller } from '../../local/streams.ts';
import { handler } from '../../functions/aggregate.ts';

/**
 * Day cells are folded from the runs table's stream: a rollup read after `settled()` holds every run
 * change ingested before it, exactly once, however often a stream batch is delivered.
 */
const DAY = 86_400_000;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const at = (dayOffset: number, minutes = 0) => new Date(TODAY + dayOffset * DAY + 10 * 3_600_000 + minutes * 60_000).toISOString();
const RANGE = { from: new Date(TODAY - 3 * DAY).toISOString(), to: new Date(TODAY + DAY).toISOString() };

type Tenant = Awaited<ReturnType<typeof newTenant>>;
const rollup = (t: Tenant, groupBy: 'repo' | 'model' | 'day') => t.client.costs.rollup.query({ tenantId: t.tenantId, groupBy, ...RANGE });
/** The rows that count something (a cell a run moved out of is left at zero), by key. */
const rows = async (t: Tenant, groupBy: 'repo' | 'model' | 'day') =>
  Object.fromEntries(
    (await rollup(t, groupBy)).rows.filter((r) => r.runs !== 0 || r.costUsd !== 0).map((r) => [r.key, { runs: r.runs, costUsd: r.costUsd, usefulOutcomes: r.usefulOutcomes }]),
  );

describe('rollups from the runs stream', () => {
  it('equal the hand sums of what was ingested once settled, and follow a run whose repo arrives late', async () => {
    const t = await newTenant('stream-rollup');
    const first = await ingest(t.key, [
      { type: 'run', id: 'a0', runId: 'run-a', timestamp: at(-1), repo: 'web', status: 'succeeded', outcome: 'merged_change', endedAt: at(-1, 4) },
      { type: 'step', id: 'a1', runId: 'run-a', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(-1, 1), endedAt: at(-1, 2), model: 'claude-sonnet-4-5', costUsd: 0.5 },
      { type: 'step', id: 'a2', runId: 'run-a', stepId: 's2', kind: 'llm', name: 'chat', startedAt: at(-1, 2), endedAt: at(-1, 3), model: 'gpt-5', costUsd: 0.25 },
      { type: 'run', id: 'b0', runId: 'run-b', timestamp: at(-2), repo: 'api', status: 'failed', outcome: 'none', endedAt: at(-2, 1) },
      { type: 'step', id: 'b1', runId: 'run-b', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(-2), endedAt: at(-2, 1), model: 'gpt-5', costUsd: 1 },
      // no repo yet: counted under `unknown` until its run event arrives
      { type: 'step', id: 'c1', runId: 'run-c', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(-1, 30), endedAt: at(-1, 31), model: 'claude-sonnet-4-5', costUsd: 2 },
    ]);
    expect(first.body).toMatchObject({ accepted: 6, rejected: [] });

    await settled();
    expect(await rows(t, 'repo')).toEqual({
      web: { runs: 1, costUsd: 0.75, usefulOutcomes: 1 },
      api: { runs: 1, costUsd: 1, usefulOutcomes: 0 },
      unknown: { runs: 1, costUsd: 2, usefulOutcomes: 0 },
    });

    await ingest(t.key, [{ type: 'run', id: 'c0', runId: 'run-c', timestamp: at(-1, 30), repo: 'web', status: 'succeeded', outcome: 'merged_change' }]);
    await settled();
    expect(await rows(t, 'repo')).toEqual({
      web: { runs: 2, costUsd: 2.75, usefulOutcomes: 2 },
      api: { runs: 1, costUsd: 1, usefulOutcomes: 0 },
    });
    expect(await rows(t, 'model')).toEqual({
      'claude-sonnet-4-5': { runs: 2, costUsd: 2.5, usefulOutcomes: 2 },
      'gpt-5': { runs: 2, costUsd: 1.25, usefulOutcomes: 1 },
    });
    expect(await rows(t, 'day')).toEqual({
      [at(-1).slice(0, 10)]: { runs: 2, costUsd: 2.75, usefulOutcomes: 2 },
      [at(-2).slice(0, 10)]: { runs: 1, costUsd: 1, usefulOutcomes: 0 },
    });
  });

  it('count a resent request once', async () => {
    const t = await newTenant('stream-resend');
    const events = [
      { type: 'run', id: 'r0', runId: 'run-r', timestamp: at(-1), repo: 'web', status: 'succeeded' },
      { type: 'step', id: 'r1', runId: 'run-r', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(-1, 1), model: 'gpt-5', costUsd: 0.125 },
    ];
    await ingest(t.key, events);
    expect((await ingest(t.key, events)).body).toMatchObject({ accepted: 0, duplicates: 2 });
    await settled();
    expect(await rows(t, 'repo')).toEqual({ web: { runs: 1, costUsd: 0.125, usefulOutcomes: 0 } });
  });
});

/** Run items of `tenantId` as stream records: one new run per repo, each with one priced step. */
function newRunRecords(tenantId: string, repos: string[]): StreamImageRecord[] {
  return repos.map((repo, i) => {
    const startedAt = Date.parse(at(-1, i));
    const events = [
      { type: 'run', eventId: `e${i}`, runId: `run-${i}`, at: startedAt, run: { repo, status: 'succeeded' }, redactions: 0 },
      { type: 'step', eventId: `s${i}`, runId: `run-${i}`, redactions: 0, costNanos: 1_000_000, step: { stepId: 's', kind: 'llm', name: 'chat', startedAt, status: 'ok', model: 'gpt-5' } },
    ] as PricedEvent[];
    const state = applyEvents(undefined, `run-${i}`, events);
    const newImage = encodeRun(tenantId, { state, ver: 1, ttl: 0, ev: EventHashes.none, chunks: [], inline: [], pages: [], retentionDays: 14 });
    return { eventId: randomUUID(), newImage, createdAtMs: Date.now() };
  });
}

describe('exactly once per stream batch', () => {
  beforeAll(() => useStackEnvironment());

  it('adds the same Lambda event, handed to the handler twice, once', async () => {
    const t = await newTenant('stream-replay');
    const [record] = newRunRecords(t.tenantId, ['web']);
    const sdk: _Record = {
      eventID: record!.eventId,
      eventName: 'INSERT',
      dynamodb: {
        ApproximateCreationDateTime: new Date(),
        Keys: marshall({ pk: record!.newImage!.pk, sk: record!.newImage!.sk }),
        NewImage: marshall(record!.newImage!),
        SequenceNumber: '1',
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    const event: DynamoDBStreamEvent = { Records: [lambdaRecord(sdk, 'arn:aws:dynamodb:local:000000000000:table/lidless-runs/stream/test')] };

    await handler(event);
    await handler(event);
    expect(await rows(t, 'repo')).toEqual({ web: { runs: 1, costUsd: 0.001, usefulOutcomes: 0 } });
  });

  it('applies a batch retried after some of its transactions committed (their answers lost) exactly once', async () => {
    const t = await newTenant('stream-partial');
    // 120 cells and their day summaries: more than one transaction
    const batch = newRunRecords(t.tenantId, Array.from({ length: 120 }, (_, i) => `repo-${i}`));
    const flaky = createStores();
    let calls = 0;
    // the first transaction commits but its answer is lost; the second fails before it is sent
    flaky.ddb.middlewareStack.add(
      (next) => async (args) => {
        const n = ++calls;
        if (n === 2) throw Object.assign(new Error('throttled (injected)'), { name: 'ThrottlingException' });
        const out = await next(args);
        if (n === 1) throw Object.assign(new Error('connection reset (injected)'), { name: 'TimeoutError' });
        return out;
      },
      { step: 'initialize', name: 'lostAnswers' },
    );
    await expect(applyStreamBatch(flaky, batch)).rejects.toThrow('injected');

    const retried = await applyStreamBatch(createStores(), batch);
    expect(retried.transactions).toBeGreaterThan(1);
    const { totals, rows: byRepo } = await rollup(t, 'repo');
    expect(totals.runs).toBe(120);
    expect(totals.costUsd).toBeCloseTo(0.12, 9);
    expect(byRepo.every((r) => r.runs === 1)).toBe(true);
    // the cells themselves, the first transaction's included
    const { cells } = await readDayCells(createStores(), t.tenantId, [at(-1).slice(0, 10)], Date.now() / 1000);
    expect(cells).toHaveLength(120);
    expect(cells.every((c) => c.counters.runs === 1 && c.counters.costNanos === 1_000_000)).toBe(true);
  });
});

describe('the local stream poller', () => {
  let dir: string;
  beforeAll(() => {
    useStackEnvironment();
    dir = mkdtempSync(join(tmpdir(), 'lidless-poller-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A poller of the stack's runs stream with its own checkpoint, recording what it is handed. */
  function poller(file: string, handle: (records: DynamoDBRecord[]) => Promise<void> = async () => undefined) {
    const seen: DynamoDBRecord[][] = [];
    const p = new StreamPoller({
      endpoint: stackInfo().dynamoEndpoint,
      tableName: tableName(stackInfo().tablePrefix, 'runs'),
      checkpointFile: join(dir, file),
      pollMs: 20,
      handler: async (event) => {
        await handle(event.Records);
        seen.push(event.Records);
      },
    });
    return { p, seen, ids: () => seen.flat().map((r) => r.eventID!) };
  }
  /** a poller that starts from the checkpoint, hands over everything written so far, and stops */
  async function drainedPoller(file: string) {
    const x = poller(file);
    await x.p.start();
    await x.p.drain();
    await x.p.close();
    return x;
  }
  const runKeysOf = (records: DynamoDBRecord[], tenantId: string) =>
    records.filter((r) => r.dynamodb?.Keys?.pk?.S === `${tenantId}#RUNS`).map((r) => r.dynamodb!.Keys!.sk!.S);

  it('resumes after a restart from its checkpoint: nothing handed over twice, nothing lost', async () => {
    const t = await newTenant('stream-restart');
    await ingest(t.key, [{ type: 'run', id: 'x0', runId: 'before-stop', timestamp: at(-1), repo: 'web' }]);
    const a = await drainedPoller('restart.json');
    expect(runKeysOf(a.seen.flat(), t.tenantId)).toEqual(['R#before-stop']);
    // Lambda's event shape, in order within the shard
    const seqs = a.seen.flat().map((r) => BigInt(r.dynamodb!.SequenceNumber!));
    expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(a.seen.every((batch) => batch.length <= 1000)).toBe(true);
    expect(a.seen.flat()[0]).toMatchObject({ eventSource: 'aws:dynamodb', eventSourceARN: expect.stringContaining('lidless-runs'), dynamodb: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });

    await ingest(t.key, [{ type: 'run', id: 'x1', runId: 'after-stop', timestamp: at(-1), repo: 'web' }]);
    const b = await drainedPoller('restart.json');
    expect(runKeysOf(b.seen.flat(), t.tenantId)).toEqual(['R#after-stop']);
    const before = new Set(a.ids());
    expect(b.ids().filter((id) => before.has(id))).toEqual([]);
    // the record of the new run, with its image, and its binary attributes in base64 as Lambda sends them
    const inserted = b.seen.flat().find((r) => r.dynamodb?.Keys?.sk?.S === 'R#after-stop')!;
    expect(inserted.eventName).toBe('INSERT');
    expect(typeof inserted.dynamodb!.NewImage!.d!.B).toBe('string');
  });

  it('hands a batch that was failing at a stop over again, exactly as it was, after the restart', async () => {
    const t = await newTenant('stream-inflight');
    const a = poller('inflight.json');
    await a.p.start();
    await a.p.drain();

    // the handler fails for the batch holding this tenant's run, as long as this poller runs
    let failures = 0;
    let failingBatch: (string | undefined)[] = [];
    const failing = poller('inflight.json', async (records) => {
      if (runKeysOf(records, t.tenantId).length) {
        failures++;
        failingBatch = records.map((r) => r.eventID);
        throw new Error('handler down');
      }
    });
    await a.p.close();
    await failing.p.start();
    await ingest(t.key, [{ type: 'run', id: 'y0', runId: 'stuck', timestamp: at(-1), repo: 'web' }]);
    await expect.poll(() => failures, { timeout: 10_000 }).toBeGreaterThan(1);
    await failing.p.close();

    const attempts = await drainedPoller('inflight.json');
    // its first batch is the one that was failing: same records, so the same transaction tokens
    expect(attempts.seen[0]!.map((r) => r.eventID)).toEqual(failingBatch);
    expect(runKeysOf(attempts.seen.flat(), t.tenantId)).toEqual(['R#stuck']);
  });
});
