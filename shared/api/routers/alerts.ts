import { z } from 'zod';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { limitSchema, readerProcedure, router, tenantIdSchema } from '../trpc.ts';
import { ruleInput } from '../../alerts/rules.ts';
import { checkWebhookUrl } from '../../alerts/webhook/url-guard.ts';
import { newWebhookSecret } from '../../alerts/webhook/signing.ts';
import { newId } from '../../auth/secrets.ts';
import { BadRequestError, NotFoundError } from '../../errors.ts';
import { listAlerts } from '../../store/alerts-table.ts';
import { decodeCursor, encodeCursor } from '../../query/cursor.ts';

/** Alert webhooks, rules and the fired alerts with their deliveries; managed by whoever may read the tenant. */
const idSchema = z.string().min(1).max(64);
/**
 * Per tenant: the evaluator reads every windowed rule each minute, and a webhook's deletion takes its
 * rules with it in one transaction (100 items at most), so neither may grow without bound.
 */
export const MAX_WEBHOOKS = 20;
export const MAX_RULES = 99;

export const alertsRouter = router({
  webhooks: router({
    create: readerProcedure
      .input(z.strictObject({ tenantId: tenantIdSchema, url: z.string().min(1).max(2048), description: z.string().max(500).optional() }))
      .mutation(async ({ ctx, input }) => {
        const check = await checkWebhookUrl(input.url, { localMode: ctx.cfg.LIDLESS_LOCAL_MODE === '1' });
        if (!check.ok) throw new BadRequestError(`url: ${check.reason}`);
        if ((await ctx.control.listWebhooks(input.tenantId)).length >= MAX_WEBHOOKS) throw new BadRequestError(`a tenant has at most ${MAX_WEBHOOKS} webhooks; delete one first`);
        const webhook = {
          webhookId: `wh_${newId(9)}`,
          tenantId: input.tenantId,
          url: input.url,
          description: input.description,
          secret: newWebhookSecret(),
          createdAt: new Date(ctx.now()).toISOString(),
        };
        await ctx.control.putWebhook(webhook);
        return { webhookId: webhook.webhookId, secret: webhook.secret };
      }),
    list: readerProcedure.input(z.strictObject({ tenantId: tenantIdSchema })).query(async ({ ctx, input }) => ({
      items: (await ctx.control.listWebhooks(input.tenantId)).map(({ secret: _secret, ...w }) => w),
    })),
    delete: readerProcedure.input(z.strictObject({ tenantId: tenantIdSchema, webhookId: idSchema })).mutation(async ({ ctx, input }) => {
      if (!(await ctx.control.deleteWebhook(input.tenantId, input.webhookId))) throw new NotFoundError(`no webhook ${input.webhookId}`);
      return { deleted: true as const };
    }),
  }),
  rules: router({
    create: readerProcedure.input(ruleInput).mutation(async ({ ctx, input }) => {
      if (!(await ctx.control.getWebhook(input.tenantId, input.webhookId))) throw new BadRequestError(`webhookId: no webhook ${input.webhookId} in this tenant`);
      if ((await ctx.control.listRules(input.tenantId)).length >= MAX_RULES) throw new BadRequestError(`a tenant has at most ${MAX_RULES} alert rules; delete one first`);
      const ruleId = `rl_${newId(9)}`;
      await ctx.control.putRule({ ...input, ruleId, createdAt: new Date(ctx.now()).toISOString() });
      return { ruleId };
    }),
    list: readerProcedure.input(z.strictObject({ tenantId: tenantIdSchema })).query(async ({ ctx, input }) => ({
      items: await ctx.control.listRules(input.tenantId),
    })),
    delete: readerProcedure.input(z.strictObject({ tenantId: tenantIdSchema, ruleId: idSchema })).mutation(async ({ ctx, input }) => {
      if (!(await ctx.control.deleteRule(input.tenantId, input.ruleId))) throw new NotFoundError(`no rule ${input.ruleId}`);
      return { deleted: true as const };
    }),
  }),
  events: router({
    list: readerProcedure
      .input(z.strictObject({ tenantId: tenantIdSchema, limit: limitSchema, cursor: z.string().max(4096).optional() }))
      .query(async ({ ctx, input }) => {
        const scope = { tenantId: input.tenantId, list: 'alerts.events' };
        const start = input.cursor ? decodeCursor<Record<string, NativeAttributeValue>>(ctx.cursorKey, scope, input.cursor) : undefined;
        const page = await listAlerts(ctx.stores, input.tenantId, input.limit, start);
        return {
          items: page.items.map((a) => ({
            id: a.payload.id,
            type: a.payload.type,
            ruleId: a.payload.rule.ruleId,
            runId: a.payload.runId,
            value: a.payload.value,
            firedAt: a.payload.firedAt,
            deliveries: Object.values(a.deliveries),
          })),
          nextCursor: page.lastKey ? encodeCursor(ctx.cursorKey, scope, page.lastKey) : null,
        };
      }),
  }),
});
