import { beforeAll, describe, expect, it } from 'vitest';
import { api, codeOf, ingest, newTenant, operator, stackInfo } from '../helpers/stack.ts';
import { generateDataset } from '../../cli/seed/generate.ts';
import { sendDataset } from '../../cli/seed/send.ts';
import { expectedRuns, type ExpectedRun } from '../../cli/seed/expected.ts';

/**
 * runs.list over a generated dataset: paging returns every run exactly once, newest first; each filter
 * returns exactly the matching runs; runs.get, runs.byTrace and runs.raw agree with what was sent;
 * cursors are opaque, tamper-evident and bound to their tenant and list.
 */
const DAY = 86_400_000;
const END = Math.floor(Date.now() / DAY) * DAY;
const dataset = generateDataset({ seed: 31, days: 3, runs: 45, end: END });
const expected = expectedRuns(dataset.events);
let tenant: Awaited<ReturnType<typeof newTenant>>;

type ListInput = Omit<Parameters<typeof tenant.client.runs.list.query>[0], 'tenantId' | 'cursor'>;
type Filter = Omit<ListInput, 'limit'>;

/** newest first by start, ties by run id (descending, as the index sorts) */
const newestFirst = (a: ExpectedRun, b: ExpectedRun) => b.startedAt - a.startedAt || (a.runId < b.runId ? 1 : -1);

function matching(f: Filter): string[] {
  const from = f.from ? Date.parse(f.from) : -Infinity;
  const to = f.to ? Date.parse(f.to) : Infinity;
  return [...expected.values()]
    .filter(
      (r) =>
        r.startedAt >= from &&
        r.startedAt < to &&
        (f.repo === undefined || r.repo === f.repo) &&
        (f.branch === undefined || r.branch === f.branch) &&
        (f.agent === undefined || r.agent === f.agent) &&
        (f.model === undefined || r.models.includes(f.model)) &&
        (f.status === undefined || r.status === f.status) &&
        (f.outcome === undefined || r.outcome === f.outcome) &&
        (f.minCostUsd === undefined || r.costNanos / 1e9 >= f.minCostUsd),
    )
    .sort(newestFirst)
    .map((r) => r.runId);
}

