import { describe, expect, it } from 'vitest';
import { ingest, newTenant, stackInfo } from '../helpers/stack.ts';

describe('embedded stack', () => {
  it('answers /healthz and round-trips a run through ingest and runs.get', async () => {
    const health = await fetch(`${stackInfo().url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const t = await newTenant();
    const res = await ingest(t.key, [
      { type: 'run', id: 'e1', runId: 'r1', timestamp: '2026-11-20T10:00:00Z', repo: 'web' },
      { type: 'step', id: 'e2', runId: 'r1', stepId: 's1', kind: 'llm', name: 'chat', startedAt: '2026-11-20T10:00:01Z', model: 'claude-sonnet-4-5', costUsd: 0.5 },
    ]);
    expect(res).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, rejected: [] } });
    const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'r1' });
    expect(run.costUsd).toBe(0.5);
    expect(run.repo).toBe('web');
    expect(steps.map((s) => s.stepId)).toEqual(['s1']);
  });

  it('runs the evaluator on /_local/evaluate for the operator only, and answers a body it cannot read with 400', async () => {
    const { url, operatorToken } = stackInfo();
    const post = (token: string, body: string) => fetch(`${url}/_local/evaluate`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });

    const [ok, wrongToken, notJson, badTime] = await Promise.all([
      post(operatorToken, '{}'),
      post(`${operatorToken}x`, '{}'),
      post(operatorToken, '{"now": '),
      post(operatorToken, '{"now": "yesterday"}'),
    ]);

    expect(ok.status).toBe(200);
    expect(wrongToken.status).toBe(401);
    expect([notJson.status, badTime.status]).toEqual([400, 400]);
    expect(await notJson.json()).toEqual({ error: 'body must be empty or {"now": "<ISO-8601 time>"}' });
  });
});
