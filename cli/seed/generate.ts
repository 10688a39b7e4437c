import { priceStep } from '../../shared/pricing/price.ts';
import { Random } from './random.ts';
import type { NativeEvent, RunEvent, StepEvent } from './events.ts';

/**
 * A realistic, deterministic dataset of coding-agent runs as native events: several repos, branches,
 * agents and priced models; useful and useless outcomes; failing runs with error steps and error logs;
 * provider errors retried inside a run, failed runs retried as new runs, and batches the client sends
 * twice. Used by `lidless seed`, the tests and the benchmark.
 */
export interface DatasetOptions {
  /** the same seed, end and sizes give the same dataset, event ids included (default 1) */
  seed?: number;
  /** days of history ending at `end` (default 7) */
  days?: number;
  /** number of runs (default 200) */
  runs?: number;
  /** epoch ms at which the dataset ends, exclusive (default: the start of the current UTC hour) */
  end?: number;
  /** prefix of run and event ids (default `seed<seed>`) */
  prefix?: string;
}

export type SeedOutcome = NonNullable<RunEvent['outcome']>;

export interface SeedRun {
  runId: string;
  agent: string;
  repo: string;
  branch?: string;
  status: 'running' | 'succeeded' | 'failed';
  outcome?: SeedOutcome;
  startedAt: string;
  /** the client sends the batch holding this run twice, as after a lost response */
  resend: boolean;
  /** the failed run this run retries */
  retryOf?: string;
}

export interface Dataset {
  /** every event once, grouped by run in the order of `runs` */
  events: NativeEvent[];
  runs: SeedRun[];
}

interface AgentProfile {
  name: string;
  provider: string;
  models: readonly (readonly [string, number])[];
  /** Claude Code reports its own cost; the others leave pricing to Lidless */
  sendsCost: boolean;
  /** agents exporting traces carry a trace id */
  traced: boolean;
  /** whether the provider reports cache writes */
  cacheWrites: boolean;
}

const AGENTS: readonly (readonly [AgentProfile, number])[] = [
  [{ name: 'claude-code', provider: 'anthropic', models: [['claude-sonnet-4-5', 6], ['claude-haiku-4-5', 3], ['claude-opus-4-1', 1]], sendsCost: true, traced: false, cacheWrites: true }, 5],
  [{ name: 'codex', provider: 'openai', models: [['gpt-5-codex', 6], ['gpt-5-mini', 3]], sendsCost: false, traced: true, cacheWrites: false }, 3],
  [{ name: 'gemini-cli', provider: 'google', models: [['gemini-2.5-pro', 5], ['gemini-2.5-flash', 5]], sendsCost: false, traced: true, cacheWrites: false }, 2],
];

const REPOS: readonly (readonly [{ name: string; test: string; lint?: string }, number])[] = [
  [{ name: 'acme/web', test: 'npm test', lint: 'eslint .' }, 4],
  [{ name: 'acme/api', test: 'go test ./...', lint: 'golangci-lint run' }, 3],
  [{ name: 'acme/billing', test: 'pytest -q', lint: 'ruff check' }, 2],
  [{ name: 'acme/infra', test: 'terraform validate' }, 1],
];

const TOPICS = ['checkout-flow', 'rate-limits', 'search-index', 'auth-refresh', 'flaky-tests', 'pdf-export', 'webhooks', 'n-plus-one'];
const TOOLS = ['read_file', 'edit_file', 'bash', 'grep', 'list_dir', 'apply_patch'];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();

type Fate = 'ok' | 'tests-fail' | 'tool-fail' | 'llm-fail';

interface Plan {
  runId: string;
  agent: AgentProfile;
  repo: (typeof REPOS)[number][0];
  branch?: string;
  task: string;
  start: number;
  fate: Fate;
  resend: boolean;
  retryOf?: string;
}

/** Builds one run's events on a moving clock. */
class RunBuilder {
  readonly events: NativeEvent[] = [];
  private seq = 0;
  private steps = 0;
  t: number;

  constructor(readonly runId: string, start: number) {
    this.t = start;
  }

  nextId(): string {
    return `${this.runId}.${++this.seq}`;
  }

  step(fields: Omit<StepEvent, 'type' | 'id' | 'runId' | 'stepId' | 'startedAt' | 'endedAt'>, durationMs: number, gapMs = 0): StepEvent {
    const startedAt = this.t + gapMs;
    const ev: StepEvent = {
      type: 'step',
      id: this.nextId(),
      runId: this.runId,
      stepId: `s${++this.steps}`,
      ...fields,
      startedAt: iso(startedAt),
      endedAt: iso(startedAt + durationMs),
    };
    this.t = startedAt + durationMs;
    this.events.push(ev);
    return ev;
  }

  log(level: 'info' | 'warn' | 'error', message: string, stepId?: string): void {
    this.events.push({ type: 'log', id: this.nextId(), runId: this.runId, timestamp: iso(this.t), level, message, ...(stepId ? { stepId } : {}) });
  }

  assertion(name: string, passed: boolean, stepId: string, message?: string): void {
    this.events.push({ type: 'assertion', id: this.nextId(), runId: this.runId, timestamp: iso(this.t), name, passed, stepId, ...(message ? { message } : {}) });
  }
}

