import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../shared/errors.ts';
import { ingestParsed, batchIdOf } from '../../shared/ingest/pipeline.ts';
import { parseNativeBatch } from '../../shared/formats/native.ts';
import { ControlTable } from '../../shared/store/control-table.ts';
import { codeOf, ingest, newTenant, settled, stackInfo } from '../helpers/stack.ts';
import { claudeCodeExport, type AgentSession } from '../fixtures/agent-exports.ts';
import { faultyStack, serviceError } from '../fixtures/in-process.ts';
import { decodeStatus, protobufLogs } from '../fixtures/otlp-protobuf.ts';
import { rawKeys, tenantItems } from '../fixtures/stored.ts';

/**
 * Exactly-once: a batch sent again, a batch whose index write failed and was retried, and many clients
 * writing to one run at once all end with the counts of one clean send. "Counts" are what a user reads:
 * every run of the tenant (`runs.get`) and every cost rollup.
 */
type Tenant = Awaited<ReturnType<typeof newTenant>>;

const DAY = 86_400_000;
const GROUP_BYS = ['day', 'model', 'repo', 'agent', 'outcome', 'branch'] as const;

/**
 * Everything a user would compare: the run list, each run with its steps (of the first `withSteps`
 * runs, to keep big batches quick), and every rollup grouping.
 */
async function snapshot(t: Tenant, runIds: readonly string[], withSteps = runIds.length) {
  const list = (await t.client.runs.list.query({ tenantId: t.tenantId, limit: 500 })).items.map(({ tenantId: _tenant, ...run }) => run);
  expect(list).toHaveLength(runIds.length);
  const runs = await Promise.all(
    runIds.slice(0, withSteps).map(async (runId) => {
      const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId });
      const { tenantId: _tenant, ...rest } = run;
      return { run: rest, steps };
    }),
  );
  const range = { from: new Date(Date.now() - 3 * DAY).toISOString(), to: new Date(Date.now() + DAY).toISOString() };
  await settled();
  const rollups = await Promise.all(GROUP_BYS.map((groupBy) => t.client.costs.rollup.query({ tenantId: t.tenantId, ...range, groupBy })));
  return { list, runs, rollups };
}

/** A realistic native batch: runs with fields and an outcome, priced and client-costed llm steps, tools, logs, assertions. */
function nativeBatch(runCount: number, t0: number, prefix = 'r') {
  const events: Record<string, unknown>[] = [];
  const models = ['claude-sonnet-4-5', 'gpt-4o', 'gemini-2.5-pro', 'some-private-model'];
  for (let r = 0; r < runCount; r++) {
    const runId = `${prefix}${r}`;
    const at = (s: number) => new Date(t0 + r * 1_000 + s * 1_000).toISOString();
    events.push({ type: 'run', id: `${runId}-run`, runId, timestamp: at(0), repo: `repo-${r % 3}`, branch: r % 2 ? 'main' : 'dev', agent: r % 2 ? 'claude-code' : 'codex', outcome: r % 4 === 0 ? 'merged_change' : 'none' });
    for (let s = 0; s < 4; s++) {
      events.push({
        type: 'step',
        id: `${runId}-llm-${s}`,
        runId,
        stepId: `llm-${s}`,
        kind: 'llm',
        name: 'chat',
        startedAt: at(s + 1),
        endedAt: at(s + 2),
        model: models[(r + s) % models.length],
        usage: { inputTokens: 1_000 + r * 10 + s, outputTokens: 200 + s, cacheReadTokens: 5_000, cacheWriteTokens: s * 100 },
        ...(s === 3 ? { costUsd: 0.0125 } : {}),
      });
    }
    events.push({ type: 'step', id: `${runId}-tool-0`, runId, stepId: 'tool-0', parentStepId: 'llm-0', kind: 'tool', name: 'bash', startedAt: at(2), endedAt: at(3), status: r % 3 ? 'ok' : 'error', error: r % 3 ? undefined : 'exit 1' });
    events.push({ type: 'log', id: `${runId}-log`, runId, timestamp: at(4), level: 'error', message: 'build failed' });
    events.push({ type: 'assertion', id: `${runId}-assert`, runId, timestamp: at(5), name: 'tests pass', passed: r % 2 === 0 });
    events.push({ type: 'run', id: `${runId}-end`, runId, timestamp: at(6), status: r % 5 ? 'succeeded' : 'failed', endedAt: at(6) });
  }
  return { events, runIds: Array.from({ length: runCount }, (_, r) => `${prefix}${r}`) };
}

/** The same batch ingested once into a fresh tenant: what every other send must equal. */
async function cleanSnapshot(events: unknown[], runIds: readonly string[], withSteps?: number) {
  const clean = await newTenant('clean');
  expect(await ingest(clean.key, events)).toMatchObject({ status: 200, body: { accepted: events.length, duplicates: 0, rejected: [] } });
  return snapshot(clean, runIds, withSteps);
}

