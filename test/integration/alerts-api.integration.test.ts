import { describe, expect, it, onTestFinished } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { api, codeOf, ingest, newTenant, operator } from '../helpers/stack.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { eventsWhen, watch } from '../helpers/alerts.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';
import { createStores } from '../../shared/store/clients.ts';
import { ControlTable } from '../../shared/store/control-table.ts';

/** The alerts procedures over HTTP: webhooks, rules, fired events, and who may call them. */
async function failure(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof TRPCClientError) return { code: (err.data as { code: string }).code, message: err.message };
    throw err;
  }
  throw new Error('expected the call to fail');
}

async function receiver() {
  const r = await startReceiver();
  onTestFinished(() => r.close());
  return r;
}

describe('alerts.webhooks', () => {
  it('creates a webhook with a signing secret shown once, lists it without the secret, and deletes it', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-webhooks');
    const url = `${r.url}/hooks/ci`;

    // Act
    const created = await t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url, description: 'team channel' });
    const listed = await t.client.alerts.webhooks.list.query({ tenantId: t.tenantId });

    // Assess
    expect(created).toEqual({ webhookId: expect.stringMatching(/^wh_/), secret: expect.stringMatching(/^whsec_.{20,}/) });
    expect(listed.items).toEqual([
      { webhookId: created.webhookId, tenantId: t.tenantId, url, description: 'team channel', createdAt: expect.any(String) },
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    // Act: delete it, then again
    const deleted = await t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId: created.webhookId });
    const again = await failure(t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId: created.webhookId }));

    // Assess
    expect(deleted).toEqual({ deleted: true });
    expect(again).toEqual({ code: 'NOT_FOUND', message: `no webhook ${created.webhookId}` });
    expect((await t.client.alerts.webhooks.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });

  it('gives each webhook its own secret, and deleting a webhook removes the rules that send to it', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-cascade');
    const a = await watch(t, `${r.url}/a`, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });
    const b = await watch(t, `${r.url}/b`, { name: 'cost', metric: 'run.cost_usd', op: '>', threshold: 5 });

    // Act
    await t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId: a.webhookId });

    // Assess
    expect(a.secret).not.toBe(b.secret);
    const rules = await t.client.alerts.rules.list.query({ tenantId: t.tenantId });
    expect(rules.items.map((x) => x.ruleId)).toEqual(b.ruleIds);
  });

  it('refuses a URL that is not a URL or uses another scheme, with a readable message', async () => {
    // Prepare
    const t = await newTenant('alerts-api-bad-url');

    // Act
    const notUrl = await failure(t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: 'not a url' }));
    const ftp = await failure(t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: 'ftp://127.0.0.1/x' }));
    const creds = await failure(t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: 'http://user:pw@127.0.0.1/x' }));

    // Assess
    expect(notUrl).toEqual({ code: 'BAD_REQUEST', message: 'url: webhook URL is not a valid absolute URL' });
    expect(ftp).toEqual({ code: 'BAD_REQUEST', message: 'url: webhook URL must use http or https' });
    expect(creds).toEqual({ code: 'BAD_REQUEST', message: 'url: webhook URL must not contain credentials' });
    expect((await t.client.alerts.webhooks.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });
});

