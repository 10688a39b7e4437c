import type { Backend } from './backend.ts';
import { callApi } from './apigw.ts';
import { costRollup } from '../shared/query/rollup.ts';
import { stores } from '../shared/store/clients.ts';
import { mean } from './stats.ts';

/**
 * Query latency through the API handler, in-process (auth, tRPC, DynamoDB), and the read units each
 * query consumes, for one tenant's dataset.
 */
export interface QueryFigures {
  runs: number;
  events: number;
  runsGetMs: number[];
  runsListMs: number[];
  rollupMs: number[];
  /** mean read units per call, as AWS would bill them (see meter.ts) */
  runsGetReadUnits: number;
  runsListReadUnits: number;
  rollupReadUnits: number;
  /** what `costRollup()` itself reports (DynamoDB Local's figures) */
  rollupReportedUnits: number;
  rollupRows: number;
}

export interface QueryTarget {
  tenantId: string;
  key: string;
  runIds: readonly string[];
  events: number;
  from: number;
  to: number;
}

async function timed<T>(backend: Backend, call: () => Promise<T>): Promise<{ ms: number; readUnits: number; value: T }> {
  backend.meter.take();
  const started = performance.now();
  const value = await call();
  const ms = performance.now() - started;
  const readUnits = Object.values(backend.meter.take().byCommand).reduce((n, t) => n + t.readUnits, 0);
  return { ms, readUnits, value };
}

/** `samples` runs.get and runs.list calls; `rollupSamples` rollups (they read the most, and take longest). */
export async function measureQueries(backend: Backend, t: QueryTarget, samples: number, rollupSamples: number): Promise<QueryFigures> {
  const q = <T>(proc: string, input: unknown) => callApi<T>(backend.api, t.key, 'query', proc, input);
  const rollupInput = { tenantId: t.tenantId, from: new Date(t.from).toISOString(), to: new Date(t.to).toISOString(), groupBy: 'model' };
  // warm: the key is looked up once and cached, code paths compiled
  for (let i = 0; i < 3; i++) {
    await q('runs.get', { tenantId: t.tenantId, runId: t.runIds[i % t.runIds.length] });
    await q('runs.list', { tenantId: t.tenantId, limit: 50 });
    await q('costs.rollup', rollupInput);
  }
  const get: { ms: number; readUnits: number }[] = [];
  const list: { ms: number; readUnits: number }[] = [];
  const rollup: { ms: number; readUnits: number }[] = [];
  let rows = 0;
  for (let i = 0; i < samples; i++) {
    // evenly spread over the dataset's runs
    const runId = t.runIds[Math.floor(((i + 0.5) * t.runIds.length) / samples)]!;
    get.push(await timed(backend, () => q('runs.get', { tenantId: t.tenantId, runId })));
    list.push(await timed(backend, () => q('runs.list', { tenantId: t.tenantId, limit: 50 })));
    if (i >= rollupSamples) continue;
    const r = await timed(backend, () => q<{ rows: unknown[] }>('costs.rollup', rollupInput));
    rows = r.value.rows.length;
    rollup.push(r);
  }
  const direct = await costRollup(stores(), { tenantId: t.tenantId, from: t.from, to: t.to, groupBy: 'model' }, Date.now());
  return {
    runs: t.runIds.length,
    events: t.events,
    runsGetMs: get.map((x) => x.ms),
    runsListMs: list.map((x) => x.ms),
    rollupMs: rollup.map((x) => x.ms),
    runsGetReadUnits: mean(get.map((x) => x.readUnits)),
    runsListReadUnits: mean(list.map((x) => x.readUnits)),
    rollupReadUnits: mean(rollup.map((x) => x.readUnits)),
    rollupReportedUnits: direct.consumedReadUnits,
    rollupRows: rows,
  };
}
