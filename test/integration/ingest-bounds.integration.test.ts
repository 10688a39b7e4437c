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

describe('a long agent session sent a few steps at a time', () => {
  it('keeps every step once after its steps outgrow the run item, and a resend adds nothing', async () => {
    // 40 batches of 5 steps with long names: the steps outgrow the run item early on, and every later
    // batch lands beside the run as its own part
    const t = await newTenant('long-session');
    const longStep = (i: number) => ({ ...step('session', i, 'claude-sonnet-4-5'), name: `edit file ${i} `.padEnd(120, 'x'), costUsd: 0.01 });
    const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 5 }, (_, j) => longStep(b * 5 + j)));
    for (const batch of batches) expect((await ingest(t.key, batch)).body).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
    expect((await ingest(t.key, batches[3]!)).body).toEqual({ accepted: 0, duplicates: 5, rejected: [] });

    const got = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'session' });
    expect(got.steps.map((s) => s.stepId)).toEqual(Array.from({ length: 200 }, (_, i) => `s${i}`));
    expect(got.run.llmCalls).toBe(200);
    expect(got.run.costUsd).toBeCloseTo(2, 9);
  });
});
