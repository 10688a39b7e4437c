import { positiveInt, str, time, type Parsed } from '../args.ts';
import { CliError, UsageError } from '../errors.ts';
import { count } from '../format.ts';
import { generateDataset } from '../seed/generate.ts';
import { MAX_BATCH, sendDataset } from '../seed/send.ts';
import type { Command, Context } from '../context.ts';

/** `lidless seed` (and `npm run seed`): a realistic multi-day dataset sent through the public ingest API. */
const usage = `usage: lidless seed [--runs <n>] [--days <n>] [--seed <n>] [--end <time>] [--batch-size <n>] [--json]

Generates coding-agent runs over several days (repos, branches, agents, priced models, useful and
useless outcomes, failing and retried runs) and sends them to POST /v1/ingest with LIDLESS_TOKEN,
which must be a tenant key with scope ingest. The same --seed, --runs, --days and --end send the
same events again, which Lidless counts as duplicates.

  --runs <n>        number of runs (default 200)
  --days <n>        days of history (default 7; days older than the tenant's retention are never shown)
  --seed <n>        random seed (default 1)
  --end <time>      when the history ends (default the start of the current hour, UTC)
  --batch-size <n>  events per request, at most ${MAX_BATCH} (default ${MAX_BATCH})`;

export const seed: Command = {
  path: ['seed'],
  summary: 'send a realistic multi-day dataset (ingest key)',
  usage,
  options: { runs: { type: 'string' }, days: { type: 'string' }, seed: { type: 'string' }, end: { type: 'string' }, 'batch-size': { type: 'string' } },
  async run(ctx: Context, args: Parsed) {
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, usage);
    const runs = positiveInt(args, 'runs', usage, 100_000) ?? 200;
    const days = positiveInt(args, 'days', usage, 365) ?? 7;
    const seedValue = str(args, 'seed');
    if (seedValue !== undefined && !/^\d{1,9}$/.test(seedValue)) throw new UsageError('--seed must be a whole number', usage);
    const end = time(args, 'end', usage, 'from');
    const batchSize = positiveInt(args, 'batch-size', usage, MAX_BATCH) ?? MAX_BATCH;
    if (ctx.isOperator) throw new CliError('seed needs a tenant key with scope ingest in LIDLESS_TOKEN (create one with lidless key create)');

    const dataset = generateDataset({ runs, days, seed: seedValue === undefined ? 1 : Number(seedValue), ...(end !== undefined ? { end } : {}) });
    const sent = await sendDataset(dataset, { url: ctx.url, key: ctx.token, batchSize });
    const summary = {
      runs: dataset.runs.length,
      events: dataset.events.length,
      from: dataset.runs.reduce((min, r) => (r.startedAt < min ? r.startedAt : min), dataset.runs[0]?.startedAt ?? ''),
      requests: sent.requests,
      accepted: sent.accepted,
      duplicates: sent.duplicates,
      rejected: sent.rejected,
    };
    ctx.print(
      () =>
        `sent ${count(summary.runs)} runs (${count(summary.events)} events over ${days} days) in ${count(sent.requests)} requests: ` +
        `${count(sent.accepted)} accepted, ${count(sent.duplicates)} duplicates, ${count(sent.rejected.length)} rejected` +
        (sent.rejected.length ? `\nfirst rejection: ${sent.rejected[0]!.id ?? ''} ${sent.rejected[0]!.error}` : '') +
        '\nnext: lidless runs list, lidless costs --group-by model',
      summary,
    );
    if (sent.rejected.length) throw new CliError(`${sent.rejected.length} events were rejected`);
  },
};