describe('alerts.rules', () => {
  it('creates, lists and deletes rules of every kind', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-rules');
    const { webhookId } = await watch(t, r.url);
    const specs = [
      { name: 'expensive run', metric: 'run.cost_usd', op: '>' as const, threshold: 2, filters: { repo: 'api', branch: 'main' } },
      { name: 'failing', metric: 'error_rate', op: '>=' as const, threshold: 0.25, window: '1h' as const, filters: { agent: 'codex', model: 'gpt-5' } },
      { name: 'checks', metric: 'assertion.failed', op: '>=' as const, threshold: 1 },
    ];

    // Act
    const ids: string[] = [];
    for (const spec of specs) ids.push((await t.client.alerts.rules.create.mutate({ tenantId: t.tenantId, webhookId, ...spec })).ruleId);
    const listed = await t.client.alerts.rules.list.query({ tenantId: t.tenantId });

    // Assess
    expect(ids.every((id) => /^rl_/.test(id))).toBe(true);
    expect([...listed.items].sort((x, y) => x.name.localeCompare(y.name))).toEqual(
      specs
        .map((spec, i) => ({ ...spec, ruleId: ids[i], tenantId: t.tenantId, webhookId, createdAt: expect.any(String) }))
        .sort((x, y) => x.name.localeCompare(y.name)),
    );

    // Act: delete one, then again
    const deleted = await t.client.alerts.rules.delete.mutate({ tenantId: t.tenantId, ruleId: ids[0]! });
    const again = await failure(t.client.alerts.rules.delete.mutate({ tenantId: t.tenantId, ruleId: ids[0]! }));

    // Assess
    expect(deleted).toEqual({ deleted: true });
    expect(again).toEqual({ code: 'NOT_FOUND', message: `no rule ${ids[0]}` });
    expect((await t.client.alerts.rules.list.query({ tenantId: t.tenantId })).items.map((x) => x.ruleId).sort()).toEqual(ids.slice(1).sort());
  });

  it('refuses an invalid rule with BAD_REQUEST and a message naming the field', async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-invalid');
    const other = await newTenant('alerts-api-invalid-other');
    const { webhookId } = await watch(t, r.url);
    const { webhookId: othersWebhook } = await watch(other, r.url);
    const rule = { tenantId: t.tenantId, webhookId, name: 'r', metric: 'run.cost_usd', op: '>' as const, threshold: 1 };
    const create = (input: Record<string, unknown>) => failure(t.client.alerts.rules.create.mutate(input as typeof rule));

    // Act
    const unknownMetric = await create({ ...rule, metric: 'run.happiness' });
    const noWindow = await create({ ...rule, metric: 'cost_usd' });
    const needlessWindow = await create({ ...rule, window: '5m' });
    const badWindow = await create({ ...rule, metric: 'runs_failed', window: '7m' });
    const badOp = await create({ ...rule, op: '==' });
    const badThreshold = await create({ ...rule, threshold: 'one' });
    const unknownFilter = await create({ ...rule, filters: { team: 'x' } });
    const missingWebhook = await create({ ...rule, webhookId: 'wh_nothere' });
    const foreignWebhook = await create({ ...rule, webhookId: othersWebhook });

    // Assess
    expect(unknownMetric.code).toBe('BAD_REQUEST');
    expect(unknownMetric.message).toMatch(/^metric: .*run\.cost_usd/);
    expect(noWindow).toEqual({ code: 'BAD_REQUEST', message: 'window: metric cost_usd needs a window: "5m", "1h" or "24h"' });
    expect(needlessWindow).toEqual({ code: 'BAD_REQUEST', message: 'window: metric run.cost_usd is not windowed; omit window' });
    expect(badWindow.code).toBe('BAD_REQUEST');
    expect(badWindow.message).toMatch(/^window: /);
    expect(badOp.code).toBe('BAD_REQUEST');
    expect(badOp.message).toMatch(/^op: /);
    expect(badThreshold.code).toBe('BAD_REQUEST');
    expect(badThreshold.message).toMatch(/^threshold: /);
    expect(unknownFilter).toEqual({ code: 'BAD_REQUEST', message: 'filters: unknown field "team"' });
    expect(missingWebhook).toEqual({ code: 'BAD_REQUEST', message: 'webhookId: no webhook wh_nothere in this tenant' });
    expect(foreignWebhook).toEqual({ code: 'BAD_REQUEST', message: `webhookId: no webhook ${othersWebhook} in this tenant` });
    expect((await t.client.alerts.rules.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });
});

describe('bounds a tenant can not pass', () => {
  it('refuses a 100th rule and a 21st webhook, and deleting a webhook takes all 99 of its rules', async () => {
    // Prepare: 99 rules on one webhook, 20 webhooks
    const r = await receiver();
    const t = await newTenant('alerts-api-bounds');
    const hooks: { webhookId: string }[] = [];
    for (let i = 0; i < 20; i++) hooks.push(await t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: `${r.url}/${i}` }));
    const rule = (n: number) => ({ tenantId: t.tenantId, name: `r${n}`, metric: 'run.cost_usd', op: '>' as const, threshold: n, webhookId: hooks[0]!.webhookId });
    await Promise.all(Array.from({ length: 99 }, (_, n) => t.client.alerts.rules.create.mutate(rule(n))));

    // Act
    const extraRule = await failure(t.client.alerts.rules.create.mutate(rule(99)));
    const extraHook = await failure(t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: `${r.url}/20` }));
    await t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId: hooks[0]!.webhookId });

    // Assess
    expect(extraRule).toEqual({ code: 'BAD_REQUEST', message: 'a tenant has at most 99 alert rules; delete one first' });
    expect(extraHook).toEqual({ code: 'BAD_REQUEST', message: 'a tenant has at most 20 webhooks; delete one first' });
    expect((await t.client.alerts.rules.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });
});

