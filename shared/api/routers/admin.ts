import { z } from 'zod';
import { operatorProcedure, router, tenantIdSchema } from '../trpc.ts';
import { issueSecret, newId } from '../../auth/secrets.ts';
import { NotFoundError } from '../../errors.ts';

/** Operator procedures: tenants, tenant keys, consultants and their grants. */
const publicTenant = (t: { tenantId: string; name: string; retentionDays: number }) => ({
  tenantId: t.tenantId,
  name: t.name,
  retentionDays: t.retentionDays,
});

export const adminRouter = router({
  tenants: router({
    create: operatorProcedure
      .input(
        z.strictObject({
          name: z.string().trim().min(1).max(200),
          retentionDays: z.number().int().min(1).max(365).default(14),
          redactEmails: z.boolean().default(true),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        const tenant = {
          tenantId: `tn_${newId(9)}`,
          name: input.name,
          retentionDays: input.retentionDays,
          redactEmails: input.redactEmails,
          createdAt: new Date(ctx.now()).toISOString(),
        };
        await ctx.control.putTenant(tenant);
        return publicTenant(tenant);
      }),
    list: operatorProcedure.input(z.strictObject({}).optional()).query(async ({ ctx }) => ({
      items: (await ctx.control.listTenants()).map(publicTenant),
    })),
  }),
  keys: router({
    create: operatorProcedure
      .input(
        z.strictObject({
          tenantId: tenantIdSchema,
          scopes: z.array(z.enum(['ingest', 'read'])).min(1).max(2).transform((s) => [...new Set(s)]),
          label: z.string().max(200).optional(),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        if (!(await ctx.control.getTenant(input.tenantId))) throw new NotFoundError(`no tenant ${input.tenantId}`);
        const { id, secret, hash } = issueSecret('tenantKey');
        await ctx.control.putKey({
          keyId: id,
          tenantId: input.tenantId,
          scopes: input.scopes,
          hash,
          label: input.label,
          createdAt: new Date(ctx.now()).toISOString(),
        });
        return { keyId: id, key: secret };
      }),
    revoke: operatorProcedure.input(z.strictObject({ keyId: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
      if (!(await ctx.control.revokeKey(input.keyId, new Date(ctx.now()).toISOString()))) throw new NotFoundError(`no key ${input.keyId}`);
      return { revoked: true as const };
    }),
  }),
  consultants: router({
    create: operatorProcedure
      .input(z.strictObject({ name: z.string().trim().min(1).max(200), tenantIds: z.array(tenantIdSchema).max(1000) }))
      .mutation(async ({ ctx, input }) => {
        await assertTenantsExist(ctx.control, input.tenantIds);
        const { id, secret, hash } = issueSecret('consultant');
        await ctx.control.putConsultant({
          consultantId: id,
          name: input.name,
          hash,
          tenantIds: [...new Set(input.tenantIds)],
          createdAt: new Date(ctx.now()).toISOString(),
        });
        return { consultantId: id, token: secret };
      }),
    grant: operatorProcedure
      .input(z.strictObject({ consultantId: z.string().min(1).max(64), tenantIds: z.array(tenantIdSchema).min(1).max(1000) }))
      .mutation(async ({ ctx, input }) => {
        await assertTenantsExist(ctx.control, input.tenantIds);
        const tenantIds = await ctx.control.changeGrants(input.consultantId, (held) => [...new Set([...held, ...input.tenantIds])]);
        if (!tenantIds) throw new NotFoundError(`no consultant ${input.consultantId}`);
        return { consultantId: input.consultantId, tenantIds };
      }),
    // with tenantIds, takes those grants away; without, revokes the consultant's token itself (and every grant)
    revoke: operatorProcedure
      .input(z.strictObject({ consultantId: z.string().min(1).max(64), tenantIds: z.array(tenantIdSchema).min(1).max(1000).optional() }))
      .mutation(async ({ ctx, input }) => {
        if (!input.tenantIds) {
          if (!(await ctx.control.revokeConsultant(input.consultantId, new Date(ctx.now()).toISOString()))) throw new NotFoundError(`no consultant ${input.consultantId}`);
          return { consultantId: input.consultantId, tenantIds: [] as string[] };
        }
        const drop = new Set(input.tenantIds);
        const tenantIds = await ctx.control.changeGrants(input.consultantId, (held) => held.filter((t) => !drop.has(t)));
        if (!tenantIds) throw new NotFoundError(`no consultant ${input.consultantId}`);
        return { consultantId: input.consultantId, tenantIds };
      }),
  }),
});

async function assertTenantsExist(control: { getTenant(id: string): Promise<unknown> }, ids: readonly string[]): Promise<void> {
  const found = await Promise.all(ids.map((id) => control.getTenant(id)));
  const missing = ids.filter((_, i) => !found[i]);
  if (missing.length) throw new NotFoundError(`no tenant ${missing.join(', ')}`);
}
