import { router } from './trpc.ts';
import { adminRouter } from './routers/admin.ts';
import { costsRouter, metricsRouter, runsRouter, tenantsRouter } from './routers/reads.ts';
import { alertsRouter } from './routers/alerts.ts';

/** The whole tRPC API at /trpc (CONTRACT.md). */
export const appRouter = router({
  admin: adminRouter,
  tenants: tenantsRouter,
  runs: runsRouter,
  costs: costsRouter,
  metrics: metricsRouter,
  alerts: alertsRouter,
});

export type AppRouter = typeof appRouter;
