import { describe, expect, it, onTestFinished } from 'vitest';
import { evaluateNow, ingest, newTenant } from '../helpers/stack.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { alertsReceived, allEvents, openDelivery, quietPeriod, waitForAlerts, watch, type RuleSpec, type Tenant } from '../helpers/alerts.ts';

/**
 * Windowed rules, evaluated from 5-minute slot counters by the scheduled evaluator (run here with
 * `evaluateNow`). The evaluator looks at every tenant, so each test removes its webhook (and with it
 * its rules) when done. Evaluations "in the future" stay under 16 minutes ahead: further out, the
 * evaluator would take other tests' deliveries that are between two attempts for lost, and re-send them.
 */
const MINUTE = 60_000;

async function setUp(name: string, ...specs: RuleSpec[]) {
  const r = await startReceiver();
  const t = await newTenant(name);
  const w = await watch(t, `${r.url}/${t.tenantId}`, ...specs);
  onTestFinished(async () => {
    await t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId: w.webhookId });
    await r.close();
  });
  return { r, t, ...w };
}

async function ingestAll(t: Tenant, events: unknown[]) {
  const res = await ingest(t.key, events);
  expect(res.body).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
}

/** A finished run: `ms` long, ending a second ago, with one LLM step of `model`. */
function finishedRun(runId: string, o: { status: 'succeeded' | 'failed'; ms: number; repo?: string; agent?: string; model?: string }) {
  const end = Date.now() - 1000;
  return [
    { type: 'run', id: `run-${runId}`, runId, timestamp: end - o.ms, startedAt: end - o.ms, endedAt: end, status: o.status, repo: o.repo, agent: o.agent },
    { type: 'step', id: `llm-${runId}`, runId, stepId: 'l1', kind: 'llm', name: 'chat', startedAt: end - 500, model: o.model ?? 'claude-sonnet-4-5', costUsd: 0.01 },
  ];
}

