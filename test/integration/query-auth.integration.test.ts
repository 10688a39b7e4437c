import { beforeAll, describe, expect, it } from 'vitest';
import { api, codeOf, ingest, newTenant, operator } from '../helpers/stack.ts';

/**
 * Every reader procedure authorises once, from the verified principal: no secret is UNAUTHORIZED; a
 * principal of another tenant, a key without scope `read`, the operator and a consultant whose grant
 * was revoked are FORBIDDEN, whether or not the named run exists.
 */
type Client = ReturnType<typeof api>;
const DAY = 86_400_000;
const day = Math.floor(Date.now() / DAY) * DAY - DAY;
const at = (minutes: number) => new Date(day + 10 * 3_600_000 + minutes * 60_000).toISOString();
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

let victim: Awaited<ReturnType<typeof newTenant>>;

/** One call of each reader procedure against `tenantId`. */
function readerCalls(client: Client, tenantId: string, runId = 'r1'): Record<string, () => Promise<unknown>> {
  const range = { from: new Date(day).toISOString(), to: new Date(day + DAY).toISOString() };
  return {
    'runs.get': () => client.runs.get.query({ tenantId, runId }),
    'runs.list': () => client.runs.list.query({ tenantId }),
    'runs.byTrace': () => client.runs.byTrace.query({ tenantId, traceId: TRACE }),
    'runs.raw': () => client.runs.raw.query({ tenantId, runId }),
    'costs.rollup': () => client.costs.rollup.query({ tenantId, ...range, groupBy: 'model' }),
    'metrics.query': () => client.metrics.query.query({ tenantId, name: 'claude_code.cost.usage', ...range }),
  };
}

async function codes(calls: Record<string, () => Promise<unknown>>): Promise<Record<string, string>> {
  const entries = await Promise.all(Object.entries(calls).map(async ([name, call]) => [name, await codeOf(call())] as const));
  return Object.fromEntries(entries);
}

const all = (code: string) => Object.fromEntries(Object.keys(readerCalls(api(), 'x')).map((name) => [name, code]));

beforeAll(async () => {
  victim = await newTenant('auth-victim');
  const res = await ingest(victim.key, [
    { type: 'run', id: 'e1', runId: 'r1', timestamp: at(5), repo: 'secret-repo', traceId: TRACE, status: 'succeeded', startedAt: at(0), endedAt: at(5) },
    { type: 'step', id: 'e2', runId: 'r1', stepId: 's1', kind: 'llm', name: 'chat', startedAt: at(1), endedAt: at(2), model: 'claude-sonnet-4-5', usage: { inputTokens: 100 } },
  ]);
  expect(res.status).toBe(200);
});

describe('reader procedures', () => {
  it('answer the tenant itself (read key)', async () => {
    expect(await codes(readerCalls(victim.client, victim.tenantId))).toEqual(all('OK'));
  });

  it('answer UNAUTHORIZED without a secret, or with an unknown one', async () => {
    expect(await codes(readerCalls(api(), victim.tenantId))).toEqual(all('UNAUTHORIZED'));
    expect(await codeOf(api().tenants.list.query())).toBe('UNAUTHORIZED');
    const forged = api(`ldl_${victim.keyId}_${'A'.repeat(32)}`);
    expect(await codes(readerCalls(forged, victim.tenantId))).toEqual(all('UNAUTHORIZED'));
    expect(await codeOf(forged.tenants.list.query())).toBe('UNAUTHORIZED');
  });

  it("answer FORBIDDEN to another tenant's key, for runs that exist and runs that do not alike", async () => {
    // Prepare
    const attacker = await newTenant('auth-attacker');

    // Act
    const existing = await codes(readerCalls(attacker.client, victim.tenantId, 'r1'));
    const missing = await codes(readerCalls(attacker.client, victim.tenantId, 'no-such-run'));
    const listed = await attacker.client.tenants.list.query();

    // Assess
    expect(existing).toEqual(all('FORBIDDEN'));
    expect(missing).toEqual(all('FORBIDDEN'));
    expect(listed.items.map((t) => t.tenantId)).toEqual([attacker.tenantId]);
  });

  it('answer FORBIDDEN to a key of the tenant without scope read, and to the operator', async () => {
    // Prepare
    const { key } = await operator().admin.keys.create.mutate({ tenantId: victim.tenantId, scopes: ['ingest'] });

    // Act & Assess
    expect(await codes(readerCalls(api(key), victim.tenantId))).toEqual(all('FORBIDDEN'));
    expect((await api(key).tenants.list.query()).items).toEqual([]);
    expect(await codes(readerCalls(operator(), victim.tenantId))).toEqual(all('FORBIDDEN'));
  });

  it('answer FORBIDDEN to a consultant once its grant is revoked (within seconds)', async () => {
    // Prepare: a consultant granted the tenant can read it
    const op = operator();
    const { consultantId, token } = await op.admin.consultants.create.mutate({ name: 'auth-consultant', tenantIds: [victim.tenantId] });
    const consultant = api(token);
    expect(await codes(readerCalls(consultant, victim.tenantId))).toEqual(all('OK'));
    expect((await consultant.tenants.list.query()).items.map((t) => t.tenantId)).toEqual([victim.tenantId]);

    // Act
    await op.admin.consultants.revoke.mutate({ consultantId, tenantIds: [victim.tenantId] });

    // Assess: the contract allows 5 s for a revocation to reach every cached look-up
    const deadline = Date.now() + 5000;
    while ((await codeOf(consultant.runs.list.query({ tenantId: victim.tenantId }))) !== 'FORBIDDEN' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await codes(readerCalls(consultant, victim.tenantId))).toEqual(all('FORBIDDEN'));
    expect((await consultant.tenants.list.query()).items).toEqual([]);
  });

  it('answer UNAUTHORIZED once the read key is revoked (within seconds)', async () => {
    // Prepare
    const op = operator();
    const { key, keyId } = await op.admin.keys.create.mutate({ tenantId: victim.tenantId, scopes: ['read'] });
    const reader = api(key);
    expect(await codeOf(reader.runs.get.query({ tenantId: victim.tenantId, runId: 'r1' }))).toBe('OK');

    // Act
    await op.admin.keys.revoke.mutate({ keyId });

    // Assess
    const deadline = Date.now() + 5000;
    while ((await codeOf(reader.runs.get.query({ tenantId: victim.tenantId, runId: 'r1' }))) !== 'UNAUTHORIZED' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await codes(readerCalls(reader, victim.tenantId))).toEqual(all('UNAUTHORIZED'));
  });
});
