import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../shared/api/router.ts';
import { flag, nonNegative, oneOf, positiveInt, str, time, toIso, type Parsed } from '../args.ts';
import { UsageError } from '../errors.ts';
import { count, duration, fields, money, orDash, table, treeOrder, truncate, utc, type Column } from '../format.ts';
import type { Command, Context } from '../context.ts';

/** `lidless runs list | show | trace`. */
type Outputs = inferRouterOutputs<AppRouter>;
type Run = Outputs['runs']['list']['items'][number];
type Step = Outputs['runs']['get']['steps'][number];

const STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
const OUTCOMES = ['merged_change', 'green_build', 'fixed_incident', 'rejected', 'none'] as const;
const MAX_LIMIT = 500;

const runColumns: Column[] = [
  { header: 'STARTED (UTC)' },
  { header: 'RUN' },
  { header: 'STATUS' },
  { header: 'OUTCOME' },
  { header: 'REPO' },
  { header: 'BRANCH' },
  { header: 'AGENT' },
  { header: 'DURATION', align: 'right' },
  { header: 'TOKENS', align: 'right' },
  { header: 'COST', align: 'right' },
];

const tokensOf = (r: { inputTokens?: number; outputTokens?: number; cacheReadTokens?: number; cacheWriteTokens?: number }) =>
  (r.inputTokens ?? 0) + (r.outputTokens ?? 0) + (r.cacheReadTokens ?? 0) + (r.cacheWriteTokens ?? 0);

export function runsTable(items: readonly Run[]): string {
  return table(
    runColumns,
    items.map((r) => [
      utc(r.startedAt),
      r.runId,
      r.status,
      orDash(r.outcome),
      orDash(r.repo),
      orDash(r.branch),
      orDash(r.agent),
      duration(r.durationMs),
      count(tokensOf(r)),
      money(r.costUsd),
    ]),
  );
}

const listUsage = `usage: lidless runs list [filters] [--limit <n>] [--cursor <c> | --all] [--tenant <id>] [--json]

Lists runs, newest first.

  --from <time>        runs started at or after (ISO-8601 time or UTC date YYYY-MM-DD)
  --to <time>          runs started before (a date includes that whole day)
  --repo <name>        --branch <name>      --agent <name>       --model <name>
  --status <s>         running, succeeded, failed or cancelled
  --outcome <o>        merged_change, green_build, fixed_incident, rejected or none
  --min-cost <usd>     runs that cost at least this many dollars
  --limit <n>          runs per page, 1 to ${MAX_LIMIT} (default 50)
  --cursor <c>         the next page, as printed after the previous one
  --all                follow every page
  --tenant <id>        the tenant (default LIDLESS_TENANT, or the only tenant the token reads)`;

export const runsList: Command = {
  path: ['runs', 'list'],
  summary: 'list runs (filters as flags)',
  usage: listUsage,
  options: {
    tenant: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    repo: { type: 'string' },
    branch: { type: 'string' },
    agent: { type: 'string' },
    model: { type: 'string' },
    status: { type: 'string' },
    outcome: { type: 'string' },
    'min-cost': { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    all: { type: 'boolean' },
  },
  async run(ctx: Context, args: Parsed) {
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, listUsage);
    if (flag(args, 'all') && str(args, 'cursor')) throw new UsageError('--all and --cursor do not go together', listUsage);
    const from = time(args, 'from', listUsage, 'from');
    const to = time(args, 'to', listUsage, 'to');
    const status = oneOf(args, 'status', STATUSES, listUsage);
    const outcome = oneOf(args, 'outcome', OUTCOMES, listUsage);
    const minCostUsd = nonNegative(args, 'min-cost', listUsage);
    const limit = positiveInt(args, 'limit', listUsage, MAX_LIMIT);
    const tenantId = await ctx.tenant(str(args, 'tenant'));
    const input = {
      tenantId,
      ...(from !== undefined ? { from: toIso(from) } : {}),
      ...(to !== undefined ? { to: toIso(to) } : {}),
      ...Object.fromEntries((['repo', 'branch', 'agent', 'model'] as const).flatMap((k) => (str(args, k) !== undefined ? [[k, str(args, k)!]] : []))),
      ...(status ? { status } : {}),
      ...(outcome ? { outcome } : {}),
      ...(minCostUsd !== undefined ? { minCostUsd } : {}),
      ...(limit ? { limit } : {}),
    };
    let page = await ctx.client.runs.list.query({ ...input, ...(str(args, 'cursor') ? { cursor: str(args, 'cursor') } : {}) });
    const items = [...page.items];
    while (flag(args, 'all') && page.nextCursor) {
      page = await ctx.client.runs.list.query({ ...input, cursor: page.nextCursor });
      items.push(...page.items);
    }
    const result = { items, nextCursor: page.nextCursor };
    ctx.print(() => {
      if (items.length === 0) return 'no runs match';
      const summary = `${items.length} run${items.length === 1 ? '' : 's'}, ${money(items.reduce((s, r) => s + r.costUsd, 0))}`;
      const more = result.nextCursor ? `\nmore runs: add --all, or --cursor ${result.nextCursor}` : '';
      return `${runsTable(items)}\n${summary}${more}`;
    }, result);
  },
};

