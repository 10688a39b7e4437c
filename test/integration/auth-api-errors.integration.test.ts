import { describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { api, codeOf, newTenant, operator, stackInfo } from '../helpers/stack.ts';

/**
 * The tRPC API as a curl user meets it: HTTP statuses and tRPC codes for auth failures, readable
 * BAD_REQUEST messages naming the field, unknown input fields refused, and the admin.* procedures
 * answering as CONTRACT.md says.
 */
interface HttpAnswer {
  status: number;
  code?: string;
  message?: string;
}

async function answer(res: Response): Promise<HttpAnswer> {
  const body = (await res.json()) as { error?: { message: string; data: { code: string; httpStatus: number } } };
  if (body.error) expect(body.error.data.httpStatus).toBe(res.status);
  return { status: res.status, code: body.error?.data.code, message: body.error?.message };
}

function httpQuery(proc: string, input: unknown, token?: string): Promise<HttpAnswer> {
  const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return fetch(`${stackInfo().url}/trpc/${proc}${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(answer);
}

function httpMutation(proc: string, input: unknown, token?: string): Promise<HttpAnswer> {
  return fetch(`${stackInfo().url}/trpc/${proc}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(input),
  }).then(answer);
}

/** The message of a failed call whose code must be BAD_REQUEST. */
async function badRequest(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof TRPCClientError)) throw err;
    expect((err.data as { code?: string } | undefined)?.code).toBe('BAD_REQUEST');
    return err.message;
  }
  throw new Error('the call succeeded');
}

describe('auth failures over HTTP', () => {
  it('a missing or unknown secret is HTTP 401 UNAUTHORIZED, a known principal on the wrong tenant HTTP 403 FORBIDDEN', async () => {
    // Prepare
    const a = await newTenant('http-a');
    const b = await newTenant('http-b');
    const input = { tenantId: b.tenantId };

    // Act
    const results = {
      missing: await httpQuery('runs.list', input),
      unknown: await httpQuery('runs.list', input, 'ldl_ZZZZZZZZZZZZ_0000000000000000000000000000'),
      malformedHeader: await fetch(`${stackInfo().url}/trpc/tenants.list`, { headers: { authorization: `Basic ${b.key}` } }).then(answer),
      wrongTenant: await httpQuery('runs.list', input, a.key),
      ownTenant: await httpQuery('runs.list', input, b.key),
      adminByTenantKey: await httpMutation('admin.tenants.create', { name: 'nope' }, b.key),
      adminWithoutToken: await httpMutation('admin.tenants.create', { name: 'nope' }),
    };

    // Assess
    expect(results).toEqual({
      missing: { status: 401, code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') },
      unknown: { status: 401, code: 'UNAUTHORIZED', message: expect.any(String) },
      malformedHeader: { status: 401, code: 'UNAUTHORIZED', message: expect.any(String) },
      wrongTenant: { status: 403, code: 'FORBIDDEN', message: expect.any(String) },
      ownTenant: { status: 200, code: undefined, message: undefined },
      adminByTenantKey: { status: 403, code: 'FORBIDDEN', message: expect.any(String) },
      adminWithoutToken: { status: 401, code: 'UNAUTHORIZED', message: expect.any(String) },
    });
  });

  it('x-api-key is accepted on ingest only; the API wants Authorization: Bearer', async () => {
    // Prepare
    const t = await newTenant('x-api-key');
    const body = JSON.stringify({ events: [{ type: 'run', id: 'e1', runId: 'r1', timestamp: new Date().toISOString() }] });

    // Act
    const ingested = await fetch(`${stackInfo().url}/v1/ingest`, { method: 'POST', headers: { 'x-api-key': t.key, 'content-type': 'application/json' }, body });
    const read = await fetch(`${stackInfo().url}/trpc/runs.list?input=${encodeURIComponent(JSON.stringify({ tenantId: t.tenantId }))}`, {
      headers: { 'x-api-key': t.key },
    }).then(answer);

    // Assess
    expect(ingested.status).toBe(200);
    expect(read).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect((await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'r1' })).run.runId).toBe('r1');
  });

  it('an auth failure wins over a bad input: nobody learns about the input rules without a valid secret', async () => {
    // Act
    const res = await httpMutation('admin.tenants.create', { name: '', colour: 'red' });

    // Assess
    expect(res).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});

describe('input validation', () => {
  it('invalid input is BAD_REQUEST with a readable message naming the field', async () => {
    // Prepare
    const t = await newTenant('zod');
    const op = operator();

    // Act
    const messages = {
      emptyName: await badRequest(op.admin.tenants.create.mutate({ name: '' })),
      retention: await badRequest(op.admin.tenants.create.mutate({ name: 'x', retentionDays: 0 })),
      scope: await badRequest(op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['write' as 'read'] })),
      noScopes: await badRequest(op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: [] })),
      limit: await badRequest(t.client.runs.list.query({ tenantId: t.tenantId, limit: 501 })),
      from: await badRequest(t.client.runs.list.query({ tenantId: t.tenantId, from: 'yesterday' })),
      localTime: await badRequest(t.client.runs.list.query({ tenantId: t.tenantId, to: '2026-01-02T10:00:00' })),
      runId: await badRequest(t.client.runs.get.query({ tenantId: t.tenantId, runId: 'run\u0001one' })),
      rawRunId: await badRequest(t.client.runs.raw.query({ tenantId: t.tenantId, runId: 'x'.repeat(129) })),
      tenantId: await badRequest(t.client.runs.list.query({ tenantId: 'not a tenant id!' })),
      groupBy: await badRequest(
        t.client.costs.rollup.query({ tenantId: t.tenantId, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', groupBy: 'colour' as 'day' }),
      ),
    };
    const overHttp = await httpMutation('admin.tenants.create', { name: 'x', retentionDays: 'fourteen' }, stackInfo().operatorToken);

    // Assess: each message starts with the field it is about, and shows no internals
    expect(messages.emptyName).toMatch(/^name: /);
    expect(messages.retention).toMatch(/^retentionDays: /);
    expect(messages.scope).toMatch(/^scopes\.0: /);
    expect(messages.noScopes).toMatch(/^scopes: /);
    expect(messages.limit).toMatch(/^limit: /);
    expect(messages.from).toMatch(/^from: /);
    expect(messages.localTime).toBe('to: must be an ISO-8601 time with an offset (2026-11-23T10:00:00Z) or a date (2026-11-23)');
    expect(messages.runId).toBe('runId: must be printable characters');
    expect(messages.tenantId).toBe('tenantId: must be a tenant id');
    expect(messages.rawRunId).toMatch(/^runId: must be 1 to 128 characters/);
    expect(messages.groupBy).toMatch(/^groupBy: /);
    for (const m of Object.values(messages)) expect(m).not.toMatch(/ZodError|"code":|\n|at .*\.ts/);
    expect(overHttp).toEqual({ status: 400, code: 'BAD_REQUEST', message: expect.stringMatching(/^retentionDays: /) });
  });

  it('unknown input fields are refused, naming the field, instead of being silently dropped', async () => {
    // Prepare
    const t = await newTenant('strict');
    const op = operator();
    const misspelt = { name: 'typo', retentionDay: 30 } as unknown as { name: string };

    // Act
    const create = await badRequest(op.admin.tenants.create.mutate(misspelt));
    const read = await badRequest(t.client.runs.get.query({ tenantId: t.tenantId, runId: 'r1', withSteps: true } as unknown as { tenantId: string; runId: string }));
    const key = await badRequest(
      op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['read'], tenant: 'other' } as unknown as { tenantId: string; scopes: ['read'] }),
    );

    // Assess
    expect(create).toContain('unknown field "retentionDay"');
    expect(read).toContain('unknown field "withSteps"');
    expect(key).toContain('unknown field "tenant"');
    expect((await op.admin.tenants.list.query()).items.map((x) => x.name)).not.toContain('typo');
  });
});

