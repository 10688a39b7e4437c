import { beforeAll, describe, expect, it } from 'vitest';
import { ingest, newTenant, settled, stackInfo } from '../helpers/stack.ts';
import { generateDataset } from '../../cli/seed/generate.ts';
import { sendDataset } from '../../cli/seed/send.ts';
import { expectedRollup, GROUP_BYS, type ExpectedRow, type RollupQuery } from '../../cli/seed/expected.ts';

/**
 * costs.rollup over a generated multi-day dataset (several repos, branches, agents and models, failing,
 * retried and resent runs) equals a brute-force recomputation from the events the test sent.
 */
const DAY = 86_400_000;
// recent days: rollup cells expire with the tenant's retention counted from their day
const END = Math.floor(Date.now() / DAY) * DAY;
const dataset = generateDataset({ seed: 21, days: 4, runs: 60, end: END });
let tenant: Awaited<ReturnType<typeof newTenant>>;

beforeAll(async () => {
  tenant = await newTenant('rollup');
  const sent = await sendDataset(dataset, { url: stackInfo().url, key: tenant.key });
  expect(sent.rejected).toEqual([]);
  expect(sent.accepted).toBe(dataset.events.length);
  expect(sent.duplicates).toBeGreaterThan(0);
  await settled();
});

type Row = ExpectedRow | (Omit<ExpectedRow, 'key'> & { key?: string });

function expectSameRow(actual: Row, expected: Row, label: string): void {
  const { costUsd, costPerUsefulOutcomeUsd, ...counts } = actual;
  const { costUsd: expectedCost, costPerUsefulOutcomeUsd: expectedPer, ...expectedCounts } = expected;
  expect(counts, label).toEqual(expectedCounts);
  expect(costUsd, `${label} costUsd`).toBeCloseTo(expectedCost, 9);
  if (expectedPer === null) expect(costPerUsefulOutcomeUsd, label).toBeNull();
  else expect(costPerUsefulOutcomeUsd, `${label} costPerUsefulOutcomeUsd`).toBeCloseTo(expectedPer, 9);
}

async function expectRollupMatches(q: RollupQuery): Promise<void> {
  const { repo, agent, model } = q;
  const actual = await tenant.client.costs.rollup.query({
    tenantId: tenant.tenantId,
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    groupBy: q.groupBy,
    ...(repo ? { repo } : {}),
    ...(agent ? { agent } : {}),
    ...(model ? { model } : {}),
  });
  const expected = expectedRollup(dataset.events, q);
  const label = JSON.stringify({ ...q, from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() });
  expect(actual.rows.map((r) => r.key).sort(), label).toEqual(expected.rows.map((r) => r.key).sort());
  for (const row of expected.rows) expectSameRow(actual.rows.find((r) => r.key === row.key)!, row, `${label} ${row.key}`);
  expectSameRow(actual.totals, expected.totals, `${label} totals`);
}

describe('costs.rollup equals a brute-force recomputation from the events sent', () => {
  const whole = { from: END - 4 * DAY, to: END };

  it.each(GROUP_BYS)('grouped by %s over the whole dataset', async (groupBy) => {
    await expectRollupMatches({ ...whole, groupBy });
  });

  it('over the whole range it counts every run once, useful outcomes included', async () => {
    // Act
    const { totals } = await tenant.client.costs.rollup.query({ tenantId: tenant.tenantId, from: new Date(whole.from).toISOString(), to: new Date(whole.to).toISOString(), groupBy: 'repo' });

    // Assess
    expect(totals.runs).toBe(dataset.runs.length);
    expect(totals.usefulOutcomes).toBe(dataset.runs.filter((r) => r.outcome && ['merged_change', 'green_build', 'fixed_incident'].includes(r.outcome)).length);
  });

  it.each(GROUP_BYS)('grouped by %s over two days in the middle', async (groupBy) => {
    await expectRollupMatches({ from: END - 3 * DAY, to: END - DAY, groupBy });
  });

  it('with a repo, an agent or a model filter, for every grouping', async () => {
    const repo = dataset.runs[0]!.repo;
    const agent = dataset.runs.find((r) => r.agent !== 'claude-code')!.agent;
    const model = dataset.events.flatMap((e) => (e.type === 'step' && e.model && e.model !== 'claude-sonnet-4-5' ? [e.model] : []))[0]!;
    const filters = [{ repo }, { agent }, { model }, { repo, agent }, { repo, model }];
    for (const filter of filters) {
      for (const groupBy of GROUP_BYS) await expectRollupMatches({ ...whole, groupBy, ...filter });
    }
  });

  it('answers no rows, and zero totals, for a range with no data', async () => {
    const actual = await tenant.client.costs.rollup.query({ tenantId: tenant.tenantId, from: new Date(END + 10 * DAY).toISOString(), to: new Date(END + 12 * DAY).toISOString(), groupBy: 'day' });
    expect(actual.rows).toEqual([]);
    expect(actual.totals).toMatchObject({ runs: 0, costUsd: 0, costPerUsefulOutcomeUsd: null });
  });
});

describe('costs.rollup by model: what no model names is the model "unknown"', () => {
  const day = new Date(END - DAY).toISOString().slice(0, 10);
  const at = (hh: string) => `${day}T${hh}:00:00Z`;

  it('files tool calls, error logs and unnamed model calls there, so the rows add up to the totals', async () => {
    // Arrange: a run that used a model and also ran a paid tool and logged an error; a run whose model
    // call names no model; a run with no steps at all
    const t = await newTenant('rollup-unknown');
    const events = [
      { type: 'step', id: 'a1', runId: 'A', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at('10'), model: 'claude-sonnet-4-5', costUsd: 1 },
      { type: 'step', id: 'a2', runId: 'A', stepId: 's2', kind: 'tool', name: 'sandbox', startedAt: at('10'), costUsd: 0.25 },
      { type: 'log', id: 'a3', runId: 'A', timestamp: at('10'), level: 'error', message: 'lint failed' },
      { type: 'step', id: 'b1', runId: 'B', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at('11'), costUsd: 0.5 },
      { type: 'run', id: 'c1', runId: 'C', timestamp: at('12'), status: 'succeeded', outcome: 'merged_change' },
    ];
    expect((await ingest(t.key, events)).status).toBe(200);
    await settled();

    // Act
    const range = { tenantId: t.tenantId, from: at('00'), to: new Date(END).toISOString() };
    const byModel = await t.client.costs.rollup.query({ ...range, groupBy: 'model' });
    const unknownOnly = await t.client.costs.rollup.query({ ...range, groupBy: 'repo', model: 'unknown' });

    // Assess
    expect(byModel.rows.map((r) => [r.key, r.runs, r.costUsd, r.llmCalls, r.toolCalls, r.errors, r.usefulOutcomes])).toEqual([
      ['claude-sonnet-4-5', 1, 1, 1, 0, 0, 0],
      ['unknown', 3, 0.75, 1, 1, 1, 1],
    ]);
    expect(byModel.totals).toMatchObject({ runs: 3, costUsd: 1.75, llmCalls: 2, toolCalls: 1, errors: 1, usefulOutcomes: 1 });
    expect(unknownOnly.rows).toEqual([expect.objectContaining({ key: 'unknown', runs: 3, costUsd: 0.75, toolCalls: 1, costPerUsefulOutcomeUsd: 0.75 })]);
  });
});