describe('a batch sent again', () => {
  it('three sends of the same native batch give the counts of one, the later ones all duplicates', async () => {
    // Prepare
    const t0 = Date.now() - 20 * 60_000;
    const { events, runIds } = nativeBatch(5, t0);
    const expected = await cleanSnapshot(events, runIds);
    const t = await newTenant('thrice');

    // Act
    const answers = [await ingest(t.key, events), await ingest(t.key, events), await ingest(t.key, events)];

    // Assess
    expect(answers.map((a) => [a.status, a.body.accepted, a.body.duplicates])).toEqual([
      [200, events.length, 0],
      [200, 0, events.length],
      [200, 0, events.length],
    ]);
    expect(await snapshot(t, runIds)).toEqual(expected);
  });

  it('three sends of the same Claude Code export give the counts of one', async () => {
    // Prepare
    const t0 = Date.now() - 15 * 60_000;
    const s: AgentSession = {
      id: 'claude-thrice',
      llm: [1, 2, 3].map((i) => ({ at: t0 + i * 60_000, model: 'claude-sonnet-4-5', input: 100 * i, output: 50 * i, cacheRead: 1_000, cacheWrite: 10, costUsd: 0.001 * i, durationMs: 2_000 })),
      tools: [{ at: t0 + 90_000, tool: 'Bash', success: false, durationMs: 100, error: 'exit 1' }],
      apiErrors: [t0 + 100_000],
    };
    const body = JSON.stringify(claudeCodeExport(s));
    const post = (key: string) =>
      fetch(`${stackInfo().url}/v1/logs`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    const clean = await newTenant('clean-logs');
    expect((await post(clean.key)).status).toBe(200);
    const expected = await snapshot(clean, [s.id]);
    const t = await newTenant('thrice-logs');

    // Act
    const statuses = [(await post(t.key)).status, (await post(t.key)).status, (await post(t.key)).status];

    // Assess
    expect(statuses).toEqual([200, 200, 200]);
    expect(await snapshot(t, [s.id])).toEqual(expected);
    expect(expected.runs[0]!.run).toMatchObject({ llmCalls: 3, toolCalls: 1, errors: 2, costUsd: 0.006 });
  });

  it('the same batch sent by four clients at once is absorbed once', async () => {
    // Prepare
    const t0 = Date.now() - 25 * 60_000;
    const { events, runIds } = nativeBatch(3, t0);
    const expected = await cleanSnapshot(events, runIds);
    const t = await newTenant('racing-retries');

    // Act
    const answers = await Promise.all([1, 2, 3, 4].map(() => ingest(t.key, events)));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    // each event is accepted by exactly one of the clients; the others see it as a duplicate
    expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(events.length);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(3 * events.length);
    expect(await snapshot(t, runIds)).toEqual(expected);
  });
});

describe('a batch whose storage write fails', () => {
  it('answers 503 with Retry-After when the index write fails, and the retry converges to one clean send', async () => {
    // Prepare
    const t0 = Date.now() - 30 * 60_000;
    const { events, runIds } = nativeBatch(4, t0);
    const expected = await cleanSnapshot(events, runIds);
    const t = await newTenant('ddb-fault');
    const faulty = faultyStack({ dynamo: (command, nth) => (command === 'BatchExecuteStatementCommand' && nth === 1 ? serviceError('InternalServerError') : undefined) });
    const body = JSON.stringify({ events });

    // Act
    const failed = await faulty.post('/v1/ingest', t.key, body);
    const retried = await faulty.post('/v1/ingest', t.key, body);

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(JSON.parse(String(failed.body))).toEqual({ error: expect.stringMatching(/retry/i) });
    expect(faulty.calls.dynamo.get('BatchExecuteStatementCommand')).toBeGreaterThanOrEqual(2);
    expect(retried.statusCode).toBe(200);
    expect(JSON.parse(String(retried.body))).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
    expect(await snapshot(t, runIds)).toEqual(expected);
  });

  it('answers 503 with Retry-After before the function would be stopped when storage does not answer, and the retry converges', async () => {
    // Prepare: the index write never answers, the first time
    const t0 = Date.now() - 30 * 60_000;
    const { events, runIds } = nativeBatch(2, t0);
    const expected = await cleanSnapshot(events, runIds);
    const t = await newTenant('ddb-hang');
    const faulty = faultyStack({ dynamo: (command, nth) => (command === 'BatchExecuteStatementCommand' && nth === 1 ? 'hang' : undefined) });
    const body = JSON.stringify({ events });

    // Act
    const started = Date.now();
    const late = await faulty.post('/v1/ingest', t.key, body, {}, Date.now() + 500);
    const answeredIn = Date.now() - started;
    const retried = await faulty.post('/v1/ingest', t.key, body);

    // Assess
    expect(late.statusCode).toBe(503);
    expect(late.headers['retry-after']).toBe('1');
    expect(JSON.parse(String(late.body))).toEqual({ error: 'the request took too long to store; retry it' });
    expect(answeredIn).toBeLessThan(5_000);
    expect(retried.statusCode).toBe(200);
    expect(JSON.parse(String(retried.body))).toMatchObject({ accepted: events.length, duplicates: 0 });
    expect(await snapshot(t, runIds)).toEqual(expected);
  });

  it('a batch whose second index write fails is completed by the retry, the committed part counted once', async () => {
    // Prepare: enough runs (990 events) that the index write takes several calls of 25 statements
    const t0 = Date.now() - 35 * 60_000;
    const { events, runIds } = nativeBatch(110, t0, 'big');
    // every run of the list, and the timeline of runs from both transactions
    const withSteps = [...runIds.slice(0, 5), ...runIds.slice(-5)];
    const expected = await cleanSnapshot(events, withSteps.concat(runIds.filter((r) => !withSteps.includes(r))), withSteps.length);
    const t = await newTenant('ddb-fault-midway');
    const faulty = faultyStack({ dynamo: (command, nth) => (command === 'BatchExecuteStatementCommand' && nth === 2 ? serviceError('InternalServerError') : undefined) });
    const body = JSON.stringify({ events });

    // Act
    const failed = await faulty.post('/v1/ingest', t.key, body);
    const retried = await faulty.post('/v1/ingest', t.key, body);

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(faulty.calls.dynamo.get('BatchExecuteStatementCommand')).toBeGreaterThanOrEqual(3);
    const answer = JSON.parse(String(retried.body)) as { accepted: number; duplicates: number };
    expect(retried.statusCode).toBe(200);
    expect(answer.duplicates).toBeGreaterThan(0);
    expect(answer.accepted).toBeGreaterThan(0);
    expect(answer.accepted + answer.duplicates).toBe(events.length);
    expect(await snapshot(t, withSteps.concat(runIds.filter((r) => !withSteps.includes(r))), withSteps.length)).toEqual(expected);
  });

  it('ingestParsed throws UnavailableError when the index write fails, and applies the batch once on the retry', async () => {
    // Prepare
    const t0 = Date.now() - 40 * 60_000;
    const { events, runIds } = nativeBatch(2, t0, 'p');
    const expected = await cleanSnapshot(events, runIds);
    const t = await newTenant('pipeline-fault');
    const faulty = faultyStack({ dynamo: (command, nth) => (command === 'BatchExecuteStatementCommand' && nth === 1 ? serviceError('ServiceUnavailable') : undefined) });
    const tenant = (await new ControlTable(faulty.stores).getTenant(t.tenantId))!;
    const body = JSON.stringify({ events });
    const send = () => ingestParsed({ stores: faulty.stores, tenant, rules: [] }, parseNativeBatch(JSON.parse(body)), batchIdOf(t.tenantId, 'native', body));

    // Act
    const first = await send().catch((err: unknown) => err);
    const second = await send();
    const third = await send();

    // Assess
    expect(first).toBeInstanceOf(UnavailableError);
    expect(second).toMatchObject({ accepted: events.length, duplicates: 0, rejected: [] });
    expect(third).toMatchObject({ accepted: 0, duplicates: events.length });
    expect(await snapshot(t, runIds)).toEqual(expected);
  });

  it('answers 503 with Retry-After when the raw object cannot be written, and nothing is indexed', async () => {
    // Prepare
    const t0 = Date.now() - 45 * 60_000;
    const { events, runIds } = nativeBatch(2, t0, 's3');
    const t = await newTenant('s3-fault');
    const faulty = faultyStack({ s3: (command) => (command === 'PutObjectCommand' ? serviceError('InternalError') : undefined) });

    // Act
    const failed = await faulty.post('/v1/ingest', t.key, JSON.stringify({ events }));

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(JSON.parse(String(failed.body))).toEqual({ error: expect.stringMatching(/retry/i) });
    expect(faulty.calls.dynamo.get('BatchExecuteStatementCommand') ?? 0).toBe(0);
    for (const runId of runIds) expect(await codeOf(t.client.runs.get.query({ tenantId: t.tenantId, runId }))).toBe('NOT_FOUND');
    expect((await t.client.runs.list.query({ tenantId: t.tenantId })).items).toEqual([]);
    expect(await rawKeys(t.tenantId)).toEqual([]);
    expect(await tenantItems(t.tenantId)).toEqual([]);
  });

  it('answers an OTLP client 503 with Retry-After and an OTLP Status when storage fails', async () => {
    // Prepare
    const t = await newTenant('s3-fault-otlp');
    const faulty = faultyStack({ s3: (command) => (command === 'PutObjectCommand' ? serviceError('SlowDown') : undefined) });
    const s: AgentSession = { id: 'otlp-503', llm: [{ at: Date.now() - 60_000, model: 'claude-sonnet-4-5', input: 1, output: 1, cacheRead: 0, costUsd: 0.01, durationMs: 10 }], tools: [], apiErrors: [] };

    // Act
    const failed = await faulty.post('/v1/logs', t.key, JSON.stringify(claudeCodeExport(s)));

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(failed.headers['content-type']).toBe('application/json');
    expect(JSON.parse(String(failed.body))).toEqual({ code: 14, message: expect.stringMatching(/retry/i) });
    expect(await codeOf(t.client.runs.get.query({ tenantId: t.tenantId, runId: s.id }))).toBe('NOT_FOUND');
  });

  it('answers a protobuf OTLP client 503 with Retry-After and a protobuf Status, and its retry is stored', async () => {
    // Prepare
    const t = await newTenant('s3-fault-protobuf');
    const faulty = faultyStack({ s3: (command, nth) => (command === 'PutObjectCommand' && nth === 1 ? serviceError('ServiceUnavailable') : undefined) });
    const body = protobufLogs({ 'service.name': 'claude-code' }, [
      { timeMs: Date.now() - 60_000, body: 'claude_code.api_request', attributes: { 'event.name': 'api_request', 'session.id': 'proto-503', model: 'claude-sonnet-4-5', cost_usd: '0.02', input_tokens: '10' } },
    ]);
    const headers = { 'content-type': 'application/x-protobuf' };

    // Act
    const failed = await faulty.post('/v1/logs', t.key, body, headers);
    const retried = await faulty.post('/v1/logs', t.key, body, headers);

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(failed.headers).toMatchObject({ 'retry-after': '1', 'content-type': 'application/x-protobuf' });
    expect(decodeStatus(failed.body as Buffer)).toEqual({ code: 14, message: expect.stringMatching(/retry/i) });
    expect(retried.statusCode).toBe(200);
    expect((retried.body as Buffer).length).toBe(0);
    expect((await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'proto-503' })).run).toMatchObject({ llmCalls: 1, costUsd: 0.02, inputTokens: 10 });
  });
});

