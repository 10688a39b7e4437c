import { gzipSync, gunzipSync } from 'node:zlib';
import type { Backend } from './backend.ts';
import type { PreparedBatch } from './dataset.ts';
import { gatewayEvent, resultBody } from './apigw.ts';
import type { Tally } from './meter.ts';
import { cpuSince } from './stats.ts';

/**
 * Drives the ingest handler with prepared requests, as clients would send them: each client's batches
 * one after the other (gzip JSON, `POST /v1/ingest`), several clients at once. Measures each
 * invocation's wall time, the process CPU over the whole phase (nothing else runs in this process
 * meanwhile, and the storage servers run in another), and what was asked of AWS.
 */
export interface IngestResult {
  batches: number;
  events: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** invocations that did not answer 200 */
  failedInvocations: number;
  wallMs: number;
  /** per invocation, ms */
  handlerMs: number[];
  /** per invocation of the stream's handler (day cells), ms */
  aggregateMs: number[];
  /** the process's CPU during the phase, less the meter's own accounting */
  cpuUs: number;
  /** request bodies as sent (gzip) */
  bodyBytes: number;
  tally: Tally;
}

/**
 * `settle` is part of the measured phase: the stream's handler folds the runs into the day cells while
 * requests come in (as Lambda would), and what is left when the last answer is in is drained then, so
 * its writes and its CPU count with the events.
 */
export async function ingest(backend: Backend, key: string, batches: readonly PreparedBatch[], concurrency: number): Promise<IngestResult> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' };
  const events = batches.map((b) => gatewayEvent({ method: 'POST', path: '/v1/ingest', headers, body: b.body }));
  // one lane per group of clients, so a client never has two batches in flight
  const lanes: number[][] = Array.from({ length: concurrency }, () => []);
  batches.forEach((b, i) => lanes[b.client % concurrency]!.push(i));

  const r: IngestResult = { batches: batches.length, events: 0, accepted: 0, duplicates: 0, rejected: 0, failedInvocations: 0, wallMs: 0, handlerMs: [], aggregateMs: [], cpuUs: 0, bodyBytes: 0, tally: { byCommand: {}, byTable: {}, meterUs: 0 } };
  await backend.settle();
  backend.meter.take();
  backend.takeAggregateMs();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await Promise.all(
    lanes.map(async (lane) => {
      for (const i of lane) {
        const started = performance.now();
        const res = await backend.ingest(events[i]!);
        r.handlerMs.push(performance.now() - started);
        if (res.statusCode !== 200) {
          r.failedInvocations++;
          continue;
        }
        const body = JSON.parse(resultBody(res)) as { accepted: number; duplicates: number; rejected: unknown[] };
        r.accepted += body.accepted;
        r.duplicates += body.duplicates;
        r.rejected += body.rejected.length;
      }
    }),
  );
  r.wallMs = performance.now() - wall0;
  await backend.settle();
  const cpuUs = cpuSince(cpu0);
  r.tally = backend.meter.take();
  r.aggregateMs = backend.takeAggregateMs();
  r.cpuUs = cpuUs - r.tally.meterUs;
  r.events = batches.reduce((n, b) => n + b.events, 0);
  r.bodyBytes = batches.reduce((n, b) => n + b.body.length, 0);
  return r;
}

/**
 * The least work any ingest of the same bytes must do: inflate, parse, serialise and compress them
 * again (what the handler does at the least to keep the raw batch). Microseconds of CPU in all, the
 * least of three passes (a floor: a collection or a compile in one pass is not the work's).
 */
export function floorCpuUs(batches: readonly PreparedBatch[]): number {
  let least = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const cpu0 = process.cpuUsage();
    for (const b of batches) gzipSync(JSON.stringify(JSON.parse(gunzipSync(b.body).toString('utf8'))), { level: 6 });
    least = Math.min(least, cpuSince(cpu0));
  }
  return least;
}
