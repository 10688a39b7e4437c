import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { api, codeOf, operator, stackInfo } from '../helpers/stack.ts';

/**
 * `lidless` as a user runs it (a child process with LIDLESS_URL and LIDLESS_TOKEN) against the stack:
 * the operator's commands in table and --json form, and how failures read.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

async function lidless(args: string[], token?: string) {
  const env = { PATH: process.env.PATH ?? '', LIDLESS_URL: stackInfo().url, ...(token ? { LIDLESS_TOKEN: token } : {}) };
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/lidless.js', ...args], { cwd: ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const op = () => stackInfo().operatorToken;
const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

describe('lidless operator commands', () => {
  it('tenant create prints the new tenant, and --json the API answer', async () => {
    // Act
    const [table, asJson] = await Promise.all([
      lidless(['tenant', 'create', 'Acme', 'Robotics', '--retention-days', '30'], op()),
      lidless(['tenant', 'create', 'Globex', '--json'], op()),
    ]);

    // Assess
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(/^created tenant tn_\w+ "Acme Robotics", data kept 30 days\n$/);
    expect(asJson.code).toBe(0);
    expect(json(asJson.stdout)).toEqual({ tenantId: expect.stringMatching(/^tn_/), name: 'Globex', retentionDays: 14 });
  });

  it('tenants lists every tenant for the operator, as a table or JSON', async () => {
    // Prepare
    const created = json<{ tenantId: string }>((await lidless(['tenant', 'create', 'Initech', '--json'], op())).stdout);

    // Act
    const [table, asJson] = await Promise.all([lidless(['tenants'], op()), lidless(['tenants', '--json'], op())]);

    // Assess
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^TENANT\s+NAME\s+RETENTION$/);
    expect(table.stdout).toMatch(new RegExp(`${created.tenantId}\\s+Initech\\s+14 days`));
    const items = json<{ items: { tenantId: string; name: string }[] }>(asJson.stdout).items;
    expect(items).toContainEqual({ tenantId: created.tenantId, name: 'Initech', retentionDays: 14 });
  });

  it('key create gives a working key once; key revoke stops it', async () => {
    // Prepare
    const { tenantId } = json<{ tenantId: string }>((await lidless(['tenant', 'create', 'Keys', '--json'], op())).stdout);

    // Act
    const [table, asJson] = await Promise.all([
      lidless(['key', 'create', '--tenant', tenantId, '--scopes', 'read', '--label', 'dashboards'], op()),
      lidless(['key', 'create', '--tenant', tenantId, '--json'], op()),
    ]);
    const created = json<{ key: string; keyId: string; scopes: string[] }>(asJson.stdout);

    // Assess: the readable form shows the key and says it is shown once
    expect(table.code).toBe(0);
    const key = /^key\s+(ldl_\S+)$/m.exec(table.stdout)?.[1];
    expect(key).toBeDefined();
    expect(table.stdout).toMatch(/^scopes\s+read$/m);
    expect(table.stdout).toContain('shown only once');
    expect(created.scopes).toEqual(['ingest', 'read']);
    // the key works, and sees only its tenant
    const tenants = await lidless(['tenants', '--json'], key);
    expect(json<{ items: { tenantId: string }[] }>(tenants.stdout).items.map((t) => t.tenantId)).toEqual([tenantId]);

    // Act: revoke
    const revoked = await lidless(['key', 'revoke', created.keyId], op());

    // Assess
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked key ${created.keyId}\n` });
    const deadline = Date.now() + 5000;
    while ((await codeOf(api(created.key).tenants.list.query())) !== 'UNAUTHORIZED' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await codeOf(api(created.key).tenants.list.query())).toBe('UNAUTHORIZED');
  });

  it('consultant create, grant and revoke manage which tenants a consultant reads', async () => {
    // Prepare
    const [a, b] = (await Promise.all([lidless(['tenant', 'create', 'Client A', '--json'], op()), lidless(['tenant', 'create', 'Client B', '--json'], op())])).map(
      (r) => json<{ tenantId: string }>(r.stdout).tenantId,
    ) as [string, string];

    // Act
    const created = await lidless(['consultant', 'create', 'Jo', 'Consulting', '--tenant', a], op());
    const token = /^token\s+(ldc_\S+)$/m.exec(created.stdout)?.[1] ?? '';
    const consultantId = /^consultant id\s+(\S+)$/m.exec(created.stdout)?.[1] ?? '';
    const granted = await lidless(['consultant', 'grant', consultantId, '--tenant', b, '--json'], op());
    const revoked = await lidless(['consultant', 'revoke', consultantId, '--tenant', a], op());

    // Assess
    expect(created.code).toBe(0);
    expect(token).toMatch(/^ldc_/);
    expect(json(granted.stdout)).toEqual({ consultantId, tenantIds: [a, b] });
    expect(revoked).toMatchObject({ code: 0, stdout: `consultant ${consultantId} now reads: ${b}\n` });
    // a revoked grant stops working within the auth cache time
    const readable = async () => (await api(token).tenants.list.query()).items.map((t) => t.tenantId);
    const deadline = Date.now() + 5000;
    while ((await readable()).includes(a) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await readable()).toEqual([b]);

    // Act: revoke the token itself
    const gone = await lidless(['consultant', 'revoke', consultantId, '--token'], op());

    // Assess
    expect(gone).toMatchObject({ code: 0, stdout: `revoked the token of consultant ${consultantId}\n` });
    const until = Date.now() + 5000;
    while ((await codeOf(api(token).tenants.list.query())) !== 'UNAUTHORIZED' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await codeOf(api(token).tenants.list.query())).toBe('UNAUTHORIZED');
  });
});

describe('lidless failures', () => {
  it('a bad token fails in one line with exit code 1', async () => {
    const res = await lidless(['tenants'], 'ldl_abcdefgh_0123456789abcdefghijkl');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe('lidless: unknown or revoked credentials (check LIDLESS_TOKEN)\n');
  });

  it('a tenant key calling an operator command fails in one line with exit code 1', async () => {
    const tenant = await operator().admin.tenants.create.mutate({ name: 'not-operator' });
    const { key } = await operator().admin.keys.create.mutate({ tenantId: tenant.tenantId, scopes: ['read'] });
    const res = await lidless(['tenant', 'create', 'x'], key);
    expect(res).toEqual({ code: 1, stdout: '', stderr: 'lidless: only the operator may call admin procedures\n' });
  });

  it('revoking a key that does not exist fails in one line with exit code 1', async () => {
    const res = await lidless(['key', 'revoke', 'nokey123'], op());
    expect(res).toEqual({ code: 1, stdout: '', stderr: 'lidless: no key nokey123\n' });
  });

  it('an unknown command prints the usage and exits 2', async () => {
    const res = await lidless(['frobnicate'], op());
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^lidless: unknown command "frobnicate"\n\nusage: lidless <command>/);
    expect(res.stderr).toContain('runs list');
  });

  it('a missing argument prints the command usage and exits 2', async () => {
    const res = await lidless(['key', 'create'], op());
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^lidless: --tenant <id> is required\n\nusage: lidless key create/);
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const [res, sub] = await Promise.all([lidless(['--help']), lidless(['runs', 'show', '--help'])]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^usage: lidless <command>/);
    expect(sub.stdout).toMatch(/^usage: lidless runs show <runId>/);
  });
});