describe('concurrent clients writing to one run', () => {
  it('eight parallel requests of distinct events for one run give exact totals', async () => {
    // Prepare
    const t = await newTenant('concurrent');
    const t0 = Date.now() - 50 * 60_000;
    const runId = 'shared-run';
    const batches = Array.from({ length: 8 }, (_, c) =>
      Array.from({ length: 25 }, (_, i) => ({
        type: 'step',
        id: `c${c}-e${i}`,
        runId,
        stepId: `c${c}-s${i}`,
        kind: i % 5 === 4 ? 'tool' : 'llm',
        name: i % 5 === 4 ? 'bash' : 'chat',
        startedAt: t0 + c * 60_000 + i * 1_000,
        endedAt: t0 + c * 60_000 + i * 1_000 + 500,
        status: i % 10 === 9 ? 'error' : 'ok',
        ...(i % 5 === 4 ? {} : { model: 'claude-sonnet-4-5', usage: { inputTokens: 100 + c, outputTokens: 10 + i }, costUsd: (c + 1) * 0.001 }),
      })),
    );
    const steps = batches.flat();
    const llm = steps.filter((e) => e.kind === 'llm') as { usage: { inputTokens: number; outputTokens: number }; costUsd: number }[];

    // Act
    const answers = await Promise.all(batches.map((events) => ingest(t.key, events)));

    // Assess
    expect(answers.map((a) => [a.status, a.body.accepted])).toEqual(batches.map((b) => [200, b.length]));
    const { run, steps: stored } = await t.client.runs.get.query({ tenantId: t.tenantId, runId });
    const want = {
      inputTokens: llm.reduce((n, e) => n + e.usage.inputTokens, 0),
      outputTokens: llm.reduce((n, e) => n + e.usage.outputTokens, 0),
      llmCalls: llm.length,
      toolCalls: steps.length - llm.length,
      errors: steps.filter((e) => e.status === 'error').length,
    };
    const cost = llm.reduce((n, e) => n + e.costUsd, 0);
    expect(run).toMatchObject(want);
    expect(run.costUsd).toBeCloseTo(cost, 9);
    expect(stored).toHaveLength(steps.length);
    const range = { from: new Date(t0 - DAY).toISOString(), to: new Date(Date.now() + DAY).toISOString() };
    await settled();
    const rollup = await t.client.costs.rollup.query({ tenantId: t.tenantId, ...range, groupBy: 'day' });
    expect(rollup.totals).toMatchObject({ ...want, runs: 1 });
    expect(rollup.totals.costUsd).toBeCloseTo(cost, 9);
  });
});