describe('windowed alert rules', () => {
  it('fires once while the spend of the last 5 minutes is over the threshold, and resolves when it moves out of the window', async () => {
    // Prepare
    const { r, t, secret, ruleIds } = await setUp(
      'alerts-window-cost',
      { name: 'spend', metric: 'cost_usd', op: '>', threshold: 1, window: '5m' },
      { name: 'opus spend', metric: 'cost_usd', op: '>', threshold: 0.5, window: '5m', filters: { model: 'claude-opus-4-1' } },
      { name: 'big spend', metric: 'cost_usd', op: '>', threshold: 5, window: '5m' },
    );
    const now = Date.now();
    await ingestAll(t, [
      { type: 'step', id: 'a1', runId: 'ra', stepId: 's1', kind: 'llm', name: 'chat', startedAt: now - 20_000, model: 'claude-opus-4-1', costUsd: 0.8 },
      { type: 'step', id: 'b1', runId: 'rb', stepId: 's1', kind: 'llm', name: 'chat', startedAt: now - 10_000, model: 'claude-sonnet-4-5', costUsd: 0.5 },
    ]);

    // Act
    const evaluatedAt = Date.now();
    await evaluateNow();
    const fired = await waitForAlerts(r, secret, 2);

    // Assess
    const byName = (bodies: typeof fired, name: string) => bodies.find((b) => b.rule.name === name);
    expect(fired.map((b) => b.rule.name).sort()).toEqual(['opus spend', 'spend']);
    expect(byName(fired, 'spend')).toEqual({
      id: expect.any(String),
      type: 'alert.firing',
      tenantId: t.tenantId,
      rule: { ruleId: ruleIds[0], name: 'spend', metric: 'cost_usd', op: '>', threshold: 1 },
      value: 1.3,
      window: '5m',
      firedAt: expect.any(String),
    });
    expect(Date.parse(byName(fired, 'spend')!.firedAt)).toBeGreaterThanOrEqual(evaluatedAt);
    expect(byName(fired, 'opus spend')).toMatchObject({ type: 'alert.firing', value: 0.8, window: '5m' });

    // Act: evaluating again while the spend is still over the threshold
    await evaluateNow();
    await quietPeriod();

    // Assess
    expect(alertsReceived(r, secret)).toHaveLength(2);
    expect(await allEvents(t)).toHaveLength(2);

    // Act: eleven minutes on, the spend has left the 5-minute window
    const later = new Date(Date.now() + 11 * MINUTE);
    await evaluateNow(later);
    const resolved = (await waitForAlerts(r, secret, 4)).slice(2);

    // Assess
    expect(resolved.map((b) => [b.type, b.rule.name, b.value, b.window]).sort()).toEqual([
      ['alert.resolved', 'opus spend', 0, '5m'],
      ['alert.resolved', 'spend', 0, '5m'],
    ]);
    expect(resolved.every((b) => b.firedAt === later.toISOString())).toBe(true);
    await evaluateNow(later);
    await quietPeriod();
    expect(alertsReceived(r, secret)).toHaveLength(4);
    const events = await allEvents(t);
    expect(events.map((e) => e.type)).toEqual(['alert.resolved', 'alert.resolved', 'alert.firing', 'alert.firing']);
  });

  it('counts failed runs of one repo and agent over the window (runs_failed)', async () => {
    // Prepare
    const { r, t, secret } = await setUp('alerts-window-failed', { name: 'api codex failures', metric: 'runs_failed', op: '>=', threshold: 3, window: '5m', filters: { repo: 'api', agent: 'codex' } });
    await ingestAll(t, [
      ...finishedRun('f1', { status: 'failed', ms: 30_000, repo: 'api', agent: 'codex' }),
      ...finishedRun('f2', { status: 'failed', ms: 30_000, repo: 'api', agent: 'codex' }),
      ...finishedRun('f3', { status: 'failed', ms: 30_000, repo: 'api', agent: 'codex' }),
      ...finishedRun('ok', { status: 'succeeded', ms: 30_000, repo: 'api', agent: 'codex' }),
      ...finishedRun('web', { status: 'failed', ms: 30_000, repo: 'web', agent: 'codex' }),
      ...finishedRun('claude', { status: 'failed', ms: 30_000, repo: 'api', agent: 'claude-code' }),
    ]);

    // Act
    await evaluateNow();
    const [req] = await r.waitFor(1);

    // Assess: the failed runs of another repo or agent do not count
    expect(openDelivery(req!, secret)).toMatchObject({ type: 'alert.firing', rule: { metric: 'runs_failed', threshold: 3 }, value: 3, window: '5m' });
  });

  it('computes the error rate of the runs that used a model over the window (error_rate)', async () => {
    // Prepare
    const { r, t, secret } = await setUp('alerts-window-rate', { name: 'opus failing', metric: 'error_rate', op: '>', threshold: 0.5, window: '1h', filters: { model: 'claude-opus-4-1' } });
    await ingestAll(t, [
      ...finishedRun('o1', { status: 'failed', ms: 20_000, model: 'claude-opus-4-1' }),
      ...finishedRun('o2', { status: 'failed', ms: 20_000, model: 'claude-opus-4-1' }),
      ...finishedRun('o3', { status: 'succeeded', ms: 20_000, model: 'claude-opus-4-1' }),
      ...['s1', 's2', 's3', 's4'].flatMap((id) => finishedRun(id, { status: 'succeeded', ms: 20_000 })),
    ]);

    // Act
    await evaluateNow();
    const [req] = await r.waitFor(1);

    // Assess: 2 of the 3 opus runs failed (over all 7 runs the rate would be 2/7)
    const body = openDelivery(req!, secret);
    expect(body).toMatchObject({ type: 'alert.firing', rule: { metric: 'error_rate' }, window: '1h' });
    expect(body.value).toBeCloseTo(2 / 3, 10);
  });

  it('estimates the p95 run duration of one repo over the window (p95_run_duration_ms)', async () => {
    // Prepare
    const { r, t, secret } = await setUp(
      'alerts-window-p95',
      { name: 'slow api runs', metric: 'p95_run_duration_ms', op: '>', threshold: 100_000, window: '24h', filters: { repo: 'api' } },
      { name: 'very slow api runs', metric: 'p95_run_duration_ms', op: '>', threshold: 200_000, window: '24h', filters: { repo: 'api' } },
      // above the runs' 120 s, below the upper bound of their histogram bin (131 s)
      { name: 'just slower api runs', metric: 'p95_run_duration_ms', op: '>', threshold: 125_000, window: '24h', filters: { repo: 'api' } },
    );
    const runs = [
      ...Array.from({ length: 18 }, (_, i) => finishedRun(`fast-${i}`, { status: 'succeeded', ms: 10_000, repo: 'api' })),
      ...Array.from({ length: 2 }, (_, i) => finishedRun(`slow-${i}`, { status: 'succeeded', ms: 120_000, repo: 'api' })),
      ...Array.from({ length: 5 }, (_, i) => finishedRun(`web-${i}`, { status: 'succeeded', ms: 600_000, repo: 'web' })),
    ];
    await ingestAll(t, runs.flat());

    // Act
    await evaluateNow();
    const [req] = await r.waitFor(1);
    await quietPeriod();

    // Assess: the 19th of 20 api runs took 120 s (the mean of its histogram bin, which holds both slow runs)
    const body = openDelivery(req!, secret);
    expect(alertsReceived(r, secret)).toHaveLength(1);
    expect(body).toMatchObject({ type: 'alert.firing', rule: { name: 'slow api runs' }, window: '24h' });
    expect(body.value).toBe(120_000);
  });
});
