import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { applyEvents, type PricedEvent, type RunState } from '../../shared/aggregate/run-state.ts';
import { modelCounter } from '../../shared/aggregate/cells.ts';
import { cellTtl, dayCellDeltas, type StreamImageRecord, type TenantCellDeltas } from '../../shared/aggregate/stream.ts';
import { applyStreamBatch, MAX_CELL_COUNTERS } from '../../shared/aggregate/apply-cells.ts';
import { chunkPartition, encodeRun, tracePartition } from '../../shared/store/runs-table.ts';
import { EventHashes } from '../../shared/store/run-item.ts';
import { fromStoredNames } from '../../shared/store/rollups-table.ts';
import type { Stores } from '../../shared/store/clients.ts';
import type { StepInput } from '../../shared/model.ts';
import { lambdaRecord } from '../../local/streams.ts';
import { handler } from '../../functions/aggregate.ts';

/**
 * The stream consumer: run changes in, day-cell deltas out (pure), written exactly once per batch
 * (DynamoDB mocked: what matters is which transactions are sent, and that a retry sends the same).
 */
const DAY = Date.UTC(2026, 10, 20);
const T0 = DAY + 10 * 3_600_000;
const NOW = DAY + 2 * 86_400_000;

function step(id: string, over: Partial<StepInput> = {}, costNanos = 1000): PricedEvent {
  const s: StepInput = { stepId: id, kind: 'llm', name: 'chat', startedAt: T0 + 1000, endedAt: T0 + 2000, status: 'ok', model: 'm1', usage: { inputTokens: 10, outputTokens: 5 }, ...over };
  return { type: 'step', eventId: id, runId: 'r1', redactions: 0, costNanos, step: s };
}
const runEvent = (run: Record<string, unknown>): PricedEvent => ({ type: 'run', eventId: `run-${JSON.stringify(run)}`, runId: 'r1', at: T0, run, redactions: 0 }) as PricedEvent;

function image(tenantId: string, state: RunState, retentionDays = 14, ver = 1): Record<string, unknown> {
  return encodeRun(tenantId, { state, ver, ttl: 0, ev: EventHashes.none, chunks: [], inline: [], pages: [], retentionDays });
}

// every document client of this file, the handler's own included
const ddbMock = mockClient(DynamoDBDocumentClient);

let seq = 0;
function change(oldImage: Record<string, unknown> | undefined, newImage: Record<string, unknown> | undefined, createdAtMs = NOW): StreamImageRecord {
  return { eventId: `ev-${String(++seq).padStart(6, '0')}`, oldImage, newImage, createdAtMs };
}

/** The one combination cell of a tenant whose repo is `repo` (not a day summary). */
function cellOf(deltas: TenantCellDeltas, tenantId: string, repo: string) {
  return [...(deltas.get(tenantId)?.values() ?? [])].find((c) => !c.ref.summary && c.ref.dims.repo === repo);
}

