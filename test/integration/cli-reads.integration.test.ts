import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, newTenant, operator, settled, stackInfo } from '../helpers/stack.ts';
import { generateDataset } from '../../cli/seed/generate.ts';
import { money } from '../../cli/format.ts';

/**
 * `lidless seed`, `runs list | show | trace` and `costs` as a user runs them (child processes with
 * LIDLESS_URL and LIDLESS_TOKEN) against the stack: readable tables, and --json equal to the API.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);
const DAY = 86_400_000;
const END = Math.floor(Date.now() / DAY) * DAY;
const day = (offset: number) => new Date(END + offset * DAY).toISOString().slice(0, 10);
const SEED = { runs: 24, days: 3, seed: 9 };

async function run(argv: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await exec(process.execPath, argv, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LIDLESS_URL: stackInfo().url, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const lidless = (args: string[], token: string, env: Record<string, string> = {}) => run(['bin/lidless.js', ...args], { LIDLESS_TOKEN: token, ...env });
const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

let tenant: Awaited<ReturnType<typeof newTenant>>;
const seedArgs = ['--runs', String(SEED.runs), '--days', String(SEED.days), '--seed', String(SEED.seed), '--end', new Date(END).toISOString()];
const dataset = generateDataset({ ...SEED, end: END });

beforeAll(async () => {
  tenant = await newTenant('cli-reads');
  const seeded = await lidless(['seed', ...seedArgs, '--json'], tenant.key);
  expect(seeded.stderr).toBe('');
  expect(seeded.code).toBe(0);
  expect(json(seeded.stdout)).toMatchObject({ runs: SEED.runs, events: dataset.events.length, accepted: dataset.events.length, rejected: [] });
  await settled();
});

describe('lidless seed', () => {
  it('sends the same events again for the same seed, which count as duplicates only', async () => {
    // Act
    const again = await lidless(['seed', ...seedArgs], tenant.key);

    // Assess
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^sent ${SEED.runs} runs \\(${dataset.events.length.toLocaleString('en-US')} events over 3 days\\) in \\d+ requests: 0 accepted, [\\d,]+ duplicates, 0 rejected\\n`));
    const { items } = await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 500 });
    expect(items).toHaveLength(SEED.runs);
  });

  it('npm run seed (bin/seed.ts) sends the same kind of dataset', async () => {
    // Prepare
    const other = await newTenant('cli-npm-seed');

    // Act
    const res = await run(['node_modules/tsx/dist/cli.mjs', 'bin/seed.ts', '--runs', '3', '--days', '1', '--json'], { LIDLESS_TOKEN: other.key });

    // Assess
    expect(res.code).toBe(0);
    expect(json(res.stdout)).toMatchObject({ runs: 3, rejected: [] });
    expect((await other.client.runs.list.query({ tenantId: other.tenantId })).items).toHaveLength(3);
  });

  it('refuses the operator token, which cannot ingest, in one line', async () => {
    const res = await lidless(['seed', '--runs', '1'], stackInfo().operatorToken);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('lidless: seed needs a tenant key with scope ingest in LIDLESS_TOKEN (create one with lidless key create)\n');
  });
});

describe('lidless runs list', () => {
  it('shows the runs newest first as a table, and --json equals runs.list', async () => {
    // Act
    const [table, asJson] = await Promise.all([lidless(['runs', 'list'], tenant.key), lidless(['runs', 'list', '--json'], tenant.key)]);
    const fromApi = await tenant.client.runs.list.query({ tenantId: tenant.tenantId });

    // Assess
    expect(json(asJson.stdout)).toEqual(fromApi);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED \(UTC\)\s+RUN\s+STATUS\s+OUTCOME\s+REPO\s+BRANCH\s+AGENT\s+DURATION\s+TOKENS\s+COST$/);
    expect(lines.slice(1, -1).map((l) => l.split(/\s+/)[2])).toEqual(fromApi.items.map((r) => r.runId));
    expect(lines.at(-1)).toBe(`${SEED.runs} runs, ${money(fromApi.items.reduce((s, r) => s + r.costUsd, 0))}`);
  });

  it('takes the filters as flags, a date --to meaning the whole day', async () => {
    // Prepare
    const repo = dataset.runs[0]!.repo;

    // Act
    const [filtered, byDay] = await Promise.all([
      lidless(['runs', 'list', '--repo', repo, '--status', 'succeeded', '--agent', 'claude-code', '--json'], tenant.key),
      lidless(['runs', 'list', '--from', day(-2), '--to', day(-2), '--min-cost', '0.01', '--json'], tenant.key),
    ]);

    // Assess
    expect(json(filtered.stdout)).toEqual(await tenant.client.runs.list.query({ tenantId: tenant.tenantId, repo, status: 'succeeded', agent: 'claude-code' }));
    const expectedDay = await tenant.client.runs.list.query({ tenantId: tenant.tenantId, from: `${day(-2)}T00:00:00.000Z`, to: `${day(-1)}T00:00:00.000Z`, minCostUsd: 0.01 });
    expect(json(byDay.stdout)).toEqual(expectedDay);
    expect(expectedDay.items.length).toBeGreaterThan(0);
  });

  it('pages with --limit and --cursor, or follows every page with --all', async () => {
    // Act
    const first = await lidless(['runs', 'list', '--limit', '5'], tenant.key);
    const cursor = /--cursor (\S+)$/m.exec(first.stdout)?.[1];
    const [second, all] = await Promise.all([
      lidless(['runs', 'list', '--limit', '5', '--cursor', cursor!, '--json'], tenant.key),
      lidless(['runs', 'list', '--limit', '5', '--all', '--json'], tenant.key),
    ]);

    // Assess
    expect(first.stdout).toContain('more runs: add --all, or --cursor ');
    expect(json(second.stdout)).toEqual(await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 5, cursor: cursor! }));
    const everything = json<{ items: { runId: string }[]; nextCursor: null }>(all.stdout);
    expect(everything.nextCursor).toBeNull();
    expect(new Set(everything.items.map((r) => r.runId)).size).toBe(SEED.runs);
  });
});

describe('lidless runs show and trace', () => {
  it('shows a run with its steps as an indented tree, and --json equals runs.get', async () => {
    // Prepare
    const failed = dataset.runs.find((r) => r.status === 'failed') ?? dataset.runs[0]!;

    // Act
    const [table, asJson] = await Promise.all([lidless(['runs', 'show', failed.runId], tenant.key), lidless(['runs', 'show', failed.runId, '--json'], tenant.key)]);
    const fromApi = await tenant.client.runs.get.query({ tenantId: tenant.tenantId, runId: failed.runId });

    // Assess
    expect(json(asJson.stdout)).toEqual(fromApi);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^run ${failed.runId}  ${fromApi.run.status}`));
    expect(table.stdout).toMatch(new RegExp(`^cost\\s+${money(fromApi.run.costUsd).replace('$', '\\$')}  llm calls ${fromApi.run.llmCalls}`, 'm'));
    const tree = table.stdout.split('\n\n')[1]!.trimEnd().split('\n');
    expect(tree[0]).toMatch(/^STEP\s+KIND\s+MODEL\s+STATUS\s+DURATION\s+IN\s+OUT\s+CACHE\s+COST\s+ERROR$/);
    expect(tree).toHaveLength(fromApi.steps.length + 1);
    // the session at the top, model calls under it, tools under the calls
    expect(tree[1]).toMatch(new RegExp(`^${failed.agent} session\\s+agent`));
    expect(tree.slice(2).every((l) => /^(├─|└─|│ |   )/.test(l))).toBe(true);
    expect(tree.some((l) => /^├─ chat\s+llm\s+\S+\s+(ok|error)\s+\S+\s+[\d,]+/.test(l))).toBe(true);
    const toolLine = tree.find((l) => /^│  (├─|└─) \S+\s+tool\s/.test(l));
    if (fromApi.steps.some((s) => s.kind === 'tool')) expect(toolLine).toBeDefined();
    const errorStep = fromApi.steps.find((s) => s.error);
    if (errorStep) expect(table.stdout).toContain(errorStep.error!.slice(0, 30));
  });

  it('fails in one line with exit code 1 for a run that does not exist', async () => {
    const res = await lidless(['runs', 'show', 'no-such-run'], tenant.key);
    expect(res).toEqual({ code: 1, stdout: '', stderr: `lidless: no run no-such-run in tenant ${tenant.tenantId}\n` });
  });

  it('lists the runs of a trace', async () => {
    const traced = (await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 500 })).items.find((r) => r.traceId)!;
    const [table, asJson] = await Promise.all([lidless(['runs', 'trace', traced.traceId!], tenant.key), lidless(['runs', 'trace', traced.traceId!, '--json'], tenant.key)]);
    expect(json(asJson.stdout)).toEqual({ items: [traced] });
    expect(table.stdout.split('\n')[1]).toContain(traced.runId);
  });
});

describe('lidless costs', () => {
  it('prints the rollup with a totals line and the cost per useful outcome, and --json equals costs.rollup', async () => {
    // Act
    const args = ['costs', '--group-by', 'model', '--from', day(-3), '--to', day(-1)];
    const [table, asJson] = await Promise.all([lidless(args, tenant.key), lidless([...args, '--json'], tenant.key)]);
    const fromApi = await tenant.client.costs.rollup.query({ tenantId: tenant.tenantId, groupBy: 'model', from: `${day(-3)}T00:00:00.000Z`, to: `${day(0)}T00:00:00.000Z` });

    // Assess
    expect(json(asJson.stdout)).toEqual(fromApi);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`costs by model, ${day(-3)} to ${day(-1)} (UTC), tenant ${tenant.tenantId}`);
    expect(lines[1]).toMatch(/^KEY\s+RUNS\s+COST\s+IN\s+OUT\s+CACHE READ\s+CACHE WRITE\s+LLM\s+TOOLS\s+ERRORS\s+WALL TIME\s+USEFUL\s+COST\/USEFUL$/);
    expect(lines.slice(2, 2 + fromApi.rows.length).map((l) => l.split(/\s+/)[0])).toEqual(fromApi.rows.map((r) => r.key));
    expect(lines[2 + fromApi.rows.length]).toMatch(/^─+(\s+─+)+$/);
    const total = lines.at(-1)!.split(/\s{2,}/);
    expect(total[0]).toBe('TOTAL');
    expect(total[1]).toBe(String(SEED.runs));
    expect(total[2]).toBe(money(fromApi.totals.costUsd));
    expect(total.at(-1)).toBe(money(fromApi.totals.costPerUsefulOutcomeUsd));
  });

  it('narrows by repo, agent or model, grouped by day', async () => {
    const repo = dataset.runs[0]!.repo;
    const res = await lidless(['costs', '--group-by', 'day', '--from', day(-3), '--to', day(-1), '--repo', repo, '--json'], tenant.key);
    expect(json(res.stdout)).toEqual(await tenant.client.costs.rollup.query({ tenantId: tenant.tenantId, groupBy: 'day', from: `${day(-3)}T00:00:00.000Z`, to: `${day(0)}T00:00:00.000Z`, repo }));
  });
});

describe('the tenant of reader commands', () => {
  it('must be chosen with --tenant or LIDLESS_TENANT when the token reads several', async () => {
    // Prepare
    const other = await newTenant('cli-second');
    const { token } = await operator().admin.consultants.create.mutate({ name: 'cli consultant', tenantIds: [tenant.tenantId, other.tenantId] });

    // Act
    const [ambiguous, flagged, fromEnv] = await Promise.all([
      lidless(['runs', 'list', '--json'], token),
      lidless(['runs', 'list', '--tenant', tenant.tenantId, '--limit', '1', '--json'], token),
      lidless(['runs', 'list', '--limit', '1', '--json'], token, { LIDLESS_TENANT: other.tenantId }),
    ]);

    // Assess
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/^lidless: this token reads 2 tenants \(.*\): choose one with --tenant <id> or LIDLESS_TENANT\n$/);
    expect(json<{ items: unknown[] }>(flagged.stdout).items).toHaveLength(1);
    expect(json(fromEnv.stdout)).toEqual(await api(token).runs.list.query({ tenantId: other.tenantId, limit: 1 }));
  });

  it('answers FORBIDDEN in one line for a tenant the token may not read', async () => {
    const stranger = await newTenant('cli-stranger');
    const res = await lidless(['costs', '--tenant', tenant.tenantId], stranger.key);
    expect(res).toEqual({ code: 1, stdout: '', stderr: `lidless: not allowed to read tenant ${tenant.tenantId}\n` });
  });
});
