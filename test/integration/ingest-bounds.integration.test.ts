import { describe, expect, it } from 'vitest';
import { ingest, newTenant, settled } from '../helpers/stack.ts';

const T = Date.parse('2026-11-20T10:00:00Z');
const step = (runId: string, i: number, model: string) => ({
  type: 'step', id: `${runId}-s${i}`, runId, stepId: `s${i}`, kind: 'llm', name: 'chat', startedAt: T + i, model, costUsd: 0.001,
});

describe('a client that sends hundreds of model names', () => {
  it('keeps one run to 16 models plus "other", and the rollup still adds up', async () => {
    const t = await newTenant('models-one-run');
    const events = Array.from({ length: 500 }, (_, i) => step('wide', i, `model-${i}`));
    expect((await ingest(t.key, events)).body).toEqual({ accepted: 500, duplicates: 0, rejected: [] });

    const { run } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'wide' });
    expect(run.models).toHaveLength(17);
    expect(run.models).toContain('other');
    expect(run.costUsd).toBeCloseTo(0.5, 9);
    await settled();
    const byModel = await t.client.costs.rollup.query({ tenantId: t.tenantId, from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z', groupBy: 'model' });
    expect(byModel.rows.find((r) => r.key === 'other')?.llmCalls).toBe(484);
    expect(byModel.totals.costUsd).toBeCloseTo(0.5, 9);
  });

  it('stores 500 runs of 500 different models that share one rollup cell', async () => {
    const t = await newTenant('models-many-runs');
    const events = Array.from({ length: 500 }, (_, i) => step(`run-${i}`, 0, `model-${i}`));
    const res = await ingest(t.key, events);
    expect(res).toEqual({ status: 200, body: { accepted: 500, duplicates: 0, rejected: [] } });
    await settled();
    const byModel = await t.client.costs.rollup.query({ tenantId: t.tenantId, from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z', groupBy: 'model' });
    expect(byModel.rows).toHaveLength(500);
    expect(byModel.totals.runs).toBe(500);
    expect(byModel.totals.costUsd).toBeCloseTo(0.5, 9);
  });
});
