import { beforeAll, describe, expect, it } from 'vitest';
import { ingest, newTenant, settled } from '../helpers/stack.ts';
import { createStores, type Stores } from '../../shared/store/clients.ts';
import { costRollup } from '../../shared/query/rollup.ts';
import { readDayCells } from '../../shared/store/rollups-table.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';

/**
 * A cost rollup reads the pre-aggregated day cells only: the same items, and the same consumed read
 * units, whether the tenant sent 20 runs or 200 over the same days and dimensions. Measured in-process
 * against the stack's DynamoDB, which reports consumed capacity.
 */
const DAY = 86_400_000;
const END = Math.floor(Date.now() / DAY) * DAY;
const DAYS = 3;
const COMBOS = [
  { repo: 'acme/web', agent: 'claude-code', model: 'claude-sonnet-4-5' },
  { repo: 'acme/web', agent: 'codex', model: 'gpt-5-codex' },
  { repo: 'acme/api', agent: 'claude-code', model: 'claude-haiku-4-5' },
  { repo: 'acme/api', agent: 'codex', model: 'gpt-5-mini' },
];

/** Run i falls on day i % DAYS with dimensions COMBOS[i % 4]: every size fills the same cells. */
function runEvents(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const c = COMBOS[i % COMBOS.length]!;
    const start = END - DAYS * DAY + (i % DAYS) * DAY + 9 * 3_600_000 + i * 1000;
    const runId = `run-${i}`;
    return [
      { type: 'run', id: `${runId}.r`, runId, timestamp: start + 60_000, repo: c.repo, agent: c.agent, branch: 'main', status: 'succeeded', outcome: 'merged_change', startedAt: start, endedAt: start + 60_000 },
      { type: 'step', id: `${runId}.s`, runId, stepId: 's1', kind: 'llm', name: 'chat', model: c.model, startedAt: start + 1000, endedAt: start + 5000, usage: { inputTokens: 1000 + i, outputTokens: 200 } },
    ];
  }).flat();
}

async function tenantWith(runs: number) {
  const t = await newTenant(`read-cost-${runs}`);
  const events = runEvents(runs);
  for (let i = 0; i < events.length; i += 500) {
    const res = await ingest(t.key, events.slice(i, i + 500));
    expect(res.body.rejected).toEqual([]);
  }
  return t.tenantId;
}

let stores: Stores;
beforeAll(() => {
  useStackEnvironment();
  stores = createStores();
});

describe('cost rollup read cost', () => {
  it('reads the same items and consumes the same read units at 20 and at 200 runs', async () => {
    // Prepare
    const [small, large] = await Promise.all([tenantWith(20), tenantWith(200)]);
    await settled();
    const query = (tenantId: string) => ({ tenantId, from: END - DAYS * DAY, to: END, groupBy: 'model' as const });
    const days = Array.from({ length: DAYS }, (_, d) => new Date(END - (DAYS - d) * DAY).toISOString().slice(0, 10));

    // Act
    const smallRollup = await costRollup(stores, query(small), Date.now());
    const largeRollup = await costRollup(stores, query(large), Date.now());
    const smallCells = await readDayCells(stores, small, days, Math.floor(Date.now() / 1000));
    const largeCells = await readDayCells(stores, large, days, Math.floor(Date.now() / 1000));

    // Assess: ten times the data, the same reads
    expect(smallRollup.totals.runs).toBe(20);
    expect(largeRollup.totals.runs).toBe(200);
    expect(largeRollup.rows.map((r) => r.key).sort()).toEqual(COMBOS.map((c) => c.model).sort());
    expect(largeCells.cells.length).toBe(smallCells.cells.length);
    expect(largeCells.cells.length).toBeLessThanOrEqual(DAYS * COMBOS.length);
    expect(smallRollup.consumedReadUnits).toBeGreaterThan(0);
    expect(largeRollup.consumedReadUnits).toBe(smallRollup.consumedReadUnits);
  });
});
