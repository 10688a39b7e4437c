import { flag, positiveInt, type Parsed } from '../args.ts';
import { UsageError } from '../errors.ts';
import { table } from '../format.ts';
import type { Command, Context } from '../context.ts';

/** `lidless tenant create` and `lidless tenants`. */
interface TenantRow {
  tenantId: string;
  name: string;
  retentionDays: number;
}

const tenantTable = (items: readonly TenantRow[]) =>
  items.length === 0
    ? 'no tenants'
    : table(
        [{ header: 'TENANT' }, { header: 'NAME' }, { header: 'RETENTION', align: 'right' }],
        items.map((t) => [t.tenantId, t.name, `${t.retentionDays} days`]),
      );

const createUsage = `usage: lidless tenant create <name> [--retention-days <n>] [--keep-emails] [--json]

Creates a tenant (operator token).

  --retention-days <n>  days its data is kept, 1 to 365 (default 14)
  --keep-emails         do not redact e-mail addresses in its data`;

export const tenantCreate: Command = {
  path: ['tenant', 'create'],
  summary: 'create a tenant (operator)',
  usage: createUsage,
  options: { 'retention-days': { type: 'string' }, 'keep-emails': { type: 'boolean' } },
  async run(ctx: Context, args: Parsed) {
    const name = args.positionals.join(' ').trim();
    if (!name) throw new UsageError('give the tenant a name', createUsage);
    const retentionDays = positiveInt(args, 'retention-days', createUsage, 365);
    const tenant = await ctx.client.admin.tenants.create.mutate({
      name,
      ...(retentionDays ? { retentionDays } : {}),
      ...(flag(args, 'keep-emails') ? { redactEmails: false } : {}),
    });
    ctx.print(() => `created tenant ${tenant.tenantId} "${tenant.name}", data kept ${tenant.retentionDays} days`, tenant);
  },
};

const listUsage = `usage: lidless tenants [--json]

Lists tenants: all of them for the operator token, else the ones the token may read.`;

export const tenantsList: Command = {
  path: ['tenants'],
  summary: 'list tenants',
  usage: listUsage,
  options: {},
  async run(ctx: Context, args: Parsed) {
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, listUsage);
    const result = ctx.isOperator ? await ctx.client.admin.tenants.list.query() : await ctx.client.tenants.list.query();
    ctx.print(() => tenantTable(result.items), result);
  },
};
