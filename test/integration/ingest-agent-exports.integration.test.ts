import { describe, expect, it } from 'vitest';
import { findPrice } from '../../shared/pricing/price.ts';
import { newTenant, settled, stackInfo } from '../helpers/stack.ts';
import { claudeCodeExport, codexExport, geminiExport, type AgentSession, type LlmCall } from '../fixtures/agent-exports.ts';

/**
 * Exports of the three coding agents, shaped as they send them, give runs whose tokens and costs equal
 * the sums this test computes itself from what it sent: Claude Code's own `cost_usd`, and for Codex and
 * Gemini the price table applied to the tokens as CONTRACT.md says to count them.
 */

async function postLogs(key: string, body: unknown) {
  const res = await fetch(`${stackInfo().url}/v1/logs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
}

/** A deterministic stream of "random" counts, so a failure reproduces. */
function counts(seed: number) {
  let x = seed;
  return (lo: number, hi: number) => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return lo + (x % (hi - lo + 1));
  };
}

function session(id: string, models: string[], seed: number, t0: number, opts: { cost?: boolean; cacheWrite?: boolean }): AgentSession {
  const next = counts(seed);
  const llm: LlmCall[] = [];
  for (let i = 0; i < 12; i++) {
    const cacheRead = next(0, 40_000);
    const ownInput = next(1, 5_000);
    llm.push({
      at: t0 + 60_000 * (i + 1),
      model: models[i % models.length]!,
      // Codex and Gemini count the cached tokens inside their input figure; Claude Code does not
      input: opts.cost ? ownInput : ownInput + cacheRead,
      output: next(10, 4_000),
      cacheRead,
      cacheWrite: opts.cacheWrite ? next(0, 3_000) : undefined,
      reasoning: opts.cost ? undefined : next(0, 2_000),
      costUsd: opts.cost ? next(1, 90_000) / 1e6 : undefined,
      durationMs: next(300, 20_000),
    });
  }
  const tools = Array.from({ length: 8 }, (_, i) => ({
    at: t0 + 60_000 * (i + 1) + 30_000,
    tool: ['Bash', 'Read', 'Edit', 'Grep'][i % 4]!,
    success: i % 3 !== 2,
    durationMs: next(5, 3_000),
    error: i % 3 === 2 ? 'command failed with exit code 1' : undefined,
  }));
  return { id, llm, tools, apiErrors: [t0 + 45_000] };
}

interface Expected {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
}

function priced(c: LlmCall, tokens: { input: number; output: number; cacheRead: number }): number {
  const p = findPrice(c.model, c.at - c.durationMs);
  if (!p) throw new Error(`the price table has no ${c.model}`);
  return (tokens.input * p.input + tokens.output * p.output + tokens.cacheRead * p.cacheRead) / 1e6;
}

function expectedFor(agent: 'claude' | 'codex' | 'gemini', s: AgentSession): Expected {
  const sum = (f: (c: LlmCall) => number) => s.llm.reduce((a, c) => a + f(c), 0);
  const failedTools = s.tools.filter((t) => !t.success).length;
  const common = { llmCalls: s.llm.length, toolCalls: s.tools.length, cacheReadTokens: sum((c) => c.cacheRead) };
  switch (agent) {
    case 'claude':
      return {
        ...common,
        inputTokens: sum((c) => c.input),
        outputTokens: sum((c) => c.output),
        cacheWriteTokens: sum((c) => c.cacheWrite ?? 0),
        costUsd: sum((c) => c.costUsd!),
        errors: failedTools + s.apiErrors.length,
      };
    case 'codex':
      // input_token_count includes the cached tokens; output_token_count already includes reasoning
      return {
        ...common,
        inputTokens: sum((c) => c.input - c.cacheRead),
        outputTokens: sum((c) => c.output),
        cacheWriteTokens: 0,
        costUsd: sum((c) => priced(c, { input: c.input - c.cacheRead, output: c.output, cacheRead: c.cacheRead })),
        errors: failedTools,
      };
    case 'gemini':
      // input_token_count includes the cached content; thoughts are billed as output on top of the candidates
      return {
        ...common,
        inputTokens: sum((c) => c.input - c.cacheRead),
        outputTokens: sum((c) => c.output + (c.reasoning ?? 0)),
        cacheWriteTokens: 0,
        costUsd: sum((c) => priced(c, { input: c.input - c.cacheRead, output: c.output + (c.reasoning ?? 0), cacheRead: c.cacheRead })),
        errors: failedTools + s.apiErrors.length,
      };
  }
}

const EXPORTS = {
  claude: { build: claudeCodeExport, agent: 'claude-code', models: ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001'], cost: true, cacheWrite: true },
  codex: { build: codexExport, agent: 'codex_cli_rs', models: ['gpt-5-codex', 'gpt-5.1-codex'], cost: false, cacheWrite: false },
  gemini: { build: geminiExport, agent: 'gemini-cli', models: ['gemini-2.5-pro', 'gemini-2.5-flash'], cost: false, cacheWrite: false },
} as const;

const rollupRange = () => ({ from: new Date(Date.now() - 2 * 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() });

describe('coding-agent log exports → runs with the sums the agents reported', () => {
  for (const [name, x] of Object.entries(EXPORTS) as [keyof typeof EXPORTS, (typeof EXPORTS)[keyof typeof EXPORTS]][]) {
    it(`${name}: the run's tokens, cost, calls and errors equal the sums of the export`, async () => {
      // Prepare
      const t = await newTenant(`agent-${name}`);
      const t0 = Date.now() - 30 * 60_000;
      const s = session(`${name}-session-1`, [...x.models], name.length * 7919, t0, { cost: x.cost, cacheWrite: x.cacheWrite });
      const want = expectedFor(name, s);

      // Act
      const res = await postLogs(t.key, x.build(s));

      // Assess: an empty ExportLogsServiceResponse, in JSON
      expect(res).toEqual({ status: 200, contentType: 'application/json', body: {} });
      const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: s.id });
      const { costUsd, ...counters } = want;
      expect(run).toMatchObject({ ...counters, runId: s.id, agent: x.agent, status: 'running', unpricedTokens: 0, models: [...x.models].sort() });
      expect(run.costUsd).toBeCloseTo(costUsd, 8);
      expect(steps.filter((st) => st.kind === 'llm')).toHaveLength(s.llm.length);
      expect(steps.filter((st) => st.kind === 'tool' && st.status === 'error').map((st) => st.error)).toEqual(
        s.tools.filter((tool) => !tool.success).map(() => 'command failed with exit code 1'),
      );
      await settled();
      const rollup = await t.client.costs.rollup.query({ tenantId: t.tenantId, ...rollupRange(), groupBy: 'agent' });
      expect(rollup.rows.map((r) => r.key)).toEqual([x.agent]);
      expect(rollup.totals).toMatchObject({ ...counters, runs: 1 });
      expect(rollup.totals.costUsd).toBeCloseTo(costUsd, 8);
    });
  }

  it('three agents in one tenant: rollups by agent and by model add up to what each export carried', async () => {
    // Prepare
    const t = await newTenant('agent-mix');
    const t0 = Date.now() - 40 * 60_000;
    const sessions = (Object.keys(EXPORTS) as (keyof typeof EXPORTS)[]).map((name, i) => {
      const x = EXPORTS[name];
      const s = session(`mix-${name}`, [...x.models], 1_000 + i, t0, { cost: x.cost, cacheWrite: x.cacheWrite });
      return { name, x, s, want: expectedFor(name, s) };
    });

    // Act
    const answers = await Promise.all(sessions.map(({ x, s }) => postLogs(t.key, x.build(s))));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    await settled();
    const byAgent = await t.client.costs.rollup.query({ tenantId: t.tenantId, ...rollupRange(), groupBy: 'agent' });
    for (const { x, want } of sessions) {
      const row = byAgent.rows.find((r) => r.key === x.agent);
      expect(row).toMatchObject({ runs: 1, inputTokens: want.inputTokens, outputTokens: want.outputTokens, llmCalls: want.llmCalls, errors: want.errors });
      expect(row!.costUsd).toBeCloseTo(want.costUsd, 8);
    }
    const total = sessions.reduce((a, { want }) => a + want.costUsd, 0);
    expect(byAgent.totals.runs).toBe(3);
    expect(byAgent.totals.costUsd).toBeCloseTo(total, 8);

    // a model row holds the cost and tokens of that model's steps only
    const byModel = await t.client.costs.rollup.query({ tenantId: t.tenantId, ...rollupRange(), groupBy: 'model' });
    for (const { name, s } of sessions) {
      for (const model of new Set(s.llm.map((c) => c.model))) {
        const calls = s.llm.filter((c) => c.model === model);
        const want = expectedFor(name, { ...s, llm: calls, tools: [], apiErrors: [] });
        const row = byModel.rows.find((r) => r.key === model);
        expect(row, model).toMatchObject({ runs: 1, llmCalls: calls.length, inputTokens: want.inputTokens, outputTokens: want.outputTokens, cacheReadTokens: want.cacheReadTokens });
        expect(row!.costUsd).toBeCloseTo(want.costUsd, 8);
      }
    }
    expect(byModel.totals.costUsd).toBeCloseTo(total, 8);
  });

  it('a Codex response without a priced model counts its tokens as unpriced, never as a guessed cost', async () => {
    // Prepare
    const t = await newTenant('agent-unpriced');
    const t0 = Date.now() - 10 * 60_000;
    const s = session('codex-unpriced', ['gpt-7-turbo-unreleased'], 42, t0, { cost: false, cacheWrite: false });
    const want = expectedFor('codex', { ...s, llm: s.llm.map((c) => ({ ...c, model: 'gpt-5-codex' })) });

    // Act
    const res = await postLogs(t.key, codexExport(s));

    // Assess
    expect(res.status).toBe(200);
    const { run } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: s.id });
    expect(run.costUsd).toBe(0);
    expect(run.unpricedTokens).toBe(want.inputTokens + want.outputTokens + want.cacheReadTokens);
  });
});
