import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { TRPCError } from '@trpc/server';
import { appRouter } from '../../shared/api/router.ts';
import type { ApiContext } from '../../shared/api/trpc.ts';
import { parseConfig } from '../../shared/config.ts';
import { createStores, type Stores } from '../../shared/store/clients.ts';
import { ControlTable } from '../../shared/store/control-table.ts';
import { Authenticator } from '../../shared/auth/principal.ts';
import { operatorTokenSource } from '../../shared/auth/operator-token.ts';
import { cursorKeyFrom } from '../../shared/query/cursor.ts';
import { IngestService } from '../../shared/ingest/service.ts';
import { dispatchDelivery } from '../../shared/alerts/dispatch.ts';
import type { DeliveryMessage } from '../../shared/alerts/queue.ts';
import { newTenant, stackInfo } from '../helpers/stack.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';

/**
 * The SSRF guard on webhook URLs. The embedded stack runs in local mode (which allows http, loopback
 * and private addresses), so the API is called in-process here, with the stack's DynamoDB and a
 * config as deployed (LIDLESS_LOCAL_MODE=0), the way shared/runtime.ts builds it.
 */
let stores: Stores;

beforeAll(() => {
  useStackEnvironment();
  stores = createStores();
});

function callerFor(secret: string, localMode: '0' | '1') {
  const { operatorToken } = stackInfo();
  const cfg = parseConfig({ ...process.env, LIDLESS_LOCAL_MODE: localMode, LIDLESS_OPERATOR_TOKEN: operatorToken });
  const control = new ControlTable(stores);
  const ctx: ApiContext = {
    secret,
    auth: new Authenticator(control, operatorTokenSource(cfg), cfg.LIDLESS_AUTH_CACHE_MS),
    stores,
    control,
    cfg,
    cursorKey: cursorKeyFrom(operatorToken),
    requestId: randomUUID(),
    now: Date.now,
  };
  return appRouter.createCaller(ctx);
}

async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof TRPCError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the call to be refused');
}

