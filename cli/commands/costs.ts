import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../shared/api/router.ts';
import { oneOf, str, time, toIso, type Parsed } from '../args.ts';
import { UsageError } from '../errors.ts';
import { count, duration, money, table, type Column } from '../format.ts';
import type { Command, Context } from '../context.ts';

/** `lidless costs`: the cost rollup as a table with totals and the cost per useful outcome. */
type Rollup = inferRouterOutputs<AppRouter>['costs']['rollup'];
type Totals = Rollup['totals'];

const GROUP_BYS = ['day', 'model', 'repo', 'agent', 'outcome', 'branch'] as const;
const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 7;

const columns: Column[] = [
  { header: 'KEY' },
  { header: 'RUNS', align: 'right' },
  { header: 'COST', align: 'right' },
  { header: 'IN', align: 'right' },
  { header: 'OUT', align: 'right' },
  { header: 'CACHE READ', align: 'right' },
  { header: 'CACHE WRITE', align: 'right' },
  { header: 'LLM', align: 'right' },
  { header: 'TOOLS', align: 'right' },
  { header: 'ERRORS', align: 'right' },
  { header: 'WALL TIME', align: 'right' },
  { header: 'USEFUL', align: 'right' },
  { header: 'COST/USEFUL', align: 'right' },
];

const cells = (key: string, r: Totals) => [
  key,
  count(r.runs),
  money(r.costUsd),
  count(r.inputTokens),
  count(r.outputTokens),
  count(r.cacheReadTokens),
  count(r.cacheWriteTokens),
  count(r.llmCalls),
  count(r.toolCalls),
  count(r.errors),
  duration(r.wallTimeMs),
  count(r.usefulOutcomes),
  money(r.costPerUsefulOutcomeUsd),
];

export function rollupTable(result: Rollup): string {
  return table(columns, result.rows.map((r) => cells(r.key, r)), [cells('TOTAL', result.totals)]);
}

const usage = `usage: lidless costs [--group-by <g>] [--from <time>] [--to <time>] [--repo <r>] [--agent <a>] [--model <m>] [--tenant <id>] [--json]

Cost, tokens, calls and useful outcomes (merged change, green build, fixed incident) per group, with
totals and the cost per useful outcome. Days are UTC; a run counts on the day it started.

  --group-by <g>   day, model, repo, agent, outcome or branch (default day)
  --from <time>    ISO-8601 time or UTC date YYYY-MM-DD (default ${DEFAULT_DAYS} days before --to)
  --to <time>      the end, exclusive; a date includes that whole day (default now)
  --repo, --agent, --model   only that repo, agent or model
  --tenant <id>    the tenant (default LIDLESS_TENANT, or the only tenant the token reads)`;

export const costs: Command = {
  path: ['costs'],
  summary: 'cost rollup by day, model, repo, agent, outcome or branch',
  usage,
  options: {
    tenant: { type: 'string' },
    'group-by': { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    repo: { type: 'string' },
    agent: { type: 'string' },
    model: { type: 'string' },
  },
  async run(ctx: Context, args: Parsed) {
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, usage);
    const groupBy = oneOf(args, 'group-by', GROUP_BYS, usage) ?? 'day';
    const to = time(args, 'to', usage, 'to') ?? Date.now();
    const from = time(args, 'from', usage, 'from') ?? Date.parse(`${new Date(to - DEFAULT_DAYS * DAY_MS).toISOString().slice(0, 10)}T00:00:00Z`);
    if (to <= from) throw new UsageError('--to must be after --from', usage);
    const tenantId = await ctx.tenant(str(args, 'tenant'));
    const filters = Object.fromEntries((['repo', 'agent', 'model'] as const).flatMap((k) => (str(args, k) !== undefined ? [[k, str(args, k)!]] : [])));
    const result = await ctx.client.costs.rollup.query({ tenantId, from: toIso(from), to: toIso(to), groupBy, ...filters });
    const lastDay = new Date(to - 1).toISOString().slice(0, 10);
    const scope = Object.entries(filters).map(([k, v]) => `${k} ${v}`).join(', ');
    ctx.print(
      () =>
        `costs by ${groupBy}, ${new Date(from).toISOString().slice(0, 10)} to ${lastDay} (UTC)${scope ? `, ${scope}` : ''}, tenant ${tenantId}\n` +
        (result.rows.length ? rollupTable(result) : 'no runs or costs in this range'),
      result,
    );
  },
};
