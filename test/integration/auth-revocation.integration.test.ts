import { describe, expect, it } from 'vitest';
import { api, codeOf, ingest, newTenant, operator, stackInfo } from '../helpers/stack.ts';

/**
 * Revocation takes effect within LIDLESS_AUTH_CACHE_MS (the test stack runs with 1000 ms; the default is
 * 2000 and the contract's ceiling 5 s): revoked keys, and consultants' revoked grants.
 */
const AUTH_CACHE_MS = 1000;
const now = () => new Date().toISOString();

/** Waits until `ms` after `since`: the moment by which a change made at `since` must be in effect. */
async function boundAfter(since: number, ms = AUTH_CACHE_MS): Promise<void> {
  const left = since + ms - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
}

describe('revoked tenant keys', () => {
  it('a revoked key is UNAUTHORIZED on the API and 401 on ingest once LIDLESS_AUTH_CACHE_MS has passed; the tenant\'s other keys keep working', async () => {
    // Prepare: the key is in use (and so cached) right up to the revocation
    const t = await newTenant('revoke-key');
    const other = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest', 'read'] });
    expect((await ingest(t.key, [{ type: 'run', id: 'e1', runId: 'r1', timestamp: now() }])).status).toBe(200);
    expect(await codeOf(t.client.runs.get.query({ tenantId: t.tenantId, runId: 'r1' }))).toBe('OK');

    // Act
    const revokedAt = Date.now();
    expect(await operator().admin.keys.revoke.mutate({ keyId: t.keyId })).toEqual({ revoked: true });
    await boundAfter(revokedAt);

    // Assess
    expect(await codeOf(t.client.tenants.list.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(t.client.runs.get.query({ tenantId: t.tenantId, runId: 'r1' }))).toBe('UNAUTHORIZED');
    const refused = await fetch(`${stackInfo().url}/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ type: 'run', id: 'e2', runId: 'r2', timestamp: now() }] }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toEqual({ error: expect.any(String) });
    const byApiKeyHeader = await ingest('', [{ type: 'run', id: 'e3', runId: 'r3', timestamp: now() }], { authorization: '', 'x-api-key': t.key });
    expect(byApiKeyHeader.status).toBe(401);
    expect((await ingest(other.key, [{ type: 'run', id: 'e4', runId: 'r4', timestamp: now() }])).status).toBe(200);
    const runs = await api(other.key).runs.list.query({ tenantId: t.tenantId });
    expect(runs.items.map((r) => r.runId).sort()).toEqual(['r1', 'r4']);
  });

  it('revoking twice is harmless and revoking an unknown key is NOT_FOUND', async () => {
    // Prepare
    const t = await newTenant('revoke-twice');
    const op = operator();

    // Act / Assess
    expect(await op.admin.keys.revoke.mutate({ keyId: t.keyId })).toEqual({ revoked: true });
    expect(await op.admin.keys.revoke.mutate({ keyId: t.keyId })).toEqual({ revoked: true });
    expect(await codeOf(op.admin.keys.revoke.mutate({ keyId: 'no-such-key' }))).toBe('NOT_FOUND');
  });
});

describe('consultants', () => {
  it('a consultant sees and reads only its granted tenants, gains one on grant and loses one on revoke within the bound', async () => {
    // Prepare
    const [a, b, c] = [await newTenant('consult-a'), await newTenant('consult-b'), await newTenant('consult-c')];
    for (const t of [a, b, c]) {
      expect((await ingest(t.key, [{ type: 'run', id: 'e1', runId: `run-of-${t.name}`, timestamp: now() }])).status).toBe(200);
    }
    const op = operator();
    const { consultantId, token } = await op.admin.consultants.create.mutate({ name: 'auditor', tenantIds: [a.tenantId, b.tenantId] });
    const consultant = api(token);
    const visible = async () => (await consultant.tenants.list.query()).items.map((t) => t.tenantId).sort();
    const reads = async (t: { tenantId: string; name: string }) => codeOf(consultant.runs.get.query({ tenantId: t.tenantId, runId: `run-of-${t.name}` }));

    // Assess: exactly the granted tenants, as the contract shapes them
    expect((await consultant.tenants.list.query()).items.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { tenantId: a.tenantId, name: a.name, retentionDays: 14 },
      { tenantId: b.tenantId, name: b.name, retentionDays: 14 },
    ]);
    expect([await reads(a), await reads(b), await reads(c)]).toEqual(['OK', 'OK', 'FORBIDDEN']);
    expect(await codeOf(consultant.alerts.webhooks.create.mutate({ tenantId: a.tenantId, url: 'http://127.0.0.1:9/hook' }))).toBe('OK');
    expect(await codeOf(consultant.alerts.webhooks.create.mutate({ tenantId: c.tenantId, url: 'http://127.0.0.1:9/hook' }))).toBe('FORBIDDEN');

    // Act: grant C
    const grantedAt = Date.now();
    const granted = await op.admin.consultants.grant.mutate({ consultantId, tenantIds: [c.tenantId] });
    await boundAfter(grantedAt);

    // Assess
    expect({ ...granted, tenantIds: [...granted.tenantIds].sort() }).toEqual({ consultantId, tenantIds: [a.tenantId, b.tenantId, c.tenantId].sort() });
    expect(await visible()).toEqual([a.tenantId, b.tenantId, c.tenantId].sort());
    expect(await reads(c)).toBe('OK');

    // Act: revoke A
    const revokedAt = Date.now();
    const revoked = await op.admin.consultants.revoke.mutate({ consultantId, tenantIds: [a.tenantId] });
    await boundAfter(revokedAt);

    // Assess
    expect({ ...revoked, tenantIds: [...revoked.tenantIds].sort() }).toEqual({ consultantId, tenantIds: [b.tenantId, c.tenantId].sort() });
    expect(await visible()).toEqual([b.tenantId, c.tenantId].sort());
    expect(await reads(a)).toBe('FORBIDDEN');
    expect(await codeOf(consultant.runs.list.query({ tenantId: a.tenantId }))).toBe('FORBIDDEN');
    expect(await codeOf(consultant.alerts.webhooks.list.query({ tenantId: a.tenantId }))).toBe('FORBIDDEN');
    expect([await reads(b), await reads(c)]).toEqual(['OK', 'OK']);
  });

  it('a consultant with every grant revoked still authenticates but sees nothing', async () => {
    // Prepare
    const t = await newTenant('consult-none');
    const op = operator();
    const { consultantId, token } = await op.admin.consultants.create.mutate({ name: 'former', tenantIds: [t.tenantId] });
    expect((await api(token).tenants.list.query()).items).toHaveLength(1);

    // Act
    const revokedAt = Date.now();
    expect(await op.admin.consultants.revoke.mutate({ consultantId, tenantIds: [t.tenantId] })).toEqual({ consultantId, tenantIds: [] });
    await boundAfter(revokedAt);

    // Assess
    expect((await api(token).tenants.list.query()).items).toEqual([]);
    expect(await codeOf(api(token).runs.list.query({ tenantId: t.tenantId }))).toBe('FORBIDDEN');
  });

  it("revoking a consultant without naming tenants revokes its token: UNAUTHORIZED within the bound, and a later grant does not bring it back", async () => {
    // Prepare: the token is in use (and so cached) right up to the revocation
    const t = await newTenant('consult-token');
    const op = operator();
    const { consultantId, token } = await op.admin.consultants.create.mutate({ name: 'leaked', tenantIds: [t.tenantId] });
    expect(await codeOf(api(token).runs.list.query({ tenantId: t.tenantId }))).toBe('OK');

    // Act
    const revokedAt = Date.now();
    const answer = await op.admin.consultants.revoke.mutate({ consultantId });
    await op.admin.consultants.grant.mutate({ consultantId, tenantIds: [t.tenantId] });
    await boundAfter(revokedAt);

    // Assess
    expect(answer).toEqual({ consultantId, tenantIds: [] });
    expect(await codeOf(api(token).tenants.list.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(api(token).runs.list.query({ tenantId: t.tenantId }))).toBe('UNAUTHORIZED');
    expect(await codeOf(op.admin.consultants.revoke.mutate({ consultantId: 'no-such-consultant' }))).toBe('NOT_FOUND');
  });
});