function llmStep(rng: Random, b: RunBuilder, agent: AgentProfile, parent: string, turn: number, failure?: string): StepEvent {
  const model = rng.weighted(agent.models);
  const usage = {
    inputTokens: rng.int(600, 9000),
    outputTokens: rng.int(120, 3200),
    // the context grows turn by turn and is mostly served from the provider's cache
    cacheReadTokens: turn === 0 ? 0 : rng.int(4000, 12_000) * turn,
    ...(agent.cacheWrites ? { cacheWriteTokens: turn === 0 ? rng.int(2000, 9000) : rng.int(0, 1500) } : {}),
  };
  const startedAt = b.t + rng.int(50, 800);
  const fields: Omit<StepEvent, 'type' | 'id' | 'runId' | 'stepId' | 'startedAt' | 'endedAt'> = {
    parentStepId: parent,
    kind: 'llm',
    name: 'chat',
    model,
    provider: agent.provider,
    status: failure ? 'error' : 'ok',
    ...(failure ? { error: failure, usage: { inputTokens: usage.inputTokens } } : { usage }),
  };
  if (agent.sendsCost) {
    const cost = priceStep({ model, usage: fields.usage, at: startedAt }).costUsd;
    if (cost !== undefined) fields.costUsd = Math.round(cost * 1e6) / 1e6;
  }
  return b.step(fields, failure ? rng.int(300, 3000) : rng.int(2000, 40_000), startedAt - b.t);
}

function generateRun(rng: Random, plan: Plan, end: number): { run: SeedRun; events: NativeEvent[]; endMs: number } {
  const b = new RunBuilder(plan.runId, plan.start);
  const { agent, repo, fate } = plan;
  const root = b.step({ kind: 'agent', name: `${agent.name} session`, attributes: { task: plan.task } }, 0);
  b.log('info', `task: ${plan.task}`, root.stepId);

  let failed = false;
  const turns = rng.int(2, 4);
  const failTurn = rng.int(0, turns - 1);
  for (let turn = 0; turn < turns && !failed; turn++) {
    if (turn === 1 && rng.chance(0.12)) {
      // a provider error retried by the agent: the failed call, a backoff, the call again
      const overloaded = llmStep(rng, b, agent, root.stepId, turn, 'overloaded_error: the provider is overloaded (529)');
      b.log('warn', 'model call failed, retrying', overloaded.stepId);
      b.step({ parentStepId: root.stepId, kind: 'retry', name: 'backoff', attributes: { attempt: 2 } }, rng.int(1000, 8000));
    }
    if (fate === 'llm-fail' && turn === failTurn) {
      const call = llmStep(rng, b, agent, root.stepId, turn, 'invalid_request_error: prompt is too long for the context window');
      b.log('error', 'model call failed: prompt is too long', call.stepId);
      failed = true;
      break;
    }
    const call = llmStep(rng, b, agent, root.stepId, turn);
    const tools = rng.int(1, 2);
    for (let i = 0; i < tools; i++) {
      const toolFails = fate === 'tool-fail' && turn === failTurn && i === tools - 1;
      const tool = b.step(
        {
          parentStepId: call.stepId,
          kind: 'tool',
          name: rng.pick(TOOLS),
          status: toolFails ? 'error' : 'ok',
          ...(toolFails ? { error: 'command exited with code 1: permission denied' } : {}),
        },
        rng.int(80, 9000),
        rng.int(10, 300),
      );
      if (toolFails) {
        b.log('error', `tool ${tool.name} failed; giving up`, tool.stepId);
        failed = true;
        break;
      }
    }
  }

  if (!failed) {
    const testsFail = fate === 'tests-fail';
    const test = b.step(
      {
        parentStepId: root.stepId,
        kind: 'test',
        name: repo.test,
        status: testsFail ? 'error' : 'ok',
        ...(testsFail ? { error: `${rng.int(1, 6)} tests failed` } : {}),
      },
      rng.int(15_000, 180_000),
      rng.int(100, 2000),
    );
    const cases = rng.int(1, 3);
    for (let i = 0; i < cases; i++) b.assertion(`${plan.task} case ${i + 1}`, !(testsFail && i === 0), test.stepId, testsFail && i === 0 ? 'expected 200, got 500' : undefined);
    if (testsFail) {
      b.log('error', `${repo.test} failed`, test.stepId);
      failed = true;
    } else if (repo.lint && rng.chance(0.6)) {
      b.step({ parentStepId: root.stepId, kind: 'lint', name: repo.lint }, rng.int(2000, 20_000), rng.int(50, 500));
    }
  }

  const outcome: SeedOutcome | undefined = failed
    ? rng.weighted<SeedOutcome | undefined>([['none', 6], ['rejected', 3], [undefined, 1]])
    : rng.weighted<SeedOutcome | undefined>([['merged_change', 45], ['green_build', 20], ['fixed_incident', 7], ['none', 18], ['rejected', 8], [undefined, 2]]);
  if (!failed && (outcome === 'merged_change' || outcome === 'green_build')) {
    b.step({ parentStepId: root.stepId, kind: 'ci', name: 'github-actions: build', attributes: { provider: 'github' } }, rng.int(90_000, 600_000), rng.int(5000, 60_000));
  }
  // the session step stays ok: the failing step and the run's status tell the failure, counted once
  const runEnd = b.t + rng.int(100, 2000);
  root.endedAt = iso(runEnd);

  const commit = rng.hex(40);
  const traceId = agent.traced ? rng.hex(32) : undefined;
  const fields = {
    agent: agent.name,
    repo: repo.name,
    ...(plan.branch ? { branch: plan.branch } : {}),
    commit,
    ...(traceId ? { traceId } : {}),
    attributes: { task: plan.task, ...(plan.retryOf ? { retryOf: plan.retryOf } : {}) },
  };

  let events = b.events;
  let status: SeedRun['status'] = failed ? 'failed' : 'succeeded';
  let runEvent: RunEvent;
  if (runEnd >= end) {
    // still in progress when the dataset ends: only what had happened by then, and no end
    status = 'running';
    events = events.filter((e) => (e.type === 'step' ? (e === root || Date.parse(e.endedAt!) < end) : Date.parse(e.timestamp) < end));
    delete root.endedAt;
    const latest = Math.max(...events.map((e) => (e.type === 'step' ? Date.parse(e.endedAt ?? e.startedAt) : Date.parse(e.timestamp))));
    runEvent = { type: 'run', id: b.nextId(), runId: plan.runId, timestamp: iso(latest), ...fields, status, startedAt: iso(plan.start) };
  } else {
    runEvent = {
      type: 'run',
      id: b.nextId(),
      runId: plan.runId,
      timestamp: iso(runEnd),
      ...fields,
      status,
      ...(outcome ? { outcome } : {}),
      startedAt: iso(plan.start),
      endedAt: iso(runEnd),
    };
  }
  events = [...events, runEvent];
  const run: SeedRun = {
    runId: plan.runId,
    agent: agent.name,
    repo: repo.name,
    ...(plan.branch ? { branch: plan.branch } : {}),
    status,
    ...(status !== 'running' && outcome ? { outcome } : {}),
    startedAt: iso(plan.start),
    resend: plan.resend,
    ...(plan.retryOf ? { retryOf: plan.retryOf } : {}),
  };
  return { run, events, endMs: runEnd };
}

