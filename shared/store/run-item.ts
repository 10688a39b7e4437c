import { hash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { RunState } from '../aggregate/run-state.ts';
import type { StepRecord } from '../ingest/steps.ts';

/**
 * The run item's body: what the runs table stores besides its keys, in as few bytes as DynamoDB bills.
 *
 *   ev  binary   6-byte hashes of the event ids the run has absorbed since its last page, concatenated
 *   d   binary   raw-deflated JSON `{ s: RunState, c: chunk ids, i: inline parts, p: page refs, r: retention days }`
 *
 * A run item is rewritten whole on every request that adds to the run, and DynamoDB bills a write per
 * started KB, so a typical run (a dozen events, ten steps) must fit in one: its JSON is ~2 KB, deflated
 * with a preset dictionary of the words every run repeats it is a third of that. The dictionary is part
 * of the format: `d` starts with a version byte, and a new dictionary needs a new version.
 *
 * A long session grows its item by a hash per event and a chunk id per request; rewritten whole on
 * every request, it would cost more write units the longer it ran. So once enough have gathered, they
 * are sealed into a page item beside the run (runs-table.ts) and the item keeps only the page's ref:
 * the item stays around a kilobyte however long the run.
 */
export interface InlinePart {
  receivedAt: number;
  /** the request's batch id, which names its raw object */
  batchId: string;
  /** when one run's events of a request were applied in several parts: which one (from 1) */
  part?: number;
  /** the lines of the raw object holding this part's events */
  lines: number[];
  steps: StepRecord[];
}

export interface RunBody {
  state: RunState;
  /** event-id hashes (`eventHash`) already applied */
  ev: EventHashes;
  /** short ids of the committed step chunks not yet sealed in a page, oldest first (see runs-table.ts) */
  chunks: string[];
  /** refs of the sealed pages of hashes and chunk ids, oldest first (see runs-table.ts) */
  pages: string[];
  /** steps and raw-line references kept in the item itself until they outgrow it (then chunks) */
  inline: InlinePart[];
  retentionDays: number;
}

/** 48 bits: a collision inside one run (at most ~25k events) has odds below one in ten billion. */
const HASH_BYTES = 6;

export function eventHash(eventId: string): string {
  // the one-shot hash: a third of createHash's cost, once per event
  return hash('sha256', eventId, 'base64url').slice(0, (HASH_BYTES * 4) / 3);
}

/**
 * The event-id hashes a run has absorbed: sets to look them up, and the bytes of those not yet sealed in
 * a page, as the run item stores them (`ev`). A run's item is rewritten on every request that adds to
 * it, and a long session sent a few events at a time adds to it thousands of times: so new hashes are
 * appended to the open bytes, and kept in a set of their own beside the older ones, instead of the whole
 * set being encoded and copied again each time. The sets are merged once there are several, which keeps
 * a lookup to a few probes. A value never changes (`with` and `sealed` make new ones that share its
 * sets), so a plan never written leaves the value it was made from as it was.
 */
export class EventHashes {
  private constructor(
    private readonly sets: readonly ReadonlySet<string>[],
    readonly size: number,
    private readonly open: Buffer,
  ) {}

  static readonly none = new EventHashes([], 0, Buffer.alloc(0));

  /** From the run item's open bytes (a trailing partial hash is ignored). */
  static fromBytes(bytes: Uint8Array | undefined): EventHashes {
    return EventHashes.none.plusBytes(bytes, true);
  }

  /** These and the hashes of sealed pages (their bytes as stored): looked up, not part of the open bytes. */
  withSealed(pages: readonly Uint8Array[]): EventHashes {
    return pages.reduce<EventHashes>((acc, page) => acc.plusBytes(page, false), this);
  }

  has(hash: string): boolean {
    return this.sets.some((set) => set.has(hash));
  }

  /** Hashes not yet sealed in a page. */
  get openCount(): number {
    return this.open.length / HASH_BYTES;
  }

  /** These hashes and `fresh` ones (none of them already here, none twice), in that order. */
  with(fresh: readonly string[]): EventHashes {
    if (fresh.length === 0) return this;
    const added = Buffer.alloc(fresh.length * HASH_BYTES);
    fresh.forEach((h, i) => added.write(h, i * HASH_BYTES, HASH_BYTES, 'base64url'));
    return new EventHashes(merged([...this.sets, new Set(fresh)]), this.size + fresh.length, Buffer.concat([this.open, added]));
  }

  /** The same hashes with the open ones sealed: `page` is their bytes, for the page item. */
  sealed(): { page: Uint8Array; hashes: EventHashes } {
    return { page: this.open, hashes: new EventHashes(this.sets, this.size, Buffer.alloc(0)) };
  }

  /** The run item's form of the open hashes: 6 bytes each, concatenated in the order they were absorbed. */
  bytes(): Uint8Array {
    return this.open;
  }

  private plusBytes(bytes: Uint8Array | undefined, open: boolean): EventHashes {
    if (!bytes || bytes.byteLength < HASH_BYTES) return this;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength - (bytes.byteLength % HASH_BYTES));
    const set = new Set<string>();
    for (let i = 0; i < buf.length; i += HASH_BYTES) set.add(buf.toString('base64url', i, i + HASH_BYTES));
    return new EventHashes(merged([...this.sets, set]), this.size + set.size, open ? Buffer.concat([this.open, buf]) : this.open);
  }
}

