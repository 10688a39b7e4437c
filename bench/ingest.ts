import { gzipSync, gunzipSync } from 'node:zlib';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
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
  /** the ingest handler's CPU: the process's during the requests, less the meter's own accounting */
  ingestCpuUs: number;
  /** requests the ingest handler made to AWS (S3 and DynamoDB) */
  ingestCalls: number;
  /** the stream handler's CPU folding this phase's run changes (its invocations only, not the polling) */
  aggregateCpuUs: number;
  /** request bodies as sent (gzip) */
  bodyBytes: number;
  tally: Tally;
}

/**
 * `settle` is part of the measured phase: once the answers are in, the stream's handler folds the run
 * changes into the day cells, in batches as its event source would form them, so its writes, its
 * invocations and its CPU count with the events.
 */
export async function ingest(backend: Backend, key: string, batches: readonly PreparedBatch[], concurrency: number): Promise<IngestResult> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' };
  const events = batches.map((b) => gatewayEvent({ method: 'POST', path: '/v1/ingest', headers, body: b.body }));
  // one lane per group of clients, so a client never has two batches in flight
  const lanes: number[][] = Array.from({ length: concurrency }, () => []);
  batches.forEach((b, i) => lanes[b.client % concurrency]!.push(i));

  const r: IngestResult = { batches: batches.length, events: 0, accepted: 0, duplicates: 0, rejected: 0, failedInvocations: 0, wallMs: 0, handlerMs: [], aggregateMs: [], ingestCpuUs: 0, ingestCalls: 0, aggregateCpuUs: 0, bodyBytes: 0, tally: { byCommand: {}, byTable: {}, meterUs: 0 } };
  await backend.settle();
  backend.meter.take();
  backend.takeAggregate();
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
  r.ingestCpuUs = cpuSince(cpu0) - backend.meter.accountingUs();
  r.ingestCalls = backend.meter.requests();
  await backend.settle();
  r.tally = backend.meter.take();
  const folded = backend.takeAggregate();
  r.aggregateMs = folded.ms;
  r.aggregateCpuUs = folded.cpuUs;
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

/**
 * What one AWS SDK round trip costs this process, whatever the work: the CPU of reading an item that
 * does not exist from the same DynamoDB, with a client of its own (no meter). Microseconds per call,
 * the least of three passes. With the calls the handler makes per event, it shows how much of the
 * handler's CPU is the SDK's and the HTTP stack's, which no design of ours removes (fewer calls do).
 */
export async function roundTripCpuUs(table: string): Promise<number> {
  const ddb = new DynamoDBClient({});
  const call = (i: number) => ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `bench-absent-${i}` }, sk: { S: 'x' } } }));
  try {
    for (let i = 0; i < 200; i++) await call(i);
    let least = Infinity;
    for (let pass = 0; pass < 3; pass++) {
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < 300; i++) await call(i);
      least = Math.min(least, cpuSince(cpu0) / 300);
    }
    return least;
  } finally {
    ddb.destroy();
  }
}