async function listAll(client: typeof tenant.client, tenantId: string, input: ListInput) {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.runs.list.query({ tenantId, ...input, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(input.limit ?? 50);
    ids.push(...page.items.map((r) => r.runId));
    cursor = page.nextCursor ?? undefined;
    pages += 1;
  } while (cursor && pages < 100);
  return { ids, pages };
}

beforeAll(async () => {
  tenant = await newTenant('runs');
  const sent = await sendDataset(dataset, { url: stackInfo().url, key: tenant.key });
  expect(sent.rejected).toEqual([]);
});

describe('runs.list', () => {
  it('pages through every run exactly once, newest first', async () => {
    // Act
    const { ids, pages } = await listAll(tenant.client, tenant.tenantId, { limit: 7 });

    // Assess
    expect(ids).toEqual(matching({}));
    expect(new Set(ids).size).toBe(dataset.runs.length);
    expect(pages).toBe(Math.ceil(dataset.runs.length / 7));
  });

  it('shows each run with the totals of the events sent for it', async () => {
    // Act
    const { items } = await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 500 });

    // Assess
    for (const run of items) {
      const want = expected.get(run.runId)!;
      const { repo, branch, agent, status, outcome, startedAt, endedAt, durationMs, models, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, llmCalls, toolCalls, errors } = run;
      // toEqual: a field the run lacks (no branch, no outcome) must be missing on both sides
      expect({ repo, branch, agent, status, outcome, startedAt, endedAt, durationMs, models, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, llmCalls, toolCalls, errors }, run.runId).toEqual({
        repo: want.repo,
        branch: want.branch,
        agent: want.agent,
        status: want.status,
        outcome: want.outcome,
        startedAt: new Date(want.startedAt).toISOString(),
        endedAt: new Date(want.endedAt).toISOString(),
        durationMs: want.endedAt - want.startedAt,
        models: want.models,
        inputTokens: want.inputTokens,
        outputTokens: want.outputTokens,
        cacheReadTokens: want.cacheReadTokens,
        cacheWriteTokens: want.cacheWriteTokens,
        llmCalls: want.llmCalls,
        toolCalls: want.toolCalls,
        errors: want.errors,
      });
      expect(run.costUsd, run.runId).toBeCloseTo(want.costNanos / 1e9, 9);
    }
  });

  it('returns exactly the runs matching each filter, through every page', async () => {
    // Prepare
    const runs = [...expected.values()];
    const costs = runs.map((r) => r.costNanos / 1e9).sort((a, b) => a - b);
    const someRepo = dataset.runs[0]!.repo;
    const someBranch = dataset.runs.find((r) => r.branch && r.branch !== 'main')!.branch!;
    const someModel = runs.find((r) => r.models.includes('claude-haiku-4-5')) ? 'claude-haiku-4-5' : runs[0]!.models[0]!;
    const middle = { from: new Date(END - 2 * DAY + 6 * 3_600_000).toISOString(), to: new Date(END - DAY + 3 * 3_600_000).toISOString() };
    const filters: Filter[] = [
      { repo: someRepo },
      { branch: someBranch },
      { branch: 'main' },
      { agent: 'codex' },
      { model: someModel },
      { status: 'failed' },
      { status: 'succeeded' },
      { outcome: 'merged_change' },
      { outcome: 'none' },
      { minCostUsd: Number(costs[Math.floor(costs.length / 2)]!.toFixed(4)) },
      middle,
      { from: middle.from },
      { to: middle.to },
      // a date alone is its midnight UTC; a time may leave out its seconds if it gives its offset
      { from: new Date(END - 2 * DAY).toISOString().slice(0, 10) },
      { to: `${new Date(END - DAY + 5 * 3_600_000).toISOString().slice(0, 16)}+02:00` },
      { repo: someRepo, status: 'succeeded' },
      { agent: 'claude-code', model: someModel },
      { repo: someRepo, ...middle, outcome: 'merged_change' },
      { repo: 'no/such-repo' },
    ];

    for (const filter of filters) {
      // Act
      const { ids } = await listAll(tenant.client, tenant.tenantId, { ...filter, limit: 4 });

      // Assess
      expect(ids, JSON.stringify(filter)).toEqual(matching(filter));
    }
    // the filters are not all trivially empty or full
    expect(matching({ status: 'failed' }).length).toBeGreaterThan(0);
    expect(matching(middle).length).toBeLessThan(dataset.runs.length);
  });

  it('rejects a range whose end is not after its start', async () => {
    const at = new Date(END).toISOString();
    expect(await codeOf(tenant.client.runs.list.query({ tenantId: tenant.tenantId, from: at, to: at }))).toBe('BAD_REQUEST');
  });
});

