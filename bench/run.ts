// the SDK's notice about future Node versions would interleave with the table
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [-- --quick]`: cost, CPU, query, alert and memory figures of the ingest and query
 * paths against the embedded stack, with the goals they must reach. See BENCHMARKS.md.
 */
const quick = process.argv.includes('--quick');
const SIZES = quick
  ? { events: 20_000, naiveShare: 0.1, querySamples: 30, rollupSamples: 15, alertSamples: 20, warmRequests: 20, sessions: 4, sessionEvents: 500 }
  : { events: 200_000, naiveShare: 0.05, querySamples: 150, rollupSamples: 40, alertSamples: 80, warmRequests: 40, sessions: 20, sessionEvents: 1000 };
/** events per request of a long session exported on its own */
const SESSION_BATCH = 5;
const DAYS = 7;
const CONCURRENCY = 2;

const { startBackend } = await import('./backend.ts');
const { traffic } = await import('./dataset.ts');
const { ingest, floorCpuUs, roundTripCpuUs } = await import('./ingest.ts');
const { naiveIngest } = await import('./naive.ts');
const { longSessions } = await import('./sessions.ts');
const { costOf } = await import('./prices.ts');
const { measureQueries } = await import('./queries.ts');
const { measureAlertLatency } = await import('./alerts.ts');
const { measureMemory } = await import('./memory.ts');
const { largestItemBytes, largestOf } = await import('./item-check.ts');
const { runsPartition, runSortKey } = await import('../shared/store/runs-table.ts');
const { percentile, round } = await import('./stats.ts');
const { goals, machine, stdoutReport, benchmarksMd } = await import('./report.ts');
const { stores } = await import('../shared/store/clients.ts');
type Results = import('./report.ts').Results;
type Tally = import('./meter.ts').Tally;

const started = Date.now();
const loadAtStart = loadavg()[0]!;
const say = (line: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function perMillion(tally: Tally, events: number) {
  const scale = 1e6 / events;
  return {
    byCommand: Object.fromEntries(
      Object.entries(tally.byCommand).map(([k, v]) => [
        k,
        { requests: round(v.requests * scale, 1), readUnits: round(v.readUnits * scale, 1), writeUnits: round(v.writeUnits * scale, 1), localMsPerRequest: round(v.ms / v.requests, 1) },
      ]),
    ),
    byTable: Object.fromEntries(Object.entries(tally.byTable).map(([k, v]) => [k, round(v * scale, 1)])),
  };
}

say(`${quick ? 'quick' : 'full'} run: starting the embedded stack`);
const backend = await startBackend();
try {
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const from = end - DAYS * 86_400_000;

  say(`generating ${SIZES.events} + ${SIZES.events / 10} events over ${DAYS} days`);
  const large = traffic({ prefix: 'lg', minEvents: SIZES.events, days: DAYS, seed: 11, end });
  const small = traffic({ prefix: 'sm', minEvents: SIZES.events / 10, days: DAYS, seed: 12, end });
  const warm = traffic({ prefix: 'wm', minEvents: SIZES.warmRequests * 80, days: DAYS, seed: 13, end });

  // warm: JIT, connections, the storage servers' caches; not counted
  const warmTenant = await backend.tenant('bench-warm');
  await ingest(backend, warmTenant.key, warm.requests.slice(0, SIZES.warmRequests), CONCURRENCY);

  say(`ingesting ${large.uniqueEvents} events in ${large.requests.length} requests (the 10× tenant)`);
  const largeTenant = await backend.tenant('bench-large');
  // the floor is taken before and after the ingest, the least kept: a busy spell of the machine's
  // other work during one set of passes does not raise it
  const floorBefore = floorCpuUs(large.requests);
  const run = await ingest(backend, largeTenant.key, large.requests, CONCURRENCY);
  if (run.failedInvocations > 0) say(`warning: ${run.failedInvocations} requests did not answer 200`);
  const floorUs = Math.min(floorBefore, floorCpuUs(large.requests));
  const roundTripUs = await roundTripCpuUs(stores().tables.runs);
  // the fewest requests an ingest can make (raw object, index write), with nothing but the floor's work besides
  const leastUs = floorUs + 2 * roundTripUs * run.batches;
  const eventsSent = run.events;
  const handlerCpuUs = run.ingestCpuUs + run.aggregateCpuUs;
  say(`  ${round((eventsSent / run.wallMs) * 1000, 0)} events/s; handler ${round(handlerCpuUs / eventsSent, 1)} µs CPU per event, floor ${round(floorUs / eventsSent, 1)} µs`);

  say(`ingesting ${small.uniqueEvents} events (the 1× tenant)`);
  const smallTenant = await backend.tenant('bench-small');
  await ingest(backend, smallTenant.key, small.requests, CONCURRENCY);

  const naiveEvery = Math.round(1 / SIZES.naiveShare);
  const naiveSample = large.requests.filter((_, i) => i % naiveEvery === 0);
  say(`naive writer on ${naiveSample.reduce((n, b) => n + b.events, 0)} of the same events`);
  const naiveTenant = await backend.tenant('bench-naive');
  const naive = await naiveIngest(stores(), backend.meter, naiveTenant.tenantId, naiveSample);

  say(`${SIZES.sessions} long sessions of ${SIZES.sessionEvents} events, ${SESSION_BATCH} a request`);
  const sessionTenant = await backend.tenant('bench-sessions');
  const sessions = longSessions({ prefix: 'ls', sessions: SIZES.sessions, eventsPerSession: SIZES.sessionEvents, batch: SESSION_BATCH, end });
  const sessionRun = await ingest(backend, sessionTenant.key, sessions.requests, CONCURRENCY);
  if (sessionRun.failedInvocations > 0) say(`warning: ${sessionRun.failedInvocations} session requests did not answer 200`);
  const sessionCost = costOf({ events: sessionRun.accepted, tally: sessionRun.tally, invocationMs: [...sessionRun.handlerMs, ...sessionRun.aggregateMs], requestBytes: sessions.requests.map((b) => b.body.length) });
  const sessionRunItemBytes = await largestOf(stores().tables.runs, sessions.runIds.map((runId) => ({ pk: runsPartition(sessionTenant.tenantId), sk: runSortKey(runId) })));

  const largestRollupItemBytes = await largestItemBytes(stores().tables.rollups);
  // the stream handler's invocations are Lambda invocations too (no API Gateway request)
  const cost = costOf({ events: run.accepted, tally: run.tally, invocationMs: [...run.handlerMs, ...run.aggregateMs], requestBytes: large.requests.map((b) => b.body.length) });
  const naiveCost = costOf({ events: naive.events, tally: naive.tally, invocationMs: naive.handlerMs, requestBytes: naiveSample.map((b) => b.body.length) });

  say('queries on both tenants');
  const to = end + 3_600_000;
  const querySmall = await measureQueries(backend, { tenantId: smallTenant.tenantId, key: smallTenant.key, runIds: small.runs.map((r) => r.runId), events: small.uniqueEvents, from, to }, SIZES.querySamples, SIZES.rollupSamples);
  const queryLarge = await measureQueries(backend, { tenantId: largeTenant.tenantId, key: largeTenant.key, runIds: large.runs.map((r) => r.runId), events: large.uniqueEvents, from, to }, SIZES.querySamples, SIZES.rollupSamples);
  const size = (f: typeof querySmall) => ({
    runs: f.runs,
    events: f.events,
    days: DAYS,
    runsGetP50Ms: round(percentile(f.runsGetMs, 50)),
    runsGetP99Ms: round(percentile(f.runsGetMs, 99)),
    runsListP50Ms: round(percentile(f.runsListMs, 50)),
    runsListP99Ms: round(percentile(f.runsListMs, 99)),
    rollupP50Ms: round(percentile(f.rollupMs, 50)),
    rollupP99Ms: round(percentile(f.rollupMs, 99)),
    runsGetReadUnits: round(f.runsGetReadUnits),
    runsListReadUnits: round(f.runsListReadUnits),
    rollupReadUnits: round(f.rollupReadUnits),
    rollupLocalReportedUnits: f.rollupReportedUnits,
    rollupRows: f.rollupRows,
  });
  const largeSize = size(queryLarge);
  const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;

  say('ingest-to-webhook latency');
  const alertMs = await measureAlertLatency(backend, SIZES.alertSamples);

  say('peak memory on a 5 MB batch and a gzip bomb');
  const memory = await measureMemory(backend.info, largeTenant.key);

  const usage = perMillion(run.tally, run.accepted);
  const partial: Omit<Results, 'goals'> = {
    meta: {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      command: quick ? 'npm run bench -- --quick' : 'npm run bench',
      durationS: round((Date.now() - started) / 1000, 0),
      machine: machine(),
      loadAverage: [round(loadAtStart, 2), round(loadavg()[0]!, 2)],
    },
    ingest: {
      eventsPerSecond: round((eventsSent / run.wallMs) * 1000, 0),
      handlerCpuUsPerEvent: round(handlerCpuUs / eventsSent, 1),
      floorCpuUsPerEvent: round(floorUs / eventsSent, 1),
      cpuRatioToFloor: round(handlerCpuUs / floorUs, 2),
      ingestCpuUsPerEvent: round(run.ingestCpuUs / eventsSent, 1),
      aggregateCpuUsPerEvent: round(run.aggregateCpuUs / eventsSent, 1),
      sdkRoundTripCpuUs: round(roundTripUs, 0),
      ingestCallsPerEvent: round(run.ingestCalls / eventsSent, 4),
      leastCpuUsPerEvent: round(leastUs / eventsSent, 1),
      leastRatioToFloor: round(leastUs / floorUs, 2),
      uniqueEvents: large.uniqueEvents,
      eventsSent,
      duplicates: run.duplicates,
      requests: run.batches,
      jsonBytesPerEvent: round(large.requests.reduce((n, b) => n + b.jsonBytes, 0) / eventsSent, 0),
      gzipBytesPerEvent: round(run.bodyBytes / eventsSent, 0),
      concurrency: CONCURRENCY,
      handlerMsP50: round(percentile(run.handlerMs, 50), 1),
      handlerMsP99: round(percentile(run.handlerMs, 99), 1),
      failedInvocations: run.failedInvocations,
      aggregateInvocations: run.aggregateMs.length,
    },
    cost: {
      usdPerMillionEvents: round(cost.total, 4),
      naiveUsdPerMillionEvents: round(naiveCost.total, 4),
      naiveRatio: round(naiveCost.total / cost.total, 1),
      breakdown: cost,
      naiveBreakdown: naiveCost,
      byCommand: usage.byCommand,
      byTable: usage.byTable,
      naiveSampleEvents: naive.events,
      largestRollupItemBytes,
      localReportedTransactUnits: round(((run.tally.byCommand['ddb:TransactWriteItems']?.reportedWriteUnits ?? 0) * 1e6) / run.accepted, 0),
    },
    query: {
      // the headline latencies are the 10× tenant's
      ...pick(largeSize, ['runsGetP50Ms', 'runsGetP99Ms', 'runsListP50Ms', 'runsListP99Ms', 'rollupP50Ms', 'rollupP99Ms']),
      rollupReadUnitsSmall: round(querySmall.rollupReadUnits),
      rollupReadUnitsLarge: round(queryLarge.rollupReadUnits),
      rollupReadRatio: round(queryLarge.rollupReadUnits / querySmall.rollupReadUnits),
      small: size(querySmall),
      large: largeSize,
    },
    sessions: {
      sessions: SIZES.sessions,
      eventsPerSession: SIZES.sessionEvents,
      eventsPerRequest: SESSION_BATCH,
      accepted: sessionRun.accepted,
      usdPerMillionEvents: round(sessionCost.total, 4),
      writeUnitsPerRequest: round(sessionCost.perMillionEvents.writeUnits / (1e6 / SESSION_BATCH), 2),
      handlerCpuUsPerEvent: round((sessionRun.ingestCpuUs + sessionRun.aggregateCpuUs) / sessionRun.events, 1),
      largestRunItemBytes: sessionRunItemBytes,
      breakdown: sessionCost,
    },
    alerts: {
      ingestToWebhookP50Ms: percentile(alertMs, 50),
      ingestToWebhookP95Ms: percentile(alertMs, 95),
      samples: alertMs.length,
    },
    memory: {
      ingestPeakRssMb: Math.max(memory.batch.peakMb, memory.bomb.peakMb),
      batch5mb: memory.batch,
      gzipBomb: memory.bomb,
    },
  };
  const results: Results = { ...partial, goals: goals(partial) };

  console.log(stdoutReport(results));
  const here = fileURLToPath(new URL('.', import.meta.url));
  if (quick) {
    const file = join(tmpdir(), 'lidless-bench-quick.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    say(`results: ${file}`);
  } else {
    writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(here, '..', 'BENCHMARKS.md'), benchmarksMd(results));
    say('results: bench/results.json, BENCHMARKS.md');
  }
  say(`done in ${round((Date.now() - started) / 60_000, 1)} min; ${results.goals.filter((g) => !g.pass).length} goal(s) missed`);
} finally {
  await backend.stop();
}
