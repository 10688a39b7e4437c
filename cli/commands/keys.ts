import { list, str, type Parsed } from '../args.ts';
import { UsageError } from '../errors.ts';
import { fields } from '../format.ts';
import type { Command, Context } from '../context.ts';

/** `lidless key create` and `lidless key revoke` (operator). */
const SCOPES = ['ingest', 'read'] as const;
type Scope = (typeof SCOPES)[number];

const createUsage = `usage: lidless key create --tenant <id> [--scopes ingest,read] [--label <text>] [--json]

Creates a tenant key (operator token). The key is shown once: store it now.

  --tenant <id>       the tenant the key belongs to
  --scopes <list>     ingest and/or read, comma-separated (default ingest,read)
  --label <text>      a note to recognise the key by`;

export const keyCreate: Command = {
  path: ['key', 'create'],
  summary: 'create a tenant key (operator)',
  usage: createUsage,
  options: { tenant: { type: 'string' }, scopes: { type: 'string', multiple: true }, label: { type: 'string' } },
  async run(ctx: Context, args: Parsed) {
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, createUsage);
    const tenantId = str(args, 'tenant') ?? ctx.io.env.LIDLESS_TENANT;
    if (!tenantId) throw new UsageError('--tenant <id> is required', createUsage);
    const given = list(args, 'scopes');
    const bad = given.find((s) => !(SCOPES as readonly string[]).includes(s));
    if (bad) throw new UsageError(`--scopes: "${bad}" is not a scope (ingest, read)`, createUsage);
    const scopes = (given.length ? given : [...SCOPES]) as Scope[];
    const label = str(args, 'label');
    const created = await ctx.client.admin.keys.create.mutate({ tenantId, scopes, ...(label ? { label } : {}) });
    ctx.print(
      () =>
        `${fields([
          ['key', created.key],
          ['key id', created.keyId],
          ['tenant', tenantId],
          ['scopes', [...new Set(scopes)].join(', ')],
        ])}\nthe key is shown only once: store it now`,
      { ...created, tenantId, scopes: [...new Set(scopes)] },
    );
  },
};

const revokeUsage = `usage: lidless key revoke <keyId> [--json]

Revokes a tenant key (operator token); it stops working within seconds.`;

export const keyRevoke: Command = {
  path: ['key', 'revoke'],
  summary: 'revoke a tenant key (operator)',
  usage: revokeUsage,
  options: {},
  async run(ctx: Context, args: Parsed) {
    const [keyId, extra] = args.positionals;
    if (!keyId || extra) throw new UsageError(keyId ? `unexpected argument "${extra}"` : 'give the id of the key to revoke', revokeUsage);
    const result = await ctx.client.admin.keys.revoke.mutate({ keyId });
    ctx.print(() => `revoked key ${keyId}`, { keyId, ...result });
  },
};
