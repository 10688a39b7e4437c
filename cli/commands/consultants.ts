import { list, type Parsed } from '../args.ts';
import { UsageError } from '../errors.ts';
import { fields } from '../format.ts';
import type { Command, Context } from '../context.ts';

/** `lidless consultant create | grant | revoke` (operator). */
const createUsage = `usage: lidless consultant create <name> [--tenant <id>]... [--json]

Creates a consultant token (operator token), optionally granted some tenants. The token is shown once.

  --tenant <id>   a tenant to grant; repeat it or give a comma-separated list`;

export const consultantCreate: Command = {
  path: ['consultant', 'create'],
  summary: 'create a consultant token (operator)',
  usage: createUsage,
  options: { tenant: { type: 'string', multiple: true } },
  async run(ctx: Context, args: Parsed) {
    const name = args.positionals.join(' ').trim();
    if (!name) throw new UsageError('give the consultant a name', createUsage);
    const tenantIds = list(args, 'tenant');
    const created = await ctx.client.admin.consultants.create.mutate({ name, tenantIds });
    ctx.print(
      () =>
        `${fields([
          ['token', created.token],
          ['consultant id', created.consultantId],
          ['tenants', tenantIds.length ? tenantIds.join(', ') : 'none yet (grant some with lidless consultant grant)'],
        ])}\nthe token is shown only once: store it now`,
      { ...created, name, tenantIds },
    );
  },
};

function grantCommand(action: 'grant' | 'revoke'): Command {
  const usage =
    action === 'grant'
      ? `usage: lidless consultant grant <consultantId> --tenant <id>... [--json]

Lets a consultant read (and manage the alerts of) more tenants (operator token).

  --tenant <id>   a tenant; repeat it or give a comma-separated list`
      : `usage: lidless consultant revoke <consultantId> (--tenant <id>... | --token) [--json]

Takes tenants away from a consultant, or revokes its token altogether; it loses access within seconds
(operator token).

  --tenant <id>   a tenant; repeat it or give a comma-separated list
  --token         revoke the consultant's token itself (every grant goes with it)`;
  return {
    path: ['consultant', action],
    summary: action === 'grant' ? 'grant a consultant tenants (operator)' : "revoke a consultant's tenants, or its token (operator)",
    usage,
    options: action === 'grant' ? { tenant: { type: 'string', multiple: true } } : { tenant: { type: 'string', multiple: true }, token: { type: 'boolean' } },
    async run(ctx: Context, args: Parsed) {
      const [consultantId, extra] = args.positionals;
      if (!consultantId || extra) throw new UsageError(consultantId ? `unexpected argument "${extra}"` : 'give the consultant id', usage);
      const tenantIds = list(args, 'tenant');
      const wholeToken = action === 'revoke' && args.values.token === true;
      if (wholeToken && tenantIds.length) throw new UsageError('give --tenant or --token, not both', usage);
      if (!wholeToken && !tenantIds.length) throw new UsageError(action === 'grant' ? '--tenant <id> is required' : '--tenant <id> or --token is required', usage);
      if (wholeToken) {
        const result = await ctx.client.admin.consultants.revoke.mutate({ consultantId });
        ctx.print(() => `revoked the token of consultant ${result.consultantId}`, result);
        return;
      }
      const input = { consultantId, tenantIds };
      const result = action === 'grant' ? await ctx.client.admin.consultants.grant.mutate(input) : await ctx.client.admin.consultants.revoke.mutate(input);
      ctx.print(
        () => `consultant ${result.consultantId} now reads: ${result.tenantIds.length ? result.tenantIds.join(', ') : 'no tenant'}`,
        result,
      );
    },
  };
}

export const consultantGrant = grantCommand('grant');
export const consultantRevoke = grantCommand('revoke');
