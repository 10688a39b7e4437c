import { beforeAll, describe, expect, it } from 'vitest';
import { ingest, newTenant, settled } from '../helpers/stack.ts';
import { createStores, type Stores } from '../../shared/store/clients.ts';
import { getRun, listRuns, rawEvents, runsByTrace } from '../../shared/query/runs.ts';
import { costRollup } from '../../shared/query/rollup.ts';
import { getRuns } from '../../shared/store/runs-table.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';

/**
 * Items past the tenant's retention are never returned, even while they are still stored (TTL deletion
 * lags in AWS, and DynamoDB Local never deletes). The queries run in-process against the stack's
 * DynamoDB and S3, at a clock moved past the retention.
 */
const DAY = 86_400_000;
const yesterday = Math.floor(Date.now() / DAY) * DAY - DAY;
const at = (minutes: number) => new Date(yesterday + 10 * 3_600_000 + minutes * 60_000).toISOString();
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const cursorKey = Buffer.alloc(32, 7);

let stores: Stores;
let tenantId: string;

beforeAll(async () => {
  useStackEnvironment();
  stores = createStores();

  const t = await newTenant('retention', { retentionDays: 1 });
  tenantId = t.tenantId;
  const res = await ingest(t.key, [
    { type: 'run', id: 'e1', runId: 'r1', timestamp: at(5), repo: 'web', traceId: TRACE, status: 'succeeded', outcome: 'merged_change', startedAt: at(0), endedAt: at(5) },
    { type: 'step', id: 'e2', runId: 'r1', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(1), endedAt: at(2), model: 'claude-sonnet-4-5', costUsd: 0.25 },
  ]);
  expect(res.status).toBe(200);
  await settled();
});

async function reads(now: number) {
  const range = { tenantId, from: yesterday, to: yesterday + DAY, groupBy: 'day' as const };
  const run = await getRun(stores, tenantId, 'r1', now).then(
    (r) => r.run.runId,
    (err: unknown) => (err instanceof NotFoundError ? 'NOT_FOUND' : Promise.reject(err)),
  );
  const raw = await rawEvents(stores, cursorKey, tenantId, 'r1', 50, undefined, now).then(
    (r) => r.items.length,
    (err: unknown) => (err instanceof NotFoundError ? 'NOT_FOUND' : Promise.reject(err)),
  );
  return {
    run,
    raw,
    listed: (await listRuns(stores, cursorKey, tenantId, {}, 50, undefined, now)).items.map((r) => r.runId),
    byRepo: (await listRuns(stores, cursorKey, tenantId, { repo: 'web' }, 50, undefined, now)).items.map((r) => r.runId),
    byTrace: (await runsByTrace(stores, tenantId, TRACE, now)).items.map((r) => r.runId),
    rollupRuns: (await costRollup(stores, range, now)).totals.runs,
  };
}

describe('retention', () => {
  it('returns the run everywhere while it is within the retention', async () => {
    expect(await reads(Date.now())).toEqual({ run: 'r1', raw: 2, listed: ['r1'], byRepo: ['r1'], byTrace: ['r1'], rollupRuns: 1 });
  });

  it('returns it nowhere once the retention has passed, although the items are still stored', async () => {
    // Act
    const later = await reads(Date.now() + 3 * DAY);

    // Assess
    expect(later).toEqual({ run: 'NOT_FOUND', raw: 'NOT_FOUND', listed: [], byRepo: [], byTrace: [], rollupRuns: 0 });
    expect((await getRuns(stores, tenantId, ['r1'])).has('r1')).toBe(true);
  });
});