function merged(sets: ReadonlySet<string>[]): ReadonlySet<string>[] {
  if (sets.length <= MAX_HASH_SETS) return sets;
  const all = new Set<string>();
  for (const set of sets) for (const h of set) all.add(h);
  return [all];
}

/** Sets kept apart before they are merged: a lookup probes at most this many. */
const MAX_HASH_SETS = 16;

const VERSION = 1;
// words and fragments of every run body, so that even a small body compresses well
const DICTIONARY = Buffer.from(
  [
    '{"s":{"runId":"","traceId":"","agent":"claude-code","repo":"","branch":"main","commit":"","status":"succeeded","status":"failed","status":"running","status":"cancelled",',
    '"outcome":"merged_change","outcome":"green_build","outcome":"fixed_incident","outcome":"rejected","outcome":"none","startedAt":17,"endedAt":17,"ended":true,"ended":false,',
    '"models":["claude-sonnet-4-5","claude-opus-4","gpt-5","gpt-5-codex","gemini-2.5-pro","gemini-2.5-flash"],"redactions":0,"attributes":{},',
    '"contrib":{"2026-|*":[0,0,0,0,0,0,0,0,0]},"costNanos":0,"inputTokens":0,"outputTokens":0,"cacheReadTokens":0,"cacheWriteTokens":0,',
    '"unpricedTokens":0,"llmCalls":0,"toolCalls":0,"errors":0},"c":[],"r":14,"i":[{"receivedAt":17,"batchId":"","lines":[0,1,2,3,4,5,6,7,8,9,10],',
    '"steps":[{"stepId":"","parentStepId":"","kind":"llm","kind":"tool","kind":"agent","kind":"sandbox","kind":"ci","kind":"test","kind":"lint","kind":"retry",',
    '"name":"","startedAt":17,"endedAt":17,"status":"ok","status":"error","model":"","inputTokens":,"outputTokens":,"cacheReadTokens":,',
    '"cacheWriteTokens":,"costNanos":,"error":""}]}]}',
  ].join(''),
);

interface BodyJson {
  s: RunState;
  c?: string[];
  i?: InlinePart[];
  p?: string[];
  r: number;
}

export function packBody(body: Omit<RunBody, 'ev'>): Uint8Array {
  const json: BodyJson = { s: body.state, r: body.retentionDays };
  if (body.chunks.length) json.c = body.chunks;
  if (body.inline.length) json.i = body.inline;
  if (body.pages.length) json.p = body.pages;
  // a 4 KB window covers any body worth compressing and makes each call's set-up cheap
  const deflated = deflateRawSync(JSON.stringify(json), { dictionary: DICTIONARY, windowBits: 12 });
  return Buffer.concat([Buffer.of(VERSION), deflated]);
}

export function unpackBody(packed: Uint8Array, ev: Uint8Array | undefined): RunBody {
  const buf = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  if (buf[0] !== VERSION) throw new Error(`run item body of unknown version ${buf[0]}`);
  const json = JSON.parse(inflateRawSync(buf.subarray(1), { dictionary: DICTIONARY }).toString('utf8')) as BodyJson;
  return { state: json.s, ev: EventHashes.fromBytes(ev), chunks: json.c ?? [], inline: json.i ?? [], pages: json.p ?? [], retentionDays: json.r };
}
