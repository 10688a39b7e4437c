import { gzipSync } from 'node:zlib';
import { generateDataset, type Dataset, type SeedRun } from '../cli/seed/generate.ts';
import { batchesOf } from '../cli/seed/send.ts';
import type { NativeEvent } from '../cli/seed/events.ts';

/**
 * The benchmark's traffic: the project's seed dataset (realistic runs of several agents, repos,
 * models and outcomes), in batches of up to 100 events of whole runs as `lidless seed` sends them,
 * runs in the order they started, as a busy client flushes them. Each request is prepared as the
 * client would send it: gzip JSON. The seed resends the batches of some runs (as after a lost
 * response) in batches of their own; the cost figures are for batches of 100, so that is left out.
 */
export interface PreparedBatch {
  /** requests with the same client number are sent one after the other */
  client: number;
  events: number;
  /** gzip JSON, as sent */
  body: Buffer;
  /** the JSON before gzip */
  jsonBytes: number;
}

export interface Traffic {
  runs: SeedRun[];
  /** distinct events (what a resend repeats is counted once) */
  uniqueEvents: number;
  requests: PreparedBatch[];
}

export interface TrafficSpec {
  prefix: string;
  /** at least this many distinct events */
  minEvents: number;
  days: number;
  seed: number;
  /** epoch ms where the data ends (the same for datasets compared with each other) */
  end: number;
  batchSize?: number;
}

function byStart(d: Dataset): Dataset {
  const runs = [...d.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const byRun = new Map<string, NativeEvent[]>();
  for (const e of d.events) {
    const list = byRun.get(e.runId) ?? [];
    list.push(e);
    byRun.set(e.runId, list);
  }
  return { runs, events: runs.flatMap((r) => byRun.get(r.runId) ?? []) };
}

export function traffic(spec: TrafficSpec): Traffic {
  // the events per run vary with the seed: size the run count from a first guess, then once more
  let runs = Math.ceil(spec.minEvents / 14);
  let d = generateDataset({ seed: spec.seed, days: spec.days, runs, end: spec.end, prefix: spec.prefix });
  while (d.events.length < spec.minEvents) {
    runs = Math.ceil((runs * spec.minEvents * 1.01) / d.events.length);
    d = generateDataset({ seed: spec.seed, days: spec.days, runs, end: spec.end, prefix: spec.prefix });
  }
  const sorted = byStart(d);
  const batches = batchesOf({ ...sorted, runs: sorted.runs.map((r) => ({ ...r, resend: false })) }, spec.batchSize ?? 100);
  const requests = batches.map((b, i) => {
    const json = JSON.stringify({ events: b.events });
    return { client: i, events: b.events.length, body: gzipSync(json), jsonBytes: Buffer.byteLength(json) };
  });
  return { runs: d.runs, uniqueEvents: d.events.length, requests };
}