describe('plain JSON, as curl sends it', () => {
  it('takes a mutation body sent with curl -d\'s form type, or none, as JSON; another type is 415', async () => {
    // Act
    // bytes, so that fetch adds no content type of its own
    const post = (type: string | undefined, body: string) =>
      fetch(`${stackInfo().url}/trpc/admin.tenants.create`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stackInfo().operatorToken}`, ...(type ? { 'content-type': type } : {}) },
        body: new TextEncoder().encode(body),
      });
    const asForm = await post('application/x-www-form-urlencoded', '{"name":"curl-d"}');
    const untyped = await post(undefined, '{"name":"curl untyped"}');
    const notJson = await post('application/x-www-form-urlencoded', 'name=curl-form');
    const asText = await post('text/plain', '{"name":"curl text"}');

    // Assess
    expect(asForm.status).toBe(200);
    expect(await asForm.json()).toMatchObject({ result: { data: { name: 'curl-d', retentionDays: 14 } } });
    expect(untyped.status).toBe(200);
    expect(notJson.status).toBe(400);
    expect(asText.status).toBe(415);
  });
});

describe('batches', () => {
  it('runs up to 20 calls in one request and refuses a longer batch', async () => {
    const batch = (n: number) =>
      fetch(`${stackInfo().url}/trpc/${Array(n).fill('admin.tenants.list').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`, {
        headers: { authorization: `Bearer ${stackInfo().operatorToken}` },
      });

    const [twenty, more] = await Promise.all([batch(20), batch(21)]);

    expect(twenty.status).toBe(200);
    expect(await twenty.json()).toHaveLength(20);
    expect(more.status).toBe(400);
  });
});

describe('admin.* procedures', () => {
  it('tenants: create answers { tenantId, name, retentionDays } with 14 days by default, and list shows them', async () => {
    // Prepare
    const op = operator();
    const name = `admin-tenant-${Date.now()}`;

    // Act
    const byDefault = await op.admin.tenants.create.mutate({ name });
    const kept30 = await op.admin.tenants.create.mutate({ name: `${name}-30`, retentionDays: 30 });
    const list = await op.admin.tenants.list.query();

    // Assess
    expect(byDefault).toEqual({ tenantId: expect.any(String), name, retentionDays: 14 });
    expect(kept30).toEqual({ tenantId: expect.any(String), name: `${name}-30`, retentionDays: 30 });
    expect(byDefault.tenantId).not.toBe(kept30.tenantId);
    expect(list.items).toContainEqual(byDefault);
    expect(list.items).toContainEqual(kept30);
    for (const item of list.items) expect(Object.keys(item).sort()).toEqual(['name', 'retentionDays', 'tenantId']);
  });

  it('keys: create answers { keyId, key } shown once with the requested scopes, revoke answers { revoked: true }; an unknown tenant is NOT_FOUND', async () => {
    // Prepare
    const op = operator();
    const tenant = await op.admin.tenants.create.mutate({ name: 'admin-keys' });

    // Act
    const created = await op.admin.keys.create.mutate({ tenantId: tenant.tenantId, scopes: ['read', 'read'], label: 'dashboard' });
    const readsOwn = await codeOf(api(created.key).runs.list.query({ tenantId: tenant.tenantId }));
    const ingestRes = await fetch(`${stackInfo().url}/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [] }),
    });
    const revoked = await op.admin.keys.revoke.mutate({ keyId: created.keyId });
    const forMissingTenant = await codeOf(op.admin.keys.create.mutate({ tenantId: 'tn_doesnotexist', scopes: ['read'] }));

    // Assess
    expect(created).toEqual({ keyId: expect.any(String), key: expect.stringMatching(/^ldl_/) });
    expect(created.key).toContain(created.keyId);
    expect(readsOwn).toBe('OK');
    expect(ingestRes.status).toBe(403);
    expect(revoked).toEqual({ revoked: true });
    expect(forMissingTenant).toBe('NOT_FOUND');
  });

  it('consultants: create answers { consultantId, token }; grant and revoke answer the grants held afterwards; unknown ids are NOT_FOUND', async () => {
    // Prepare
    const op = operator();
    const [a, b, c] = await Promise.all(['cons-a', 'cons-b', 'cons-c'].map((name) => op.admin.tenants.create.mutate({ name })));
    const sorted = (ids: string[]) => [...ids].sort();

    // Act
    const created = await op.admin.consultants.create.mutate({ name: 'auditor', tenantIds: [a!.tenantId] });
    const granted = await op.admin.consultants.grant.mutate({ consultantId: created.consultantId, tenantIds: [b!.tenantId, c!.tenantId, a!.tenantId] });
    const revoked = await op.admin.consultants.revoke.mutate({ consultantId: created.consultantId, tenantIds: [b!.tenantId] });
    const revokedNotHeld = await op.admin.consultants.revoke.mutate({ consultantId: created.consultantId, tenantIds: [b!.tenantId] });
    const unknownConsultant = await codeOf(op.admin.consultants.grant.mutate({ consultantId: 'nobody', tenantIds: [a!.tenantId] }));
    const unknownTenant = await codeOf(op.admin.consultants.grant.mutate({ consultantId: created.consultantId, tenantIds: ['tn_doesnotexist'] }));
    const createForUnknown = await codeOf(op.admin.consultants.create.mutate({ name: 'x', tenantIds: ['tn_doesnotexist'] }));
    const noGrants = await op.admin.consultants.create.mutate({ name: 'no grants yet', tenantIds: [] });

    // Assess
    expect(created).toEqual({ consultantId: expect.any(String), token: expect.stringMatching(/^ldc_/) });
    expect(granted.consultantId).toBe(created.consultantId);
    expect(sorted(granted.tenantIds)).toEqual(sorted([a!.tenantId, b!.tenantId, c!.tenantId]));
    expect(sorted(revoked.tenantIds)).toEqual(sorted([a!.tenantId, c!.tenantId]));
    expect(sorted(revokedNotHeld.tenantIds)).toEqual(sorted([a!.tenantId, c!.tenantId]));
    expect([unknownConsultant, unknownTenant, createForUnknown]).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    expect((await api(noGrants.token).tenants.list.query()).items).toEqual([]);
  });

  it('grants given at the same time are all kept, and so are revocations', async () => {
    // Prepare
    const op = operator();
    const tenants = await Promise.all(Array.from({ length: 6 }, (_, i) => op.admin.tenants.create.mutate({ name: `grant-race-${i}` })));
    const ids = tenants.map((t) => t.tenantId);
    const { consultantId, token } = await op.admin.consultants.create.mutate({ name: 'granted in parallel', tenantIds: [] });

    // Act
    await Promise.all(ids.map((tenantId) => op.admin.consultants.grant.mutate({ consultantId, tenantIds: [tenantId] })));
    const afterGrants = (await api(token).tenants.list.query()).items.map((t) => t.tenantId);
    await Promise.all(ids.slice(0, 3).map((tenantId) => op.admin.consultants.revoke.mutate({ consultantId, tenantIds: [tenantId] })));
    const held = await op.admin.consultants.revoke.mutate({ consultantId, tenantIds: ['tn_notheld'] });

    // Assess
    expect(afterGrants.sort()).toEqual([...ids].sort());
    expect([...held.tenantIds].sort()).toEqual(ids.slice(3).sort());
  });
});