function runHeader(run: Run): string {
  const title = `run ${run.runId}  ${run.status}${run.outcome ? `  outcome ${run.outcome}` : ''}`;
  return `${title}\n${fields([
    ['repo', run.repo && `${run.repo}${run.branch ? ` (${run.branch}${run.commit ? ` @ ${run.commit.slice(0, 12)}` : ''})` : ''}`],
    ['agent', run.agent],
    ['models', run.models.join(', ')],
    ['trace', run.traceId],
    ['started', `${utc(run.startedAt)} UTC`],
    ['ended', run.endedAt && `${utc(run.endedAt)} UTC (${duration(run.durationMs)})`],
    [
      'tokens',
      `in ${count(run.inputTokens)}  out ${count(run.outputTokens)}  cache read ${count(run.cacheReadTokens)}  cache write ${count(run.cacheWriteTokens)}` +
        (run.unpricedTokens ? `  (unpriced ${count(run.unpricedTokens)})` : ''),
    ],
    ['cost', `${money(run.costUsd)}  llm calls ${count(run.llmCalls)}  tool calls ${count(run.toolCalls)}  errors ${count(run.errors)}`],
    ['redactions', run.redactions ? count(run.redactions) : undefined],
  ])}`;
}

const stepColumns: Column[] = [
  { header: 'STEP' },
  { header: 'KIND' },
  { header: 'MODEL' },
  { header: 'STATUS' },
  { header: 'DURATION', align: 'right' },
  { header: 'IN', align: 'right' },
  { header: 'OUT', align: 'right' },
  { header: 'CACHE', align: 'right' },
  { header: 'COST', align: 'right' },
  { header: 'ERROR' },
];

/** The timeline as an indented tree by parent step. */
export function stepTree(steps: readonly Step[]): string {
  const ordered = treeOrder(steps.map((s) => ({ ...s, id: s.stepId, parentId: s.parentStepId })));
  const cache = (s: Step) => (s.cacheReadTokens === undefined && s.cacheWriteTokens === undefined ? undefined : (s.cacheReadTokens ?? 0) + (s.cacheWriteTokens ?? 0));
  return table(
    stepColumns,
    ordered.map(({ node: s, prefix }) => [
      `${prefix}${truncate(s.name, 48)}`,
      s.kind,
      orDash(s.model),
      s.status,
      duration(s.durationMs),
      count(s.inputTokens),
      count(s.outputTokens),
      count(cache(s)),
      money(s.costUsd),
      s.error ? truncate(s.error, 60) : '',
    ]),
  );
}

const showUsage = `usage: lidless runs show <runId> [--tenant <id>] [--json]

Shows a run: its fields, then its steps as a tree (kind, model, duration, tokens, cost).

  --tenant <id>   the tenant (default LIDLESS_TENANT, or the only tenant the token reads)`;

export const runsShow: Command = {
  path: ['runs', 'show'],
  summary: 'show a run and its step timeline',
  usage: showUsage,
  options: { tenant: { type: 'string' } },
  async run(ctx: Context, args: Parsed) {
    const [runId, extra] = args.positionals;
    if (!runId || extra) throw new UsageError(runId ? `unexpected argument "${extra}"` : 'give the run id', showUsage);
    const tenantId = await ctx.tenant(str(args, 'tenant'));
    const result = await ctx.client.runs.get.query({ tenantId, runId });
    ctx.print(() => `${runHeader(result.run)}\n\n${result.steps.length ? stepTree(result.steps) : 'no steps'}`, result);
  },
};

const traceUsage = `usage: lidless runs trace <traceId> [--tenant <id>] [--json]

Lists the runs of a trace.`;

export const runsTrace: Command = {
  path: ['runs', 'trace'],
  summary: 'list the runs of a trace',
  usage: traceUsage,
  options: { tenant: { type: 'string' } },
  async run(ctx: Context, args: Parsed) {
    const [traceId, extra] = args.positionals;
    if (!traceId || extra) throw new UsageError(traceId ? `unexpected argument "${extra}"` : 'give the trace id', traceUsage);
    const tenantId = await ctx.tenant(str(args, 'tenant'));
    const result = await ctx.client.runs.byTrace.query({ tenantId, traceId });
    ctx.print(() => (result.items.length ? runsTable(result.items) : `no runs of trace ${traceId}`), result);
  },
};
