import { gunzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../shared/store/clients.ts';
import { forEachConcurrently } from '../shared/concurrency.ts';
import type { Meter, Tally } from './meter.ts';
import type { PreparedBatch } from './dataset.ts';

/**
 * The design DESIGN.md warns against, for comparison: the same request bodies, each event written as
 * its own S3 object and its own DynamoDB item (a plain PutItem into the runs table, under a partition
 * of its own so it touches no index). One invocation per request, its events written 16 at a time.
 */
export interface NaiveResult {
  batches: number;
  events: number;
  /** per invocation, ms */
  handlerMs: number[];
  tally: Tally;
}

const PARALLEL = 16;

async function writeBatch(s: Stores, tenantId: string, body: Buffer): Promise<number> {
  const { events } = JSON.parse(gunzipSync(body).toString('utf8')) as { events: { id: string; runId: string }[] };
  await forEachConcurrently(events, PARALLEL, async (e) => {
    const json = JSON.stringify(e);
    await Promise.all([
      s.s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: `naive/${tenantId}/${e.runId}/${e.id}.json`, Body: json, ContentType: 'application/json' })),
      s.ddb.send(new PutCommand({ TableName: s.tables.runs, Item: { pk: `${tenantId}#NAIVE#${e.runId}`, sk: e.id, event: json } })),
    ]);
  });
  return events.length;
}

export async function naiveIngest(s: Stores, meter: Meter, tenantId: string, batches: readonly PreparedBatch[]): Promise<NaiveResult> {
  const r: NaiveResult = { batches: batches.length, events: 0, handlerMs: [], tally: { byCommand: {}, byTable: {}, meterUs: 0 } };
  meter.take();
  for (const b of batches) {
    const started = performance.now();
    r.events += await writeBatch(s, tenantId, b.body);
    r.handlerMs.push(performance.now() - started);
  }
  r.tally = meter.take();
  return r;
}
