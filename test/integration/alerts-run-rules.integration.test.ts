import { describe, expect, it, onTestFinished } from 'vitest';
import { ingest, newTenant, stackInfo } from '../helpers/stack.ts';
import { claudeCodeExport } from '../fixtures/agent-exports.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { alertsReceived, allEvents, eventsWhen, quietPeriod, waitForAlerts, watch } from '../helpers/alerts.ts';

/** Per-run and per-event rules fire from ingest, exactly once however often a batch is sent. */
async function receiver() {
  const r = await startReceiver();
  onTestFinished(() => r.close());
  return r;
}

const at = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

describe('alerts on runs', () => {
  it('sends one signed alert.firing when a run crosses run.cost_usd > 1, and none for a resent batch or later events', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-run-cost');
    const { secret, ruleIds } = await watch(t, `${r.url}/hooks/cost`, { name: 'expensive run', metric: 'run.cost_usd', op: '>', threshold: 1 });
    const batch = [
      { type: 'run', id: 'run-1', runId: 'r1', timestamp: at(-60_000), repo: 'web', agent: 'claude-code' },
      { type: 'step', id: 'step-1', runId: 'r1', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(-50_000), model: 'claude-sonnet-4-5', costUsd: 0.6 },
      { type: 'step', id: 'step-2', runId: 'r1', stepId: 's2', kind: 'llm', name: 'chat', startedAt: at(-40_000), model: 'claude-sonnet-4-5', costUsd: 0.7 },
    ];
    const before = Date.now();

    // Act
    const first = await ingest(t.key, batch);
    const [body] = await waitForAlerts(r, secret, 1);

    // Assess
    expect(first.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(r.requests[0]!.path).toBe('/hooks/cost');
    expect(body).toEqual({
      id: expect.stringMatching(/^\S+$/),
      type: 'alert.firing',
      tenantId: t.tenantId,
      rule: { ruleId: ruleIds[0], name: 'expensive run', metric: 'run.cost_usd', op: '>', threshold: 1 },
      value: 1.3,
      runId: 'r1',
      firedAt: expect.any(String),
    });
    expect(Date.parse(body!.firedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(body!.firedAt)).toBeLessThanOrEqual(Date.now());

    // Act: the same batch again, then a later event of the same run that keeps it over the threshold
    const again = await ingest(t.key, batch);
    const later = await ingest(t.key, [
      { type: 'step', id: 'step-3', runId: 'r1', stepId: 's3', kind: 'llm', name: 'chat', startedAt: at(-30_000), model: 'claude-sonnet-4-5', costUsd: 0.5 },
    ]);
    await quietPeriod();

    // Assess
    expect(again.body).toEqual({ accepted: 0, duplicates: 3, rejected: [] });
    expect(later.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(alertsReceived(r, secret)).toHaveLength(1);
    const events = await eventsWhen(t, (es) => es.every((e) => e.deliveries.every((d) => d.status !== 'pending')));
    expect(events).toEqual([
      {
        id: body!.id,
        type: 'alert.firing',
        ruleId: ruleIds[0],
        runId: 'r1',
        value: 1.3,
        firedAt: body!.firedAt,
        deliveries: [expect.objectContaining({ status: 'delivered', lastStatusCode: 200 })],
      },
    ]);
  });

  it('fires once when the crossing batch is sent twice at the same time', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-run-race');
    const { secret } = await watch(t, r.url, { name: 'many tool calls', metric: 'run.tool_calls', op: '>=', threshold: 3 });
    const batch = [1, 2, 3].map((n) => ({ type: 'step', id: `tool-${n}`, runId: 'r-race', stepId: `t${n}`, kind: 'tool', name: 'bash', startedAt: at(n * 1000 - 10_000) }));

    // Act
    const answers = await Promise.all([ingest(t.key, batch), ingest(t.key, batch)]);
    const [body] = await waitForAlerts(r, secret, 1);
    await quietPeriod();

    // Assess
    expect(answers.map((a) => a.body.accepted).sort()).toEqual([0, 3]);
    expect(answers.map((a) => a.body.duplicates).sort()).toEqual([0, 3]);
    expect(body).toMatchObject({ value: 3, runId: 'r-race' });
    expect(alertsReceived(r, secret)).toHaveLength(1);
    expect(await allEvents(t)).toHaveLength(1);
  });

  it('only fires for runs that match the rule filters', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-run-filters');
    const { secret } = await watch(
      t,
      r.url,
      { name: 'long api runs', metric: 'run.duration_ms', op: '>', threshold: 60_000, filters: { repo: 'api', agent: 'codex' } },
      { name: 'opus tokens', metric: 'run.tokens', op: '>', threshold: 1000, filters: { model: 'claude-opus-4-1' } },
    );
    const end = Date.now();
    const run = (runId: string, repo: string, agent: string, minutes: number) => ({
      type: 'run', id: `run-${runId}`, runId, repo, agent, status: 'succeeded', startedAt: end - minutes * 60_000, endedAt: end, timestamp: end,
    });
    const llm = (runId: string, model: string, inputTokens: number) => ({
      type: 'step', id: `llm-${runId}`, runId, stepId: 'l1', kind: 'llm', name: 'chat', startedAt: at(-1000), model, usage: { inputTokens, outputTokens: 10 }, costUsd: 0.01,
    });

    // Act
    await ingest(t.key, [
      run('web-long', 'web', 'codex', 5), // wrong repo
      run('api-claude', 'api', 'claude-code', 5), // wrong agent
      run('api-short', 'api', 'codex', 0.5), // too short
      run('api-long', 'api', 'codex', 5), // fires
      llm('web-long', 'claude-sonnet-4-5', 5000), // wrong model
      llm('api-claude', 'claude-opus-4-1', 500), // too few tokens
      llm('api-short', 'claude-opus-4-1', 2000), // fires
    ]);
    await waitForAlerts(r, secret, 2);
    await quietPeriod();

    // Assess
    const bodies = alertsReceived(r, secret);
    expect(bodies.map((b) => [b.rule.name, b.runId, b.value]).sort()).toEqual([
      ['long api runs', 'api-long', 300_000],
      ['opus tokens', 'api-short', 2010],
    ]);
  });
});