describe('day-cell deltas from run changes', () => {
  it('counts a new run (INSERT) in its cell, under its models too, with the cell kept for the tenant retention', () => {
    const state = applyEvents(undefined, 'r1', [runEvent({ repo: 'web', agent: 'codex', outcome: 'merged_change' }), step('a')]);
    const deltas = dayCellDeltas([change(undefined, image('tnA', state, 30))]);

    const cell = cellOf(deltas, 'tnA', 'web')!;
    expect(cell.ref).toEqual({ day: '2026-11-20', dims: { repo: 'web', agent: 'codex', branch: 'unknown', outcome: 'merged_change' } });
    expect(cell.counters).toMatchObject({ runs: 1, usefulOutcomes: 1, costNanos: 1000, inputTokens: 10, llmCalls: 1, [modelCounter('m1', 'runs')]: 1, [modelCounter('m1', 'costNanos')]: 1000 });
    // received two days after the cell's day: retention counts from the receipt
    expect(cell.ttl).toBe(Math.ceil((NOW + 30 * 86_400_000) / 1000));
  });

  it('adds only what a change (MODIFY) added to the run', () => {
    const before = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a')]);
    const after = applyEvents(before, 'r1', [step('b', {}, 250)]);
    const deltas = dayCellDeltas([change(image('tnA', before), image('tnA', after, 14, 2))]);
    expect(cellOf(deltas, 'tnA', 'web')!.counters).toEqual({
      costNanos: 250, inputTokens: 10, outputTokens: 5, llmCalls: 1,
      [modelCounter('m1', 'costNanos')]: 250, [modelCounter('m1', 'inputTokens')]: 10, [modelCounter('m1', 'outputTokens')]: 5, [modelCounter('m1', 'llmCalls')]: 1,
    });
  });

  it('subtracts nothing when a run item expires (REMOVE): retention is not a correction', () => {
    const state = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a')]);
    expect(dayCellDeltas([change(image('tnA', state), undefined)]).size).toBe(0);
  });

  it('moves a run and its costs between cells when its repo arrives late, leaving the day totals alone', () => {
    const before = applyEvents(undefined, 'r1', [step('a', {}, 700)]);
    const after = applyEvents(before, 'r1', [runEvent({ repo: 'api' })]);
    const deltas = dayCellDeltas([change(image('tnA', before), image('tnA', after, 14, 2))]);
    expect(cellOf(deltas, 'tnA', 'unknown')!.counters).toMatchObject({ runs: -1, costNanos: -700, [modelCounter('m1', 'runs')]: -1 });
    expect(cellOf(deltas, 'tnA', 'api')!.counters).toMatchObject({ runs: 1, costNanos: 700, [modelCounter('m1', 'runs')]: 1 });
  });

  it('sums several changes of one run in a batch to the change from the first state to the last, per tenant', () => {
    const s1 = applyEvents(undefined, 'r1', [step('a', {}, 100)]);
    const s2 = applyEvents(s1, 'r1', [runEvent({ repo: 'web' })]);
    const s3 = applyEvents(s2, 'r1', [step('b', {}, 50)]);
    const other = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a', {}, 9)]);
    const deltas = dayCellDeltas([
      change(undefined, image('tnA', s1)),
      change(image('tnA', s1), image('tnA', s2, 14, 2)),
      change(undefined, image('tnB', other)),
      change(image('tnA', s2, 14, 2), image('tnA', s3, 14, 3)),
    ]);
    // the run went through `unknown` and left it: nothing is written there
    expect(cellOf(deltas, 'tnA', 'unknown')).toBeUndefined();
    expect(cellOf(deltas, 'tnA', 'web')!.counters).toMatchObject({ runs: 1, costNanos: 150, llmCalls: 2 });
    expect(cellOf(deltas, 'tnB', 'web')!.counters).toMatchObject({ runs: 1, costNanos: 9 });
  });

  it('ignores the other items of the runs table: step chunks and trace pointers', () => {
    const deltas = dayCellDeltas([
      change(undefined, { pk: chunkPartition('tnA', 'r1'), sk: 'S#2026-11-20T10:00:00.000Z#b1', steps: new Uint8Array(3) }),
      change(undefined, { pk: tracePartition('tnA', 'abc'), sk: 'R#r1', ttl: 1 }),
    ]);
    expect(deltas.size).toBe(0);
  });

  it('keeps a cell of a recent day until retention after the end of that day', () => {
    const state = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a')]);
    const deltas = dayCellDeltas([change(undefined, image('tnA', state, 7), T0 + 60_000)]);
    const cell = cellOf(deltas, 'tnA', 'web')!;
    expect(cell.ttl).toBe((DAY + 86_400_000 + 7 * 86_400_000) / 1000);
    expect(cell.ttl).toBe(cellTtl(cell.ref, 7, T0 + 60_000));
  });
});

