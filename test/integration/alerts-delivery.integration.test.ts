import { describe, expect, it, onTestFinished } from 'vitest';
import { ingest, newTenant } from '../helpers/stack.ts';
import { startReceiver, type Answer } from '../helpers/receiver.ts';
import { eventsWhen, openDelivery, quietPeriod, watch, type Tenant } from '../helpers/alerts.ts';

/**
 * Delivery retries against a real receiver. The test stack retries with a 50 ms base delay and gives a
 * receiver 1000 ms to answer; it makes LIDLESS_WEBHOOK_MAX_ATTEMPTS (5) attempts.
 */
const MAX_ATTEMPTS = 5;

async function receiver(answers: Answer[], otherwise?: Answer) {
  const r = await startReceiver({ answers, otherwise });
  onTestFinished(() => r.close());
  return r;
}

async function triggerErrorLog(t: Tenant) {
  const res = await ingest(t.key, [{ type: 'log', id: 'err-1', runId: 'r1', timestamp: new Date().toISOString(), level: 'error', message: 'boom' }]);
  expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
}

const settled = (events: Awaited<ReturnType<typeof eventsWhen>>) =>
  events.length > 0 && events.every((e) => e.deliveries.every((d) => d.status !== 'pending'));

describe('webhook delivery', () => {
  it('retries a receiver that answers 500 twice and records the third attempt as delivered', async () => {
    // Prepare
    const r = await receiver([500, 500]);
    const t = await newTenant('alerts-retry');
    const { webhookId, secret } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });

    // Act
    await triggerErrorLog(t);
    const got = await r.waitFor(3);
    const [event] = await eventsWhen(t, settled);

    // Assess: each attempt carries the same event, each signed so that it verifies
    const bodies = got.map((req) => openDelivery(req, secret));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(new Set(got.map((req) => req.body)).size).toBe(1);
    expect(got[1]!.receivedAt).toBeGreaterThan(got[0]!.receivedAt);
    expect(event!.id).toBe(bodies[0]!.id);
    expect(event!.deliveries).toEqual([
      { webhookId, status: 'delivered', attempts: 3, lastStatusCode: 200, lastAttemptAt: expect.any(String) },
    ]);
    await quietPeriod();
    expect(r.requests).toHaveLength(3);
  });

  it('marks the delivery failed, with the last error, after the configured attempts to a receiver that never answers', async () => {
    // Prepare
    const r = await receiver([], 'hang');
    const t = await newTenant('alerts-hang');
    const { webhookId } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });

    // Act
    await triggerErrorLog(t);
    const [event] = await eventsWhen(t, settled, 20_000);

    // Assess
    expect(event!.deliveries).toEqual([
      { webhookId, status: 'failed', attempts: MAX_ATTEMPTS, lastError: 'timeout after 1000 ms', lastAttemptAt: expect.any(String) },
    ]);
    expect(r.requests).toHaveLength(MAX_ATTEMPTS);
    await quietPeriod();
    expect(r.requests).toHaveLength(MAX_ATTEMPTS);
  });

  it('keeps retrying on 4xx answers and reports the last status code when it gives up', async () => {
    // Prepare
    const r = await receiver([], 410);
    const t = await newTenant('alerts-gone');
    const { webhookId } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });

    // Act
    await triggerErrorLog(t);
    const [event] = await eventsWhen(t, settled);

    // Assess
    expect(event!.deliveries).toEqual([
      { webhookId, status: 'failed', attempts: MAX_ATTEMPTS, lastStatusCode: 410, lastError: 'receiver answered HTTP 410', lastAttemptAt: expect.any(String) },
    ]);
    expect(r.requests).toHaveLength(MAX_ATTEMPTS);
  });

  it("delivers each rule's alert to its own webhook, whatever the other receiver answers", async () => {
    // Prepare
    const up = await receiver([]);
    const down = await receiver([], 503);
    const t = await newTenant('alerts-two-hooks');
    const a = await watch(t, up.url, { name: 'errors to up', metric: 'log.error', op: '>=', threshold: 1 });
    const b = await watch(t, down.url, { name: 'errors to down', metric: 'log.error', op: '>=', threshold: 1 });

    // Act
    await triggerErrorLog(t);
    const [delivered] = await up.waitFor(1);
    const events = await eventsWhen(t, (es) => es.length === 2 && settled(es));

    // Assess
    expect(openDelivery(delivered!, a.secret).rule.name).toBe('errors to up');
    expect(openDelivery(down.requests[0]!, b.secret).rule.name).toBe('errors to down');
    expect(events.flatMap((e) => e.deliveries).sort((x, y) => x.status.localeCompare(y.status))).toEqual([
      expect.objectContaining({ webhookId: a.webhookId, status: 'delivered', attempts: 1 }),
      expect.objectContaining({ webhookId: b.webhookId, status: 'failed', attempts: MAX_ATTEMPTS, lastStatusCode: 503 }),
    ]);
  });
});
