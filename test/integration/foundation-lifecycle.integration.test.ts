import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '../../shared/api/router.ts';
import { freePort } from '../../local/ports.ts';
import { codeOf } from '../helpers/stack.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

/**
 * `npm start` as a user runs it: its own processes on a fresh data dir, Ctrl-C (SIGINT to the whole
 * process group, as a terminal sends it) and SIGTERM while a request is in flight, a restart on the same
 * data dir (with a webhook retry that was waiting), a supervisor signalling npm alone, and a machine
 * without Java. These start their own stacks, not the shared test stack.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_WITHIN_MS = 60_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Launched {
  child: ChildProcess;
  output(): string;
  exited: Promise<Exit>;
}

const launched: Launched[] = [];
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Starts a command in a process group of its own, as a shell starts a foreground job. */
function launch(command: string, args: string[], env: Record<string, string>): Launched {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const run = { child, output: () => output, exited };
  launched.push(run);
  return run;
}

function startEnv(port: number, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LIDLESS_DATA_DIR: dataDir,
    // loopback only: no registry look-up from npm itself
    NO_UPDATE_NOTIFIER: '1',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

/** Waits for the ready line; returns its URL and how long it took. */
async function readyLine(run: Launched, startedAt: number): Promise<{ url: string; ms: number }> {
  let exit: Exit | undefined;
  void run.exited.then((e) => (exit = e));
  const deadline = startedAt + READY_WITHIN_MS;
  for (;;) {
    const m = /^lidless ready on (http:\/\/\S+)$/m.exec(run.output());
    if (m) return { url: m[1]!, ms: Date.now() - startedAt };
    if (exit) throw new Error(`exited (${exit.code ?? exit.signal}) before it was ready:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`not ready within ${READY_WITHIN_MS} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes still in the process group `pgid`, or whose command line names `dataDir` (the JVM's does). */
function leftovers(pgid: number, dataDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // a zombie has ended and holds nothing; it waits for an init that may never reap it
      if (state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (Number(group) === pgid || cmdline.includes(dataDir)) found.push(`${pid} ${cmdline}`);
    } catch {
      // the process ended while being looked at
    }
  }
  return found;
}

/** Leftovers once the last of them had a moment to finish exiting (a helper may outlive its parent by a few ms). */
async function leftoversAfterExit(pgid: number, dataDir: string): Promise<string[]> {
  const deadline = Date.now() + 3000;
  let left = leftovers(pgid, dataDir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftovers(pgid, dataDir);
  }
  return left;
}

function client(url: string, token: string) {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })] });
}