describe('alerts on events', () => {
  it('fires assertion.failed and log.error once per such event, never again for a resent batch', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-events');
    const { secret, ruleIds } = await watch(
      t,
      r.url,
      { name: 'failed check', metric: 'assertion.failed', op: '>=', threshold: 1 },
      { name: 'agent error', metric: 'log.error', op: '>=', threshold: 1 },
    );
    const [assertionRule, logRule] = ruleIds;
    const batch = [
      { type: 'assertion', id: 'a-pass', runId: 'r1', timestamp: at(), name: 'tests pass', passed: true },
      { type: 'assertion', id: 'a-fail-1', runId: 'r1', timestamp: at(), name: 'lint clean', passed: false, message: '3 warnings' },
      { type: 'assertion', id: 'a-fail-2', runId: 'r2', timestamp: at(), name: 'types check', passed: false },
      { type: 'log', id: 'l-info', runId: 'r1', timestamp: at(), level: 'info', message: 'started' },
      { type: 'log', id: 'l-warn', runId: 'r1', timestamp: at(), level: 'warn', message: 'slow' },
      { type: 'log', id: 'l-error', runId: 'r2', timestamp: at(), level: 'error', message: 'tool crashed' },
    ];

    // Act
    await ingest(t.key, batch);
    const bodies = await waitForAlerts(r, secret, 3);
    const resent = await ingest(t.key, batch);
    await quietPeriod();

    // Assess
    expect(resent.body).toEqual({ accepted: 0, duplicates: 6, rejected: [] });
    expect(alertsReceived(r, secret)).toHaveLength(3);
    expect(bodies.map((b) => [b.rule.ruleId, b.runId, b.value, b.type]).sort()).toEqual(
      [
        [assertionRule, 'r1', 1, 'alert.firing'],
        [assertionRule, 'r2', 1, 'alert.firing'],
        [logRule, 'r2', 1, 'alert.firing'],
      ].sort(),
    );
    expect(new Set(bodies.map((b) => b.id)).size).toBe(3);

    // Act: one more error log in a run that already alerted
    await ingest(t.key, [{ type: 'log', id: 'l-error-2', runId: 'r2', timestamp: at(), level: 'error', message: 'again' }]);
    const all = await waitForAlerts(r, secret, 4);

    // Assess
    const fourth = all[3]!;
    expect(fourth).toMatchObject({ rule: { ruleId: logRule }, runId: 'r2', value: 1 });
    expect(bodies.map((b) => b.id)).not.toContain(fourth.id);
    expect(await allEvents(t)).toHaveLength(4);
  });

  it('fires for each of 120 error logs of one run sent in one batch, and the run counts each once', async () => {
    // Prepare: more alerts than one storage transaction can hold
    const r = await receiver();
    const t = await newTenant('alerts-many-events');
    const { secret } = await watch(t, r.url, { name: 'agent error', metric: 'log.error', op: '>=', threshold: 1 });
    const batch = Array.from({ length: 120 }, (_, i) => ({ type: 'log', id: `err-${i}`, runId: 'noisy', timestamp: at(i - 1000), level: 'error', message: `failure ${i}` }));

    // Act
    const first = await ingest(t.key, batch);
    await waitForAlerts(r, secret, 120, 30_000);
    const again = await ingest(t.key, batch);
    await quietPeriod();

    // Assess
    expect(first).toEqual({ status: 200, body: { accepted: 120, duplicates: 0, rejected: [] } });
    expect(again).toEqual({ status: 200, body: { accepted: 0, duplicates: 120, rejected: [] } });
    expect(alertsReceived(r, secret)).toHaveLength(120);
    expect(await allEvents(t)).toHaveLength(120);
    const { run } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'noisy' });
    expect(run.errors).toBe(120);
    const raw = await t.client.runs.raw.query({ tenantId: t.tenantId, runId: 'noisy', limit: 500 });
    expect(raw.items.map((i) => (i.event as { id: string }).id)).toEqual(batch.map((e) => e.id).reverse());
  });

  it("alerts on a coding agent's own OTLP log export: its API errors and the session's cost, once however often it is exported", async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-agent-export');
    const { secret } = await watch(
      t,
      r.url,
      { name: 'session over $1', metric: 'run.cost_usd', op: '>', threshold: 1 },
      { name: 'agent API error', metric: 'log.error', op: '>=', threshold: 1 },
    );
    const t0 = Date.now() - 10 * 60_000;
    const call = (i: number) => ({ at: t0 + (i + 1) * 60_000, model: 'claude-sonnet-4-5', input: 1200, output: 300, cacheRead: 0, costUsd: 0.4, durationMs: 2000 });
    const body = JSON.stringify(claudeCodeExport({ id: 'sess-7f3a', llm: [0, 1, 2].map(call), tools: [], apiErrors: [t0 + 90_000, t0 + 150_000] }));
    const post = () =>
      fetch(`${stackInfo().url}/v1/logs`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, body });

    // Act
    const first = await post();
    const fired = await waitForAlerts(r, secret, 3);
    const again = await post();
    await quietPeriod();

    // Assess
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(fired.map((b) => [b.rule.name, b.runId, b.value]).sort()).toEqual([
      ['agent API error', 'sess-7f3a', 1],
      ['agent API error', 'sess-7f3a', 1],
      ['session over $1', 'sess-7f3a', 1.2],
    ]);
    expect(alertsReceived(r, secret)).toHaveLength(3);
  });
});
