import type { Dataset } from './generate.ts';
import type { NativeEvent } from './events.ts';

/**
 * Sends a dataset through the public ingest API (`POST /v1/ingest`), as a client would: batches of whole
 * runs, each at most `batchSize` events; a batch holding a run marked `resend` is sent a second time, as
 * a client does when a response was lost. 429 and 503 answers are retried after their Retry-After.
 */
export interface SendOptions {
  url: string;
  key: string;
  batchSize?: number;
  /** called after each request */
  onBatch?: (done: number, total: number) => void;
  fetchImpl?: typeof fetch;
}

export interface SendResult {
  requests: number;
  events: number;
  accepted: number;
  duplicates: number;
  rejected: { id?: string; error: string }[];
}

export interface Batch {
  events: NativeEvent[];
  /** sent twice */
  resend: boolean;
}

export const MAX_BATCH = 500;

/**
 * Whole runs per batch where they fit (a run larger than a batch is split). A run to be resent gets
 * batches of its own, so that only its events come back as duplicates.
 */
export function batchesOf(dataset: Dataset, batchSize = MAX_BATCH): Batch[] {
  const size = Math.max(1, Math.min(MAX_BATCH, batchSize));
  const resend = new Set(dataset.runs.filter((r) => r.resend).map((r) => r.runId));
  const byRun = new Map<string, NativeEvent[]>();
  for (const e of dataset.events) {
    const list = byRun.get(e.runId) ?? [];
    list.push(e);
    byRun.set(e.runId, list);
  }
  const batches: Batch[] = [];
  let current: NativeEvent[] = [];
  for (const [runId, events] of byRun) {
    if (resend.has(runId)) {
      for (let i = 0; i < events.length; i += size) batches.push({ events: events.slice(i, i + size), resend: true });
      continue;
    }
    for (const e of events) {
      if (current.length === size || (current.length > 0 && current.length + events.length > size && e === events[0])) {
        batches.push({ events: current, resend: false });
        current = [];
      }
      current.push(e);
    }
  }
  if (current.length) batches.push({ events: current, resend: false });
  return batches;
}

class IngestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IngestError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(opts: SendOptions, events: NativeEvent[]) {
  const doFetch = opts.fetchImpl ?? fetch;
  for (let attempt = 1; ; attempt++) {
    const res = await doFetch(`${opts.url.replace(/\/+$/, '')}/v1/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    const text = await res.text();
    if ((res.status === 429 || res.status === 503) && attempt < 6) {
      const after = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 30) * 1000 : 250 * 2 ** attempt);
      continue;
    }
    let body: { accepted?: number; duplicates?: number; rejected?: { id?: string; error: string }[]; error?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // a proxy's HTML error page: reported by status below
    }
    if (res.status !== 200 && res.status !== 207) throw new IngestError(`ingest answered ${res.status}: ${body.error ?? text.slice(0, 200)}`);
    return { accepted: body.accepted ?? 0, duplicates: body.duplicates ?? 0, rejected: body.rejected ?? [] };
  }
}

export async function sendDataset(dataset: Dataset, opts: SendOptions): Promise<SendResult> {
  const batches = batchesOf(dataset, opts.batchSize);
  const requests = batches.flatMap((b) => (b.resend ? [b, b] : [b]));
  const result: SendResult = { requests: 0, events: 0, accepted: 0, duplicates: 0, rejected: [] };
  for (const batch of requests) {
    const answer = await post(opts, batch.events);
    result.requests += 1;
    result.events += batch.events.length;
    result.accepted += answer.accepted;
    result.duplicates += answer.duplicates;
    result.rejected.push(...answer.rejected);
    opts.onBatch?.(result.requests, requests.length);
  }
  return result;
}