/** A start time in [from, to), mostly in working hours (UTC). */
function startTime(rng: Random, from: number, to: number): number {
  let t = from + Math.floor(rng.next() * (to - from));
  for (let i = 0; i < 4 && !(new Date(t).getUTCHours() >= 7 && new Date(t).getUTCHours() < 20); i++) {
    t = from + Math.floor(rng.next() * (to - from));
  }
  return t;
}

export function generateDataset(opts: DatasetOptions = {}): Dataset {
  const seed = opts.seed ?? 1;
  const days = opts.days ?? 7;
  const count = opts.runs ?? 200;
  const end = opts.end ?? Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const prefix = opts.prefix ?? `seed${seed}`;
  if (!(days > 0) || !Number.isInteger(count) || count < 0) throw new RangeError('days must be > 0 and runs a non-negative integer');
  const rng = new Random(seed);
  const from = end - days * DAY;

  const usedIds = new Set<string>();
  const newRunId = () => {
    let id: string;
    do id = `${prefix}-${rng.hex(10)}`;
    while (usedIds.has(id));
    usedIds.add(id);
    return id;
  };

  const runs: SeedRun[] = [];
  const events: NativeEvent[] = [];
  const add = (plan: Plan) => {
    const generated = generateRun(rng, plan, end);
    runs.push(generated.run);
    events.push(...generated.events);
    return generated;
  };
  while (runs.length < count) {
    const agent = rng.weighted(AGENTS);
    const topic = rng.pick(TOPICS);
    // some agents run outside a branch checkout (the run then has no branch)
    const branch = rng.chance(0.06) ? undefined : rng.weighted([['main', 3], [`feature/${topic}`, 4], [`fix/${topic}`, 3]] as const);
    const plan: Plan = {
      runId: newRunId(),
      agent,
      repo: rng.weighted(REPOS),
      ...(branch ? { branch } : {}),
      task: `${rng.pick(['fix', 'add', 'refactor', 'speed up', 'test'])} ${topic}`,
      start: Math.min(startTime(rng, from, end), end - MINUTE),
      fate: rng.weighted<Fate>([['ok', 80], ['tests-fail', 11], ['tool-fail', 5], ['llm-fail', 4]]),
      resend: rng.chance(0.08),
    };
    const first = add(plan);
    // a failed run is often retried as a new run of the same task a little later
    const retryStart = first.endMs + rng.int(2, 20) * MINUTE;
    if (first.run.status === 'failed' && runs.length < count && retryStart < end - MINUTE && rng.chance(0.5)) {
      add({ ...plan, runId: newRunId(), start: retryStart, fate: rng.chance(0.75) ? 'ok' : 'tests-fail', resend: rng.chance(0.08), retryOf: plan.runId });
    }
  }
  return { events, runs };
}