describe('webhook URLs outside local mode', () => {
  it('refuses http, loopback, private, link-local and metadata addresses, literal or by name, saying why', async () => {
    // Prepare
    const t = await newTenant('alerts-guard-deployed');
    const deployed = callerFor(t.key, '0');
    const create = (url: string) => refusal(deployed.alerts.webhooks.create({ tenantId: t.tenantId, url }));

    // Act
    const answers = {
      http: await create('http://93.184.215.14/hook'),
      loopback: await create('https://127.0.0.1/hook'),
      private10: await create('https://10.0.0.1/hook'),
      private192: await create('https://192.168.1.20:8443/hook'),
      metadata: await create('https://169.254.169.254/latest/meta-data/'),
      linkLocal: await create('https://169.254.10.1/hook'),
      cgnat: await create('https://100.64.0.1/hook'),
      unspecified: await create('https://0.0.0.0/hook'),
      loopback6: await create('https://[::1]/hook'),
      mapped: await create('https://[::ffff:127.0.0.1]/hook'),
      uniqueLocal: await create('https://[fd00::1]/hook'),
      byName: await create('https://localhost/hook'),
    };

    // Assess
    expect(answers).toEqual({
      http: { code: 'BAD_REQUEST', message: 'url: webhook URL must use https' },
      loopback: { code: 'BAD_REQUEST', message: 'url: webhook host is a loopback address (127.0.0.1)' },
      private10: { code: 'BAD_REQUEST', message: 'url: webhook host is a private address (10.0.0.1)' },
      private192: { code: 'BAD_REQUEST', message: 'url: webhook host is a private address (192.168.1.20)' },
      metadata: { code: 'BAD_REQUEST', message: 'url: webhook host is a cloud metadata address (169.254.169.254)' },
      linkLocal: { code: 'BAD_REQUEST', message: 'url: webhook host is a link-local address (169.254.10.1)' },
      cgnat: { code: 'BAD_REQUEST', message: 'url: webhook host is a carrier-grade NAT address (100.64.0.1)' },
      unspecified: { code: 'BAD_REQUEST', message: 'url: webhook host is an unspecified address (0.0.0.0)' },
      loopback6: { code: 'BAD_REQUEST', message: 'url: webhook host is a loopback address (::1)' },
      mapped: { code: 'BAD_REQUEST', message: 'url: webhook host is a loopback address (127.0.0.1)' },
      uniqueLocal: { code: 'BAD_REQUEST', message: 'url: webhook host is a unique-local address (fd00::1)' },
      byName: { code: 'BAD_REQUEST', message: expect.stringMatching(/^url: webhook host resolves to a loopback address \((127\.0\.0\.1|::1)\)$/) },
    });
    expect((await deployed.alerts.webhooks.list({ tenantId: t.tenantId })).items).toEqual([]);
  });

  it('accepts https to a public address', async () => {
    // Prepare
    const t = await newTenant('alerts-guard-public');
    const deployed = callerFor(t.key, '0');

    // Act
    const created = await deployed.alerts.webhooks.create({ tenantId: t.tenantId, url: 'https://93.184.215.14/hooks/lidless' });

    // Assess
    expect(created.webhookId).toMatch(/^wh_/);
    expect((await deployed.alerts.webhooks.list({ tenantId: t.tenantId })).items.map((w) => w.url)).toEqual(['https://93.184.215.14/hooks/lidless']);
  });

  it('checks the URL again at delivery: a loopback webhook saved in local mode is never called by a deployed dispatcher', async () => {
    // Prepare: a webhook saved under local mode, and an alert fired by an in-process ingest
    const r = await startReceiver();
    onTestFinished(() => r.close());
    const t = await newTenant('alerts-guard-delivery');
    const local = callerFor(t.key, '1');
    const { webhookId } = await local.alerts.webhooks.create({ tenantId: t.tenantId, url: `${r.url}/hook` });
    await local.alerts.rules.create({ tenantId: t.tenantId, webhookId, name: 'errors', metric: 'log.error', op: '>=', threshold: 1 });
    const queued: DeliveryMessage[] = [];
    const queue = { send: async (messages: readonly DeliveryMessage[]) => void queued.push(...messages) };
    const ingest = new IngestService(stores, new Authenticator(new ControlTable(stores), async () => undefined, 0), queue, { maxBodyBytes: 1 << 20, cacheMs: 0 });
    const body = { events: [{ type: 'log', id: 'e1', runId: 'r1', timestamp: new Date().toISOString(), level: 'error', message: 'boom' }] };
    const res = await ingest.handle({
      method: 'POST',
      path: '/v1/ingest',
      query: '',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(body)),
      requestId: randomUUID(),
    });
    expect(res.statusCode).toBe(200);
    expect(queued).toHaveLength(1);

    // Act
    const status = await dispatchDelivery(stores, queue, queued[0]!, { localMode: false, baseDelayMs: 50, maxAttempts: 1, timeoutMs: 1000 });

    // Assess
    expect(status).toBe('failed');
    expect(r.requests).toEqual([]);
    const [event] = (await local.alerts.events.list({ tenantId: t.tenantId })).items;
    expect(event!.deliveries).toEqual([
      { webhookId, status: 'failed', attempts: 1, lastError: 'webhook URL must use https', lastAttemptAt: expect.any(String) },
    ]);
  });
});

describe('webhook URLs in local mode', () => {
  it('accepts http to loopback and private addresses', async () => {
    // Prepare
    const t = await newTenant('alerts-guard-local');
    const local = callerFor(t.key, '1');

    // Act
    const loopback = await local.alerts.webhooks.create({ tenantId: t.tenantId, url: 'http://127.0.0.1:9999/hook' });
    const lan = await local.alerts.webhooks.create({ tenantId: t.tenantId, url: 'http://192.168.1.20/hook' });
    const byName = await local.alerts.webhooks.create({ tenantId: t.tenantId, url: 'http://localhost:8080/hook' });

    // Assess
    const listed = await local.alerts.webhooks.list({ tenantId: t.tenantId });
    expect(listed.items.map((w) => w.webhookId).sort()).toEqual([loopback.webhookId, lan.webhookId, byName.webhookId].sort());
  });
});
