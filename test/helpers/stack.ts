import { inject } from 'vitest';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../shared/api/router.ts';

/** Helpers for integration tests against the embedded stack started by global-setup.ts. */
export function stackInfo() {
  return inject('stack');
}

export function api(token?: string) {
  const { url } = stackInfo();
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

export function operator() {
  return api(stackInfo().operatorToken);
}

let seq = 0;
/** A fresh tenant with an ingest+read key (tests never share tenants, so they can run in parallel). */
export async function newTenant(name = 'test', opts: { retentionDays?: number } = {}) {
  const op = operator();
  const tenant = await op.admin.tenants.create.mutate({ name: `${name}-${++seq}`, ...opts });
  const { key, keyId } = await op.admin.keys.create.mutate({ tenantId: tenant.tenantId, scopes: ['ingest', 'read'] });
  return { ...tenant, key, keyId, client: api(key) };
}

export async function ingest(key: string, events: unknown[], headers: Record<string, string> = {}) {
  const res = await fetch(`${stackInfo().url}/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ events }),
  });
  return { status: res.status, body: (await res.json()) as { accepted: number; duplicates: number; rejected: { index: number; id?: string; error: string }[]; error?: string } };
}

/** The tRPC error code of a failed call (e.g. 'FORBIDDEN'), or 'OK' when it succeeded. */
export async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCClientError) return (err.data as { code?: string } | undefined)?.code ?? 'UNKNOWN';
    throw err;
  }
}

/** Runs the scheduled evaluator of the stack now (or as if at `now`). */
export async function evaluateNow(now?: Date): Promise<number> {
  const { url, operatorToken } = stackInfo();
  const res = await fetch(`${url}/_local/evaluate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(now ? { now: now.toISOString() } : {}),
  });
  return ((await res.json()) as { sent: number }).sent;
}

/** Waits until the stack's day cells hold every run change written so far: rollups lag ingest by the stream. */
export async function settled(): Promise<void> {
  const { url, operatorToken } = stackInfo();
  const res = await fetch(`${url}/_local/settle`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}` } });
  if (res.status !== 200) throw new Error(`settle answered ${res.status}: ${await res.text()}`);
}