describe('writing a stream batch', () => {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const stores: Stores = {
    ddb,
    s3: new S3Client({ region: 'us-east-1' }),
    tables: { control: 'lidless-control', runs: 'lidless-runs', rollups: 'lidless-rollups', metrics: 'lidless-metrics', alerts: 'lidless-alerts' },
    bucket: 'lidless-raw',
  };
  const sent = () => ddbMock.commandCalls(TransactWriteCommand).map((c) => c.args[0].input as TransactWriteCommandInput);
  const keyOf = (item: NonNullable<TransactWriteCommandInput['TransactItems']>[number]) => `${item.Update!.Key!.pk}\n${item.Update!.Key!.sk}`;
  /** The counters an update adds, by name. */
  const added = (u: NonNullable<NonNullable<TransactWriteCommandInput['TransactItems']>[number]['Update']>) =>
    fromStoredNames(
      Object.fromEntries(
        Object.entries(u.ExpressionAttributeNames!)
          .filter(([, name]) => !['ttl', 'repo', 'agent', 'branch', 'outcome'].includes(name))
          .map(([p, name]) => [name, u.ExpressionAttributeValues![`:${p.slice(1)}`] as number]),
      ),
    );

  /** One new run per repo: as many cells as runs. */
  const newRuns = (n: number) =>
    Array.from({ length: n }, (_, i) => change(undefined, image('tnA', applyEvents(undefined, `r${i}`, [runEvent({ repo: `repo-${i}` }), step(`s${i}`)]))));

  beforeEach(() => {
    ddbMock.reset();
    ddbMock.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ TableName: 'lidless-rollups', CapacityUnits: 4 }] });
  });

  it('adds each cell delta once, with the batch token, asking for the consumed capacity', async () => {
    const applied = await applyStreamBatch(stores, newRuns(3));
    expect(applied).toMatchObject({ transactions: 1, consumedWriteUnits: 4 });
    const [tx] = sent();
    expect(tx!.ReturnConsumedCapacity).toBe('TOTAL');
    expect(tx!.ClientRequestToken).toMatch(/^[0-9a-f]{36}$/);
    expect(tx!.TransactItems).toHaveLength(applied.updates);
    const cells = tx!.TransactItems!.map((i) => i.Update!).filter((u) => u.Key!.pk === 'tnA#D#2026-11-20');
    expect(cells).toHaveLength(3);
    for (const u of cells) {
      expect(u.TableName).toBe('lidless-rollups');
      expect(u.UpdateExpression).toMatch(/ADD /);
      expect(added(u)).toMatchObject({ runs: 1, costNanos: 1000 });
    }
  });

  it('sends the very same transactions, tokens included, when the same batch is applied again', async () => {
    const batch = newRuns(5);
    await applyStreamBatch(stores, batch);
    const first = sent();
    ddbMock.resetHistory();
    await applyStreamBatch(stores, batch);
    expect(sent()).toEqual(first);
    // another batch gets other tokens
    ddbMock.resetHistory();
    await applyStreamBatch(stores, newRuns(5));
    expect(sent()[0]!.ClientRequestToken).not.toBe(first[0]!.ClientRequestToken);
  });

  it('splits a batch of more than 100 cells into transactions of at most 100, by key order, the same way every time', async () => {
    const batch = newRuns(150);
    const applied = await applyStreamBatch(stores, batch);
    const first = sent();
    expect(first.length).toBeGreaterThan(1);
    expect(first.map((tx) => tx.TransactItems!.length).slice(0, -1).every((n) => n === 100)).toBe(true);
    expect(first.reduce((n, tx) => n + tx.TransactItems!.length, 0)).toBe(applied.updates);
    const keys = first.flatMap((tx) => tx.TransactItems!.map(keyOf));
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k.startsWith('tnA#D#'))).toHaveLength(150);
    expect(new Set(first.map((tx) => tx.ClientRequestToken)).size).toBe(first.length);

    ddbMock.resetHistory();
    await applyStreamBatch(stores, batch);
    expect(sent()).toEqual(first);
  });

  it('spreads a cell of more than 300 counters over transactions that each touch it once', async () => {
    // four runs in one cell with 16 models each: 64 models of 6 counters
    const manyModels = (runId: string, prefix: string) =>
      applyEvents(undefined, runId, [runEvent({ repo: 'web' }), ...Array.from({ length: 16 }, (_, i) => step(`${runId}-${i}`, { model: `${prefix}${i}` }))]);
    await applyStreamBatch(stores, ['a', 'b', 'c', 'd'].map((prefix, i) => change(undefined, image('tnA', manyModels(`r${i}`, prefix)))));
    const txs = sent();
    expect(txs.length).toBeGreaterThan(1);
    const counters: Record<string, number> = {};
    for (const tx of txs) {
      const keys = tx.TransactItems!.map(keyOf);
      expect(new Set(keys).size).toBe(keys.length);
      for (const item of tx.TransactItems!) {
        expect(Object.keys(added(item.Update!)).length).toBeLessThanOrEqual(MAX_CELL_COUNTERS);
        if (item.Update!.Key!.pk === 'tnA#D#2026-11-20') Object.assign(counters, added(item.Update!));
      }
    }
    expect(counters.runs).toBe(4);
    expect(counters[modelCounter('d15', 'llmCalls')]).toBe(1);
    expect(Object.keys(counters).length).toBeGreaterThan(MAX_CELL_COUNTERS);
  });

  it('fails the whole batch on a throttle, and the retry resends the parts that had committed with their tokens', async () => {
    const batch = newRuns(150);
    ddbMock.on(TransactWriteCommand).resolvesOnce({}).rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })).resolves({});
    await expect(applyStreamBatch(stores, batch)).rejects.toThrow('throttled');
    const attempt1 = sent();
    // (the call count goes on: resetting it would replay the one-off answers)
    await applyStreamBatch(stores, batch);
    const attempt2 = sent().slice(attempt1.length);
    expect(attempt2.map((tx) => tx.ClientRequestToken)).toEqual(attempt1.map((tx) => tx.ClientRequestToken));
    expect(attempt2).toEqual(attempt1);
  });

  it('writes nothing for a batch whose changes cancel out or touch no run', async () => {
    const before = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a')]);
    const moved = applyEvents(before, 'r1', [runEvent({ repo: 'api' })]);
    const back = applyEvents(moved, 'r1', [runEvent({ repo: 'web' })]);
    const applied = await applyStreamBatch(stores, [change(image('tnA', before), image('tnA', moved, 14, 2)), change(image('tnA', moved, 14, 2), image('tnA', back, 14, 3))]);
    expect(applied.transactions).toBe(0);
    expect(sent()).toEqual([]);
  });
});