describe('deleting a webhook', () => {
  it('takes every rule that points at it, however many creates that raced past the bound made', async () => {
    // Prepare: 150 rules written straight to the table, as concurrent creates can leave them
    useStackEnvironment();
    const control = new ControlTable(createStores());
    const t = await newTenant('alerts-api-many-rules');
    const r = await receiver();
    const { webhookId } = await t.client.alerts.webhooks.create.mutate({ tenantId: t.tenantId, url: `${r.url}/many` });
    await Promise.all(
      Array.from({ length: 150 }, (_, n) =>
        control.putRule({ ruleId: `rl_many${n}`, tenantId: t.tenantId, name: `r${n}`, metric: 'run.cost_usd', op: '>', threshold: n, webhookId, createdAt: new Date().toISOString() }),
      ),
    );

    // Act
    const answer = await t.client.alerts.webhooks.delete.mutate({ tenantId: t.tenantId, webhookId });

    // Assess
    expect(answer).toEqual({ deleted: true });
    expect((await t.client.alerts.rules.list.query({ tenantId: t.tenantId })).items).toEqual([]);
    expect((await t.client.alerts.webhooks.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });
});

describe('alerts.events', () => {
  it('pages through fired alerts newest first, with their deliveries', async () => {
    // Prepare: five alerts, one per request
    const r = await receiver();
    const t = await newTenant('alerts-api-events');
    const { webhookId, ruleIds } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });
    for (let i = 0; i < 5; i++) {
      await ingest(t.key, [{ type: 'log', id: `e${i}`, runId: `run-${i}`, timestamp: new Date().toISOString(), level: 'error', message: 'x' }]);
    }
    await eventsWhen(t, (es) => es.length === 5 && es.every((e) => e.deliveries[0]?.status === 'delivered'));

    // Act
    const pages = [];
    let cursor: string | undefined;
    do {
      const page = await t.client.alerts.events.list.query({ tenantId: t.tenantId, limit: 2, cursor });
      pages.push(page);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    // Assess
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    const items = pages.flatMap((p) => p.items);
    expect(items.map((e) => e.runId)).toEqual(['run-4', 'run-3', 'run-2', 'run-1', 'run-0']);
    const times = items.map((e) => Date.parse(e.firedAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(items[0]).toEqual({
      id: expect.stringMatching(/^al_/),
      type: 'alert.firing',
      ruleId: ruleIds[0],
      runId: 'run-4',
      value: 1,
      firedAt: expect.any(String),
      deliveries: [{ webhookId, status: 'delivered', attempts: expect.any(Number), lastStatusCode: 200, lastAttemptAt: expect.any(String) }],
    });
  });

  it("refuses a cursor from another tenant's list", async () => {
    // Prepare
    const r = await receiver();
    const a = await newTenant('alerts-api-cursor-a');
    const b = await newTenant('alerts-api-cursor-b');
    await watch(a, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });
    await ingest(a.key, [
      { type: 'log', id: 'e1', runId: 'r1', timestamp: new Date().toISOString(), level: 'error', message: 'x' },
      { type: 'log', id: 'e2', runId: 'r2', timestamp: new Date().toISOString(), level: 'error', message: 'y' },
    ]);
    const { nextCursor } = await a.client.alerts.events.list.query({ tenantId: a.tenantId, limit: 1 });

    // Act
    const replayed = await failure(b.client.alerts.events.list.query({ tenantId: b.tenantId, limit: 1, cursor: nextCursor! }));

    // Assess
    expect(replayed).toEqual({ code: 'BAD_REQUEST', message: 'cursor: not a cursor of this list (use nextCursor as returned)' });
  });
});

describe('who may manage alerts', () => {
  it("answers FORBIDDEN to another tenant's key and to a key without the read scope, and UNAUTHORIZED without a valid token", async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-owner');
    const other = await newTenant('alerts-api-intruder');
    const { webhookId, ruleIds } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });
    const ingestOnly = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest'] });
    const tenantId = t.tenantId;
    const everyProcedure = (c: ReturnType<typeof api>) => [
      c.alerts.webhooks.create.mutate({ tenantId, url: `${r.url}/x` }),
      c.alerts.webhooks.list.query({ tenantId }),
      c.alerts.webhooks.delete.mutate({ tenantId, webhookId }),
      c.alerts.rules.create.mutate({ tenantId, webhookId, name: 'x', metric: 'log.error', op: '>=', threshold: 1 }),
      c.alerts.rules.list.query({ tenantId }),
      c.alerts.rules.delete.mutate({ tenantId, ruleId: ruleIds[0]! }),
      c.alerts.events.list.query({ tenantId }),
    ];

    // Act
    const intruder = await Promise.all(everyProcedure(other.client).map(codeOf));
    const noReadScope = await Promise.all(everyProcedure(api(ingestOnly.key)).map(codeOf));
    const anonymous = await Promise.all(everyProcedure(api()).map(codeOf));
    const wrongToken = await Promise.all(everyProcedure(api('ldl_nope_000000000000000000')).map(codeOf));
    const asOperator = await Promise.all(everyProcedure(operator()).map(codeOf));

    // Assess
    expect(intruder).toEqual(Array(7).fill('FORBIDDEN'));
    expect(noReadScope).toEqual(Array(7).fill('FORBIDDEN'));
    expect(anonymous).toEqual(Array(7).fill('UNAUTHORIZED'));
    expect(wrongToken).toEqual(Array(7).fill('UNAUTHORIZED'));
    expect(asOperator).toEqual(Array(7).fill('FORBIDDEN'));
    expect((await t.client.alerts.webhooks.list.query({ tenantId })).items.map((w) => w.webhookId)).toEqual([webhookId]);
    expect((await t.client.alerts.rules.list.query({ tenantId })).items.map((x) => x.ruleId)).toEqual(ruleIds);
  });

  it("keeps tenants apart: another tenant cannot delete this tenant's webhook or rule through its own tenant id", async () => {
    // Prepare
    const r = await receiver();
    const t = await newTenant('alerts-api-isolated');
    const other = await newTenant('alerts-api-isolated-other');
    const { webhookId, ruleIds } = await watch(t, r.url, { name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });

    // Act
    const webhook = await codeOf(other.client.alerts.webhooks.delete.mutate({ tenantId: other.tenantId, webhookId }));
    const rule = await codeOf(other.client.alerts.rules.delete.mutate({ tenantId: other.tenantId, ruleId: ruleIds[0]! }));

    // Assess
    expect([webhook, rule]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect((await t.client.alerts.rules.list.query({ tenantId: t.tenantId })).items.map((x) => x.ruleId)).toEqual(ruleIds);
  });

  it('lets a consultant manage the alerts of a tenant it is granted, and only that one', async () => {
    // Prepare
    const r = await receiver();
    const granted = await newTenant('alerts-api-granted');
    const notGranted = await newTenant('alerts-api-not-granted');
    const { token } = await operator().admin.consultants.create.mutate({ name: 'sre', tenantIds: [granted.tenantId] });
    const consultant = api(token);

    // Act
    const { webhookId } = await consultant.alerts.webhooks.create.mutate({ tenantId: granted.tenantId, url: r.url });
    const { ruleId } = await consultant.alerts.rules.create.mutate({ tenantId: granted.tenantId, webhookId, name: 'cost', metric: 'run.cost_usd', op: '>', threshold: 3 });
    const elsewhere = await codeOf(consultant.alerts.webhooks.create.mutate({ tenantId: notGranted.tenantId, url: r.url }));

    // Assess
    expect((await granted.client.alerts.rules.list.query({ tenantId: granted.tenantId })).items.map((x) => x.ruleId)).toEqual([ruleId]);
    expect(elsewhere).toBe('FORBIDDEN');
  });
});