describe('cursors', () => {
  it('are refused when tampered with', async () => {
    // Prepare
    const { nextCursor } = await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 2 });
    const [body, mac] = nextCursor!.split('.');
    const decoded = JSON.parse(Buffer.from(body!, 'base64url').toString());
    decoded.p.byStart = '2999-01-01T00:00:00.000Z';
    const forged = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${mac}`;

    // Act & Assess
    expect(await codeOf(tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 2, cursor: forged }))).toBe('BAD_REQUEST');
    expect(await codeOf(tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 2, cursor: 'not-a-cursor' }))).toBe('BAD_REQUEST');
  });

  it('of one tenant cannot read another tenant, even for a consultant who may read both', async () => {
    // Prepare
    const other = await newTenant('runs-other');
    const { token } = await operator().admin.consultants.create.mutate({ name: 'two tenants', tenantIds: [tenant.tenantId, other.tenantId] });
    const consultant = api(token);
    const { nextCursor } = await consultant.runs.list.query({ tenantId: tenant.tenantId, limit: 2 });

    // Act
    const code = await codeOf(consultant.runs.list.query({ tenantId: other.tenantId, limit: 2, cursor: nextCursor! }));

    // Assess
    expect(code).toBe('BAD_REQUEST');
  });

  it('of one list cannot be replayed against another filter or another run', async () => {
    const { nextCursor } = await tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 2 });
    expect(await codeOf(tenant.client.runs.list.query({ tenantId: tenant.tenantId, limit: 2, status: 'failed', cursor: nextCursor! }))).toBe('BAD_REQUEST');

    const [a, b] = dataset.runs;
    const raw = await tenant.client.runs.raw.query({ tenantId: tenant.tenantId, runId: a!.runId, limit: 2 });
    expect(await codeOf(tenant.client.runs.raw.query({ tenantId: tenant.tenantId, runId: b!.runId, limit: 2, cursor: raw.nextCursor! }))).toBe('BAD_REQUEST');
  });
});

describe('runs.get, runs.byTrace and runs.raw', () => {
  it('runs.get gives the run and its steps in start order, with their parents', async () => {
    // Prepare
    const runId = dataset.runs.find((r) => r.status === 'failed')!.runId;

    // Act
    const { run, steps } = await tenant.client.runs.get.query({ tenantId: tenant.tenantId, runId });

    // Assess
    expect(run.runId).toBe(runId);
    expect(run.status).toBe('failed');
    expect(steps).toHaveLength(expected.get(runId)!.steps);
    const starts = steps.map((s) => Date.parse(s.startedAt));
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
    const ids = new Set(steps.map((s) => s.stepId));
    for (const s of steps) if (s.parentStepId) expect(ids.has(s.parentStepId)).toBe(true);
    expect(steps.some((s) => s.status === 'error' && s.error)).toBe(true);
  });

  it('runs.get answers NOT_FOUND for a run that does not exist', async () => {
    expect(await codeOf(tenant.client.runs.get.query({ tenantId: tenant.tenantId, runId: 'no-such-run' }))).toBe('NOT_FOUND');
  });

  it('runs.byTrace finds the run of a trace id, in any letter case', async () => {
    const traced = [...expected.values()].find((r) => r.traceId)!;
    const { items } = await tenant.client.runs.byTrace.query({ tenantId: tenant.tenantId, traceId: traced.traceId!.toUpperCase() });
    expect(items.map((r) => r.runId)).toEqual([traced.runId]);
  });

  it('runs.raw pages through every stored event of the run exactly once, as sent', async () => {
    // Prepare
    const runId = dataset.runs.find((r) => r.resend)?.runId ?? dataset.runs[0]!.runId;
    const sent = dataset.events.filter((e) => e.runId === runId);

    // Act
    const got: { source: string; event?: unknown }[] = [];
    let cursor: string | undefined;
    do {
      const page = await tenant.client.runs.raw.query({ tenantId: tenant.tenantId, runId, limit: 5, ...(cursor ? { cursor } : {}) });
      got.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    // Assess
    expect(got.every((i) => i.source === 'native')).toBe(true);
    const byId = (list: readonly unknown[]) => [...list].sort((x, y) => ((x as { id: string }).id < (y as { id: string }).id ? -1 : 1));
    expect(byId(got.map((i) => i.event))).toEqual(byId(sent));
  });

  it('runs.raw ends a page early when its events are large, so an answer stays within what Lambda can return', async () => {
    // Prepare: eight steps whose inputs are a megabyte each, sent two requests of four
    const t = await newTenant('raw-large');
    const step = (n: number) => ({ type: 'step', id: `big-${n}`, runId: 'large', stepId: `s${n}`, kind: 'llm', name: 'chat', startedAt: new Date(END - DAY).toISOString(), input: `${n}`.padEnd(1_000_000, 'x') });
    for (const part of [[0, 1, 2, 3], [4, 5, 6, 7]]) expect((await ingest(t.key, part.map(step))).status).toBe(200);

    // Act
    const pages: { ids: string[]; bytes: number }[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.client.runs.raw.query({ tenantId: t.tenantId, runId: 'large', limit: 500, ...(cursor ? { cursor } : {}) });
      pages.push({ ids: page.items.map((i) => (i.event as { id: string }).id), bytes: JSON.stringify(page).length });
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    // Assess: several pages, each under 5 MB, every event once
    expect(pages.length).toBeGreaterThan(1);
    for (const p of pages) expect(p.bytes).toBeLessThan(5 * 1024 * 1024);
    expect(pages.flatMap((p) => p.ids).sort()).toEqual(Array.from({ length: 8 }, (_, n) => `big-${n}`));
  });
});