async function ingest(url: string, key: string, events: unknown[]) {
  const res = await fetch(`${url}/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  return { status: res.status, body: await res.json() };
}

/** A batch big enough (1000 events, ~3 MB) that the stack takes a while to store it. */
function bigBatch(prefix: string): { events: unknown[]; runIds: string[] } {
  const runIds = Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);
  const startedAt = new Date().toISOString();
  const events = Array.from({ length: 1000 }, (_, i) => ({
    type: 'step',
    id: `${prefix}-e${i}`,
    runId: runIds[i % runIds.length],
    stepId: `s${i}`,
    kind: 'llm',
    name: 'chat',
    startedAt,
    costUsd: 0.001,
    input: `prompt ${i} `.padEnd(3000, 'x'),
  }));
  return { events, runIds };
}

/**
 * Posts a native batch on a connection of its own; `sent` resolves once the whole body is on the wire,
 * so a signal sent after it reaches a request the server is already working on.
 */
function postInFlight(url: string, key: string, events: unknown[]) {
  const body = Buffer.from(JSON.stringify({ events }));
  const { hostname, port } = new URL(url);
  let sentResolve!: () => void;
  const sent = new Promise<void>((r) => (sentResolve = r));
  const answered = new Promise<{ status: number; body: { accepted: number; rejected: unknown[] }; at: number }>((resolve, reject) => {
    const req = request(
      { host: hostname, port, method: 'POST', path: '/v1/ingest', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), at: Date.now() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('finish', sentResolve);
    req.end(body);
  });
  return { sent, answered };
}

afterAll(async () => {
  // a failed test may leave its stack running: end what this file started, then remove its data
  for (const run of launched) {
    if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
  }
  for (const dir of dirs) {
    for (const line of leftovers(-1, dir)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm start lifecycle', () => {
  const dataDir = tempDir('lidless-lifecycle-');
  const created = { tenantId: '', key: '', consultantToken: '', runIds: [] as string[], operatorToken: '', alertId: '' };
  let receiver: Receiver;
  afterAll(async () => receiver?.close());

  it('npm start is ready within 60 s with a generated operator token, and Ctrl-C finishes the request in flight and leaves no process behind', async () => {
    // Prepare
    const port = await freePort();
    const startedAt = Date.now();
    // webhook retries 10 minutes apart: one is still to come when the stack stops
    const run = launch('npm', ['start'], startEnv(port, dataDir, { LIDLESS_WEBHOOK_BASE_DELAY_MS: '600000' }));

    // Act
    const { url, ms } = await readyLine(run, startedAt);
    console.log(`npm start was ready in ${ms} ms`);

    // Assess: ready line, health, operator token file
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(ms).toBeLessThan(READY_WITHIN_MS);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const tokenFile = join(dataDir, 'operator-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const fileText = readFileSync(tokenFile, 'utf8');
    expect(fileText).toMatch(/^\S{16,}\n$/);
    expect(run.output()).toContain(tokenFile);
    created.operatorToken = fileText.trim();

    // Prepare: a tenant, a key, a consultant and a run to find again after the restart
    const op = client(url, created.operatorToken);
    const tenant = await op.admin.tenants.create.mutate({ name: 'kept across restarts' });
    const { key } = await op.admin.keys.create.mutate({ tenantId: tenant.tenantId, scopes: ['ingest', 'read'] });
    const { token: consultantToken } = await op.admin.consultants.create.mutate({ name: 'kept too', tenantIds: [tenant.tenantId] });
    // and an alert whose first delivery fails, so that its retry is pending when the stack stops
    receiver = await startReceiver({ answers: [500], otherwise: 200 });
    const reader = client(url, key);
    const { webhookId } = await reader.alerts.webhooks.create.mutate({ tenantId: tenant.tenantId, url: `${receiver.url}/hook` });
    await reader.alerts.rules.create.mutate({ tenantId: tenant.tenantId, name: 'errors', metric: 'log.error', op: '>=', threshold: 1, webhookId });
    const now = new Date().toISOString();
    const first = await ingest(url, key, [
      { type: 'run', id: 'kept-run', runId: 'kept', timestamp: now, repo: 'web' },
      { type: 'step', id: 'kept-step', runId: 'kept', stepId: 's1', kind: 'llm', name: 'chat', startedAt: now, costUsd: 0.25 },
      { type: 'log', id: 'kept-error', runId: 'kept', timestamp: now, level: 'error', message: 'boom' },
    ]);
    expect(first.status).toBe(200);
    const [failedAttempt] = await receiver.waitFor(1);
    created.alertId = String(failedAttempt!.headers['x-lidless-event-id']);

    // Act: Ctrl-C while a large batch is being stored
    const batch = bigBatch('ctrl-c');
    const inFlight = postInFlight(url, key, batch.events);
    await inFlight.sent;
    await new Promise((r) => setTimeout(r, 100));
    const signalledAt = Date.now();
    process.kill(-run.child.pid!, 'SIGINT');
    const answer = await inFlight.answered;
    const exit = await run.exited;

    // Assess: the request was answered after the signal, in full; npm exits 0, as the server it runs shut down cleanly; nothing is left
    expect(answer.at).toBeGreaterThan(signalledAt);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1000, rejected: [] });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('SIGINT: shutting down');
    expect(run.output()).not.toMatch(/shutdown failed|request failed|ingest failed/);
    expect(await leftoversAfterExit(run.child.pid!, dataDir)).toEqual([]);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    Object.assign(created, { tenantId: tenant.tenantId, key, consultantToken, runIds: batch.runIds });
  }, 120_000);

  it('a restart on the same data dir keeps tenants, keys, consultants and runs, takes the operator token from LIDLESS_OPERATOR_TOKEN, and SIGTERM exits 0 after the request in flight', async () => {
    // Prepare
    expect(created.tenantId).not.toBe('');
    const port = await freePort();
    const envToken = `ldo_from_env_${Date.now()}_token`;
    const startedAt = Date.now();
    const run = launch(process.execPath, ['--import', 'tsx', 'local/main.ts'], startEnv(port, dataDir, { LIDLESS_OPERATOR_TOKEN: envToken }));

    // Act
    const { url, ms } = await readyLine(run, startedAt);
    console.log(`the restart was ready in ${ms} ms`);

    // Assess: everything created before the restart is there, and the key still works
    expect(run.output()).not.toContain('operator token:');
    const op = client(url, envToken);
    const tenants = await op.admin.tenants.list.query();
    expect(tenants.items).toContainEqual({ tenantId: created.tenantId, name: 'kept across restarts', retentionDays: 14 });
    expect(await codeOf(client(url, created.operatorToken).admin.tenants.list.query())).toBe('UNAUTHORIZED');
    expect(readFileSync(join(dataDir, 'operator-token'), 'utf8')).toBe(`${created.operatorToken}\n`);
    const reader = client(url, created.key);
    const kept = await reader.runs.get.query({ tenantId: created.tenantId, runId: 'kept' });
    expect(kept.run).toMatchObject({ repo: 'web', costUsd: 0.25 });
    expect(kept.steps.map((s) => s.stepId)).toEqual(['s1']);
    const fromCtrlC = await reader.runs.get.query({ tenantId: created.tenantId, runId: created.runIds[0]! });
    expect(fromCtrlC.steps).toHaveLength(50);
    const consultantSees = await client(url, created.consultantToken).tenants.list.query();
    expect(consultantSees.items.map((t) => t.tenantId)).toEqual([created.tenantId]);
    // the webhook retry that was waiting when the stack stopped goes out now, not 10 minutes later
    const [, resumed] = await receiver.waitFor(2, { timeoutMs: 15_000 });
    expect(resumed!.headers['x-lidless-event-id']).toBe(created.alertId);
    const alerts = await reader.alerts.events.list.query({ tenantId: created.tenantId });
    expect(alerts.items[0]).toMatchObject({ id: created.alertId, deliveries: [{ status: 'delivered', attempts: 2 }] });

    // Act: SIGTERM to the process alone (as a supervisor sends it) while a large batch is being stored
    const batch = bigBatch('sigterm');
    const inFlight = postInFlight(url, created.key, batch.events);
    await inFlight.sent;
    await new Promise((r) => setTimeout(r, 100));
    const signalledAt = Date.now();
    process.kill(run.child.pid!, 'SIGTERM');
    const answer = await inFlight.answered;
    const exit = await run.exited;

    // Assess
    expect(answer.at).toBeGreaterThan(signalledAt);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1000, rejected: [] });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('SIGTERM: shutting down');
    expect(await leftoversAfterExit(run.child.pid!, dataDir)).toEqual([]);
  }, 120_000);

  it('a supervisor signalling npm alone stops everything: SIGTERM is passed on, and npm killed outright is noticed', async () => {
    const dataDir = tempDir('lidless-supervised-');
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      // Prepare
      const run = launch('npm', ['start'], startEnv(await freePort(), dataDir));
      const { url } = await readyLine(run, Date.now());

      // Act: the signal goes to npm's process only, as systemd, Docker or `timeout` send it
      process.kill(run.child.pid!, signal);
      await run.exited;

      // Assess: the server behind npm stops too, the JVM with it
      expect(await leftoversAfterExit(run.child.pid!, dataDir), signal).toEqual([]);
      await expect(fetch(`${url}/healthz`), signal).rejects.toThrow();
      if (signal === 'SIGTERM') expect(run.output()).toContain('SIGTERM: shutting down');
    }
  }, 180_000);

  it('without Java on PATH the start fails with one line that names Java 17 and how to install it', async () => {
    // Prepare: a PATH holding node and nothing else
    const bin = tempDir('lidless-nojava-bin-');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const port = await freePort();
    const run = launch(process.execPath, ['--import', 'tsx', 'local/main.ts'], startEnv(port, tempDir('lidless-nojava-'), { PATH: bin }));

    // Act
    const exit = await run.exited;

    // Assess
    expect(exit.code).not.toBe(0);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Java 17/);
    expect(lines[0]).toMatch(/apt-get install/);
  }, 30_000);

  it('a revocation bound above 5 s (LIDLESS_AUTH_CACHE_MS) fails the start at once, naming the variable, before the JVM is started', async () => {
    // Prepare
    const port = await freePort();
    const dataDir = tempDir('lidless-badenv-');
    const run = launch(process.execPath, ['--import', 'tsx', 'local/main.ts'], startEnv(port, dataDir, { LIDLESS_AUTH_CACHE_MS: '9000' }));

    // Act
    const exit = await run.exited;

    // Assess
    expect(exit.code).not.toBe(0);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/LIDLESS_AUTH_CACHE_MS/);
    expect(readdirSync(dataDir)).not.toContain('dynamodb');
  }, 30_000);
});
