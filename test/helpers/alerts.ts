import { expect } from 'vitest';
import { verifySignature } from '../../shared/alerts/webhook/signing.ts';
import type { newTenant } from './stack.ts';
import type { Receiver, ReceivedRequest } from './receiver.ts';
import type { AlertPayload } from '../../shared/store/alerts-table.ts';

/** Shared steps of the alert tests: watch a metric with a webhook, open a delivery, read the events. */
export type Tenant = Awaited<ReturnType<typeof newTenant>>;

export interface RuleSpec {
  name: string;
  metric: string;
  op: '>' | '>=' | '<' | '<=';
  threshold: number;
  window?: '5m' | '1h' | '24h';
  filters?: { repo?: string; agent?: string; model?: string; branch?: string };
}

/** The webhook body as CONTRACT.md gives it (the stored payload is exactly what is sent). */
export type AlertBody = AlertPayload;

/** A webhook at `url` and one rule per spec sending to it. */
export async function watch(t: Tenant, url: string, ...specs: RuleSpec[]) {
  const { webhookId, secret } = await t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url });
  const ruleIds: string[] = [];
  for (const spec of specs) {
    ruleIds.push((await t.client.alerts.rules.create.mutate({ tenantId: t.tenantId, webhookId, ...spec })).ruleId);
  }
  return { webhookId, secret, ruleIds };
}

/** Checks what every delivery must carry (content type, event id, a valid signature) and parses the body. */
export function openDelivery(req: ReceivedRequest, secret: string): AlertBody {
  expect(req.method).toBe('POST');
  expect(req.headers['content-type']).toBe('application/json');
  const signature = req.headers['x-lidless-signature'];
  // the exact form receivers written in other languages parse
  expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  expect(verifySignature(secret, req.body, signature as string)).toBe(true);
  const body = JSON.parse(req.body) as AlertBody;
  expect(req.headers['x-lidless-event-id']).toBe(body.id);
  return body;
}

/**
 * The distinct alerts a receiver got, in order of first arrival, each request checked with `openDelivery`.
 * Delivery is at least once: an attempt whose answer came too late is sent again with the same id.
 */
export function alertsReceived(r: Receiver, secret: string): AlertBody[] {
  const byId = new Map<string, AlertBody>();
  for (const req of r.requests) {
    const body = openDelivery(req, secret);
    if (!byId.has(body.id)) byId.set(body.id, body);
  }
  return [...byId.values()];
}

/** Waits until the receiver has got `count` distinct alerts, and returns them. */
export async function waitForAlerts(r: Receiver, secret: string, count: number, timeoutMs = 10_000): Promise<AlertBody[]> {
  const ids = (rs: readonly ReceivedRequest[]) => new Set(rs.map((req) => req.headers['x-lidless-event-id'])).size;
  await r.waitUntil((rs) => ids(rs) >= count, timeoutMs);
  return alertsReceived(r, secret);
}

/** Every alert event of the tenant, newest first. */
export async function allEvents(t: Tenant) {
  const out = [];
  let cursor: string | undefined;
  do {
    const page = await t.client.alerts.events.list.query({ tenantId: t.tenantId, limit: 100, cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

/** Polls the events until `done` holds for them (deliveries are recorded after the receiver answers). */
export async function eventsWhen(t: Tenant, done: (events: Awaited<ReturnType<typeof allEvents>>) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await allEvents(t);
    if (done(events)) return events;
    if (Date.now() > deadline) throw new Error(`alert events did not settle within ${timeoutMs} ms: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits a little so that a delivery that should not happen would have had time to arrive. */
export function quietPeriod(ms = 300): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
