import { z } from 'zod';
import { authedProcedure, isoTime, limitSchema, readerProcedure, router, tenantIdSchema } from '../trpc.ts';
import { canRead } from '../../auth/principal.ts';
import { getRun, listRuns, rawEvents, runsByTrace } from '../../query/runs.ts';
import { costRollup, GROUP_BYS } from '../../query/rollup.ts';
import { queryMetric } from '../../store/metrics-table.ts';
import { OUTCOMES, RUN_STATUSES } from '../../model.ts';
import { idSchema } from '../../formats/native.ts';
import { BadRequestError } from '../../errors.ts';

/** Reader procedures: tenants, runs, costs and metrics of the tenants the caller may read. */
const dimension = z.string().min(1).max(1024);

export const tenantsRouter = router({
  list: authedProcedure.input(z.strictObject({}).optional()).query(async ({ ctx }) => {
    const tenants = ctx.principal.kind === 'operator' ? [] : (await ctx.control.listTenants()).filter((t) => canRead(ctx.principal, t.tenantId));
    return { items: tenants.map((t) => ({ tenantId: t.tenantId, name: t.name, retentionDays: t.retentionDays })) };
  }),
});

export const runsRouter = router({
  get: readerProcedure
    .input(z.strictObject({ tenantId: tenantIdSchema, runId: idSchema }))
    .query(({ ctx, input }) => getRun(ctx.stores, input.tenantId, input.runId, ctx.now())),
  list: readerProcedure
    .input(
      z.strictObject({
        tenantId: tenantIdSchema,
        from: isoTime.optional(),
        to: isoTime.optional(),
        repo: dimension.optional(),
        branch: dimension.optional(),
        agent: dimension.optional(),
        model: dimension.optional(),
        status: z.enum(RUN_STATUSES).optional(),
        outcome: z.enum(OUTCOMES).optional(),
        minCostUsd: z.number().finite().min(0).optional(),
        limit: limitSchema,
        cursor: z.string().max(4096).optional(),
      }),
    )
    .query(({ ctx, input }) => {
      const { tenantId, limit, cursor, ...filters } = input;
      if (filters.from !== undefined && filters.to !== undefined && filters.to <= filters.from) throw new BadRequestError('to: must be after from');
      return listRuns(ctx.stores, ctx.cursorKey, tenantId, filters, limit, cursor, ctx.now());
    }),
  byTrace: readerProcedure
    .input(z.strictObject({ tenantId: tenantIdSchema, traceId: z.string().min(1).max(128) }))
    .query(({ ctx, input }) => runsByTrace(ctx.stores, input.tenantId, input.traceId, ctx.now())),
  raw: readerProcedure
    .input(z.strictObject({ tenantId: tenantIdSchema, runId: idSchema, limit: limitSchema, cursor: z.string().max(4096).optional() }))
    .query(({ ctx, input }) => rawEvents(ctx.stores, ctx.cursorKey, input.tenantId, input.runId, input.limit, input.cursor, ctx.now())),
});

export const costsRouter = router({
  rollup: readerProcedure
    .input(
      z.strictObject({
        tenantId: tenantIdSchema,
        from: isoTime,
        to: isoTime,
        groupBy: z.enum(GROUP_BYS),
        repo: dimension.optional(),
        agent: dimension.optional(),
        model: dimension.optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const { rows, totals } = await costRollup(ctx.stores, input, ctx.now());
      const { key: _key, ...totalFields } = totals;
      return { rows, totals: totalFields };
    }),
});

export const metricsRouter = router({
  query: readerProcedure
    .input(
      z.strictObject({
        tenantId: tenantIdSchema,
        name: z.string().min(1).max(255),
        from: isoTime,
        to: isoTime,
        step: z.enum(['hour', 'day']).default('hour'),
      }),
    )
    .query(async ({ ctx, input }) => {
      if (input.to <= input.from) throw new BadRequestError('to: must be after from');
      if (input.to - input.from > 400 * 86_400_000) throw new BadRequestError('the range spans more than 400 days');
      return { points: await queryMetric(ctx.stores, input.tenantId, input.name, input.from, input.to, input.step) };
    }),
});