describe('the aggregate handler', () => {
  beforeEach(() => {
    ddbMock.reset();
    ddbMock.on(TransactWriteCommand).resolves({});
  });

  /** A stream record as DynamoDB Streams returns it, turned into Lambda's JSON event record. */
  function lambdaEvent(records: { id: string; oldImage?: Record<string, unknown>; newImage?: Record<string, unknown> }[]) {
    const arn = 'arn:aws:dynamodb:us-east-1:000000000000:table/lidless-runs/stream/1';
    const sdk = (r: (typeof records)[number], i: number): _Record => ({
      eventID: r.id,
      eventName: r.oldImage ? (r.newImage ? 'MODIFY' : 'REMOVE') : 'INSERT',
      dynamodb: {
        ApproximateCreationDateTime: new Date(NOW),
        Keys: marshall({ pk: (r.newImage ?? r.oldImage)!.pk, sk: (r.newImage ?? r.oldImage)!.sk }),
        ...(r.oldImage ? { OldImage: marshall(r.oldImage) } : {}),
        ...(r.newImage ? { NewImage: marshall(r.newImage) } : {}),
        SequenceNumber: String(i + 1).padStart(21, '0'),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    return { Records: records.map((r, i) => lambdaRecord(sdk(r, i), arn)) };
  }

  it('decodes the base64 images of the Lambda event and adds the run to its cell', async () => {
    const state = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a', {}, 4242)]);
    const event = lambdaEvent([{ id: 'e1', newImage: image('tnH', state) }]);
    expect(typeof event.Records[0]!.dynamodb!.NewImage!.d!.B).toBe('string');

    await handler(event);
    const [call] = ddbMock.commandCalls(TransactWriteCommand);
    const update = call!.args[0].input.TransactItems![0]!.Update!;
    expect(update.Key).toEqual({ pk: 'tnH#D#2026-11-20', sk: expect.any(String) });
    const values = Object.entries(update.ExpressionAttributeNames!).map(([p, name]) => [name, update.ExpressionAttributeValues![`:${p.slice(1)}`]]);
    const { repo, ...stored } = Object.fromEntries(values) as Record<string, number> & { repo: string };
    expect(repo).toBe('web');
    expect(fromStoredNames(stored)).toMatchObject({ runs: 1, costNanos: 4242 });
  });

  it('fails the invocation when the write fails, so that Lambda retries the batch', async () => {
    ddbMock.on(TransactWriteCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    const state = applyEvents(undefined, 'r1', [runEvent({ repo: 'web' }), step('a')]);
    await expect(handler(lambdaEvent([{ id: 'e1', newImage: image('tnH', state) }]))).rejects.toThrow('throttled');
  });
});
