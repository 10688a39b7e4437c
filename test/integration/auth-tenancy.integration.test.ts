import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { api, codeOf, ingest, newTenant, operator, stackInfo } from '../helpers/stack.ts';

/**
 * Tenancy and principals (CONTRACT "Principals and auth"): a tenant key reaches only its own tenant and
 * only with its scopes, admin.* is the operator's alone, and secrets are kept as hashes only.
 */
const now = () => new Date().toISOString();
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

/** A raw tRPC query, to see the HTTP status a curl user gets. */
async function httpQuery(proc: string, input: unknown, token?: string) {
  const res = await fetch(`${stackInfo().url}/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = (await res.json()) as { error?: { message: string; data: { code: string; httpStatus: number } } };
  return { status: res.status, code: body.error?.data.code, message: body.error?.message };
}

describe('tenant isolation', () => {
  it("a key of tenant A gets FORBIDDEN on every procedure of tenant B, and cannot tell whether B's run exists", async () => {
    // Prepare
    const a = await newTenant('iso-a');
    const b = await newTenant('iso-b');
    const res = await ingest(b.key, [{ type: 'run', id: 'e1', runId: 'b-run', timestamp: now(), repo: 'secret-repo', traceId: 'trace-b' }]);
    expect(res.status).toBe(200);
    const tenantId = b.tenantId;
    const range = { from: hourAgo(), to: new Date(Date.now() + 3_600_000).toISOString() };

    // Act
    const codes = {
      'runs.get (exists)': await codeOf(a.client.runs.get.query({ tenantId, runId: 'b-run' })),
      'runs.get (absent)': await codeOf(a.client.runs.get.query({ tenantId, runId: 'no-such-run' })),
      'runs.list': await codeOf(a.client.runs.list.query({ tenantId })),
      'runs.byTrace': await codeOf(a.client.runs.byTrace.query({ tenantId, traceId: 'trace-b' })),
      'runs.raw': await codeOf(a.client.runs.raw.query({ tenantId, runId: 'b-run' })),
      'costs.rollup': await codeOf(a.client.costs.rollup.query({ tenantId, groupBy: 'day', ...range })),
      'metrics.query': await codeOf(a.client.metrics.query.query({ tenantId, name: 'claude_code.cost.usage', ...range })),
      'alerts.webhooks.list': await codeOf(a.client.alerts.webhooks.list.query({ tenantId })),
      'alerts.webhooks.create': await codeOf(a.client.alerts.webhooks.create.mutate({ tenantId, url: 'http://127.0.0.1:9/hook' })),
      'alerts.rules.list': await codeOf(a.client.alerts.rules.list.query({ tenantId })),
      'alerts.events.list': await codeOf(a.client.alerts.events.list.query({ tenantId })),
    };
    const exists = await httpQuery('runs.get', { tenantId, runId: 'b-run' }, a.key);
    const absent = await httpQuery('runs.get', { tenantId, runId: 'no-such-run' }, a.key);

    // Assess
    for (const [proc, code] of Object.entries(codes)) expect({ proc, code }).toEqual({ proc, code: 'FORBIDDEN' });
    expect(exists).toEqual({ status: 403, code: 'FORBIDDEN', message: expect.any(String) });
    expect(absent).toEqual(exists);
    expect(exists.message).not.toContain('b-run');
    expect((await b.client.runs.get.query({ tenantId, runId: 'b-run' })).run.repo).toBe('secret-repo');
  });

  it("ingest writes to the key's own tenant: an event naming another tenant is rejected and that tenant stays empty", async () => {
    // Prepare
    const a = await newTenant('iso-ingest-a');
    const b = await newTenant('iso-ingest-b');

    // Act
    const res = await ingest(a.key, [{ type: 'run', id: 'e1', runId: 'smuggled', timestamp: now(), tenantId: b.tenantId }]);

    // Assess
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([{ index: 0, id: 'e1', error: expect.stringMatching(/^tenantId: unknown field/) }]);
    expect((await b.client.runs.list.query({ tenantId: b.tenantId })).items).toEqual([]);
    expect(await codeOf(b.client.runs.get.query({ tenantId: b.tenantId, runId: 'smuggled' }))).toBe('NOT_FOUND');
  });

  it('a read-only key cannot ingest (403) and an ingest-only key cannot read (FORBIDDEN)', async () => {
    // Prepare
    const t = await newTenant('scopes');
    const op = operator();
    const readOnly = await op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['read'] });
    const ingestOnly = await op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest'] });

    // Act
    const byReader = await ingest(readOnly.key, [{ type: 'run', id: 'e1', runId: 'r1', timestamp: now() }]);
    const byIngester = await ingest(ingestOnly.key, [{ type: 'run', id: 'e2', runId: 'r2', timestamp: now() }]);
    const readByIngester = await codeOf(api(ingestOnly.key).runs.get.query({ tenantId: t.tenantId, runId: 'r2' }));
    const listByIngester = await api(ingestOnly.key).tenants.list.query();

    // Assess
    expect(byReader).toEqual({ status: 403, body: { error: expect.stringContaining('ingest') } });
    expect(byIngester.status).toBe(200);
    expect(readByIngester).toBe('FORBIDDEN');
    expect(listByIngester.items).toEqual([]);
    expect((await api(readOnly.key).runs.get.query({ tenantId: t.tenantId, runId: 'r2' })).run.runId).toBe('r2');
  });
});

describe('admin procedures', () => {
  it('only the operator may call admin.*: tenant keys and consultants get FORBIDDEN, no token or an unknown one UNAUTHORIZED', async () => {
    // Prepare
    const t = await newTenant('admin-only');
    const op = operator();
    const ingestOnly = await op.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest'] });
    const consultant = await op.admin.consultants.create.mutate({ name: 'auditor', tenantIds: [t.tenantId] });
    const callers = {
      'tenant key (ingest+read)': t.key,
      'tenant key (ingest)': ingestOnly.key,
      consultant: consultant.token,
      'no token': undefined,
      'unknown token': 'not-a-token-anyone-was-given',
      'well-formed unknown tenant key': 'ldl_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
      'well-formed unknown consultant token': 'ldc_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
      'operator token with a character missing': stackInfo().operatorToken.slice(0, -1),
    };

    // Act
    const seen: Record<string, string[]> = {};
    for (const [who, token] of Object.entries(callers)) {
      const c = api(token);
      seen[who] = [
        await codeOf(c.admin.tenants.create.mutate({ name: 'should not exist' })),
        await codeOf(c.admin.tenants.list.query()),
        await codeOf(c.admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['read'] })),
        await codeOf(c.admin.keys.revoke.mutate({ keyId: t.keyId })),
        await codeOf(c.admin.consultants.create.mutate({ name: 'x', tenantIds: [t.tenantId] })),
        await codeOf(c.admin.consultants.grant.mutate({ consultantId: consultant.consultantId, tenantIds: [t.tenantId] })),
        await codeOf(c.admin.consultants.revoke.mutate({ consultantId: consultant.consultantId, tenantIds: [t.tenantId] })),
      ];
    }
    const forbiddenHttp = await httpQuery('admin.tenants.list', undefined, t.key);
    const unauthorizedHttp = await httpQuery('admin.tenants.list', undefined, 'not-a-token-anyone-was-given');

    // Assess
    const all = (code: string) => Array(7).fill(code);
    expect(seen).toEqual({
      'tenant key (ingest+read)': all('FORBIDDEN'),
      'tenant key (ingest)': all('FORBIDDEN'),
      consultant: all('FORBIDDEN'),
      'no token': all('UNAUTHORIZED'),
      'unknown token': all('UNAUTHORIZED'),
      'well-formed unknown tenant key': all('UNAUTHORIZED'),
      'well-formed unknown consultant token': all('UNAUTHORIZED'),
      'operator token with a character missing': all('UNAUTHORIZED'),
    });
    expect(forbiddenHttp).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(unauthorizedHttp).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    // nothing those calls attempted happened
    expect((await t.client.runs.list.query({ tenantId: t.tenantId })).items).toEqual([]);
    expect((await op.admin.tenants.list.query()).items.map((x) => x.name)).not.toContain('should not exist');
    expect((await api(consultant.token).tenants.list.query()).items.map((x) => x.tenantId)).toEqual([t.tenantId]);
  });

  it('the operator token reads no tenant data: it is for admin.* only', async () => {
    // Prepare
    const t = await newTenant('operator-reads');

    // Act / Assess
    expect(await codeOf(operator().runs.list.query({ tenantId: t.tenantId }))).toBe('FORBIDDEN');
    expect((await operator().tenants.list.query()).items).toEqual([]);
  });
});

describe('secrets at rest', () => {
  it('the control table holds tenant keys and consultant tokens only as SHA-256 hashes, never in plain text', async () => {
    // Prepare: a key and a consultant token that have been used
    const t = await newTenant('hashed');
    const consultant = await operator().admin.consultants.create.mutate({ name: 'hash-check', tenantIds: [t.tenantId] });
    expect((await api(consultant.token).tenants.list.query()).items).toHaveLength(1);
    expect((await ingest(t.key, [{ type: 'run', id: 'e1', runId: 'r1', timestamp: now() }])).status).toBe(200);

    // Act: read every item of the control table, as anyone with access to the database could
    const { dynamoEndpoint, tablePrefix } = stackInfo();
    const ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }),
    );
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: `${tablePrefix}-control`, ExclusiveStartKey: start, ConsistentRead: true }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    ddb.destroy();
    const stored = JSON.stringify(items);

    // Assess
    const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
    for (const secret of [t.key, consultant.token]) {
      const random = secret.split('_').slice(2).join('_');
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(random);
      expect(stored).toContain(sha256(secret));
    }
    const keyItem = items.find((i) => i.keyId === t.keyId);
    const consultantItem = items.find((i) => i.consultantId === consultant.consultantId);
    expect(keyItem).toMatchObject({ tenantId: t.tenantId, hash: sha256(t.key) });
    expect(consultantItem).toMatchObject({ name: 'hash-check', hash: sha256(consultant.token), tenantIds: [t.tenantId] });
  });
});
