import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type AttributeValue,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { StreamCheckpoint } from './stream-checkpoint.ts';

/**
 * The local stand-in for Lambda's DynamoDB stream event source mapping: reads a table's stream from
 * DynamoDB Local and hands each batch (up to 1000 records of one shard, in order, gathered for up to
 * the batching window) to the handler as the event Lambda would deliver.
 *
 * As in AWS, a failed batch is retried unchanged (never split: the handler's transaction tokens are
 * derived from the batch) with backoff, and given up after 5 minutes. Positions are checkpointed per
 * shard in a file, so a restart resumes after the last record handled, and re-forms a batch that was
 * in flight exactly as it was.
 */
export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<unknown>;

export interface StreamPollerOptions {
  /** the DynamoDB endpoint: DynamoDB Local serves the streams API on the same one */
  endpoint: string;
  tableName: string;
  handler: StreamHandler;
  /** where shard positions are kept across restarts */
  checkpointFile: string;
  /** the wait between reads once the stream is caught up */
  pollMs?: number;
  /** how long records are gathered before a batch short of 1000 is handed over (Lambda's MaximumBatchingWindow); 0 by default */
  batchWindowMs?: number;
  /** records per batch at most (default 1000) */
  batchSize?: number;
  /** how long a failing batch is retried before it is dropped (Lambda's maximum record age) */
  giveUpAfterMs?: number;
  log?: (line: string) => void;
}

/** new shards appear when DynamoDB rolls them over; a drain looks at once */
const DESCRIBE_EVERY_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;

class Closing extends Error {}

interface ShardState {
  id: string;
  parentId?: string;
  iterator?: string;
  /** records read but not handed over yet (the batching window), and since when */
  gathered: _Record[];
  since: number;
}

/** What one look at a shard found. */
interface ShardRead {
  /** read to the shard's current end with nothing left gathered: a drain may count it done */
  atEnd: boolean;
  /** records are waiting to be read now: no pause before the next pass */
  more: boolean;
}

export class StreamPoller {
  private readonly ddb: DynamoDBClient;
  private readonly streams: DynamoDBStreamsClient;
  private readonly pollMs: number;
  private readonly batchWindowMs: number;
  private readonly batchSize: number;
  private readonly giveUpAfterMs: number;
  private readonly log: (line: string) => void;
  private streamArn = '';
  private checkpoint: StreamCheckpoint | undefined;
  private readonly shards = new Map<string, ShardState>();
  private lastDescribe = 0;
  /** passes over the shards started so far */
  private passes = 0;
  private waiters: { after: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private closing = false;
  private woken = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: StreamPollerOptions) {
    this.ddb = new DynamoDBClient({ endpoint: opts.endpoint, maxAttempts: 4 });
    this.streams = new DynamoDBStreamsClient({ endpoint: opts.endpoint, maxAttempts: 4 });
    this.pollMs = opts.pollMs ?? 100;
    this.batchWindowMs = opts.batchWindowMs ?? 0;
    this.batchSize = opts.batchSize ?? 1000;
    this.giveUpAfterMs = opts.giveUpAfterMs ?? 5 * 60_000;
    this.log = opts.log ?? (() => undefined);
  }

  /** Finds the table's stream and starts reading it from the checkpoint (its start, the first time). */
  async start(): Promise<void> {
    const { Table } = await this.ddb.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
    if (!Table?.StreamSpecification?.StreamEnabled || !Table.LatestStreamArn) throw new Error(`table ${this.opts.tableName} has no stream`);
    this.streamArn = Table.LatestStreamArn;
    this.checkpoint = new StreamCheckpoint(this.opts.checkpointFile, this.streamArn);
    this.running = this.loop();
  }

  /** Resolves once every record written before the call has been handled. */
  drain(): Promise<void> {
    if (!this.running || this.closing) return Promise.reject(new Error('the stream poller is not running'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ after: this.passes, resolve, reject });
      this.lastDescribe = 0;
      this.wakeUp();
    });
  }

  /** Stops reading; a batch being handled is finished first (a failing one is left for the next start). */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeUp();
    await this.running;
    for (const w of this.waiters.splice(0)) w.reject(new Error('the stream poller was closed'));
    this.ddb.destroy();
    this.streams.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.closing) {
      const pass = ++this.passes;
      let caughtUp = false;
      let more = false;
      let failed = false;
      try {
        ({ atEnd: caughtUp, more } = await this.pass());
      } catch (err) {
        if (err instanceof Closing) break;
        failed = true;
        this.log(`stream poller: ${(err as Error).message}`);
      }
      if (caughtUp) {
        // a pass that started after a drain call and read every shard to its end covers that call
        const done = this.waiters.filter((w) => w.after < pass);
        this.waiters = this.waiters.filter((w) => w.after >= pass);
        for (const w of done) w.resolve();
      }
      if (!more || failed) await this.sleep(failed ? Math.max(this.pollMs, 1000) : this.pollMs);
    }
  }

  /** One read of every open shard. */
  private async pass(): Promise<ShardRead> {
    if (Date.now() - this.lastDescribe >= DESCRIBE_EVERY_MS) await this.describe();
    const all: ShardRead = { atEnd: true, more: false };
    for (const shard of this.shards.values()) {
      if (this.closing) throw new Closing();
      if (this.position(shard.id).done) continue;
      // a child shard continues its parent's keys: read it only once the parent is finished
      if (shard.parentId && this.shards.has(shard.parentId) && !this.position(shard.parentId).done) {
        all.atEnd = false;
        continue;
      }
      const read = await this.poll(shard);
      all.atEnd &&= read.atEnd;
      all.more ||= read.more;
    }
    return all;
  }

  private async describe(): Promise<void> {
    const found: Shard[] = [];
    let start: string | undefined;
    do {
      const res = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      found.push(...(res.StreamDescription?.Shards ?? []));
      start = res.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    this.lastDescribe = Date.now();
    const ids = new Set(found.map((s) => s.ShardId!));
    for (const s of found) {
      if (!this.shards.has(s.ShardId!)) this.shards.set(s.ShardId!, { id: s.ShardId!, parentId: s.ParentShardId, gathered: [], since: 0 });
    }
    for (const id of this.shards.keys()) if (!ids.has(id)) this.shards.delete(id);
    await this.checkpoint!.keepOnly(ids);
  }

  private position(shardId: string) {
    return this.checkpoint!.get(shardId) ?? {};
  }

  /**
   * Reads a shard on from where it stands, and hands over a batch when it is full, its window has
   * passed, the shard has ended or a drain waits.
   */
  private async poll(shard: ShardState): Promise<ShardRead> {
    const pos = this.position(shard.id);
    try {
      shard.iterator ??= (
        await this.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.streamArn,
            ShardId: shard.id,
            ...(pos.seq ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: pos.seq } : { ShardIteratorType: 'TRIM_HORIZON' }),
          }),
        )
      ).ShardIterator;
      let exhausted = false;
      let cut = false;
      // reads on while records come, up to a full batch (as Lambda fills its batches); a batch left in
      // flight by a restart is read on to its last record, no further
      while (shard.iterator && shard.gathered.length < this.batchSize) {
        // GetRecords returns at most 1000 records
        const want = Math.min(1000, this.batchSize - shard.gathered.length);
        const res = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: want }));
        const got = res.Records ?? [];
        if (got.length && shard.gathered.length === 0) shard.since = Date.now();
        shard.gathered.push(...got);
        shard.iterator = res.NextShardIterator;
        exhausted = got.length < want;
        if (!pos.pending) {
          if (exhausted) break;
          continue;
        }
        const end = shard.gathered.findIndex((r) => r.dynamodb?.SequenceNumber === pos.pending!.last);
        if (end >= 0) {
          cut = end < shard.gathered.length - 1;
          shard.gathered.splice(end + 1);
          break;
        }
        if (!got.length) {
          this.log(`stream poller: the batch in flight at the last stop ended at ${pos.pending.last}, which shard ${shard.id} no longer holds`);
          break;
        }
      }
      const ended = !shard.iterator && !cut;
      const due =
        pos.pending !== undefined || shard.gathered.length >= this.batchSize || ended || this.waiters.length > 0 || Date.now() - shard.since >= this.batchWindowMs;
      if (shard.gathered.length && due) {
        const batch = shard.gathered;
        shard.gathered = [];
        await this.deliver(shard.id, batch);
      }
      // after a cut the iterator points past records not handed over yet: start again from the checkpoint
      if (cut) shard.iterator = undefined;
      if (ended) {
        await this.checkpoint!.set(shard.id, { ...this.position(shard.id), done: true });
        return { atEnd: true, more: false };
      }
      return { atEnd: exhausted && !cut && shard.gathered.length === 0, more: !exhausted || cut };
    } catch (err) {
      // read again from the checkpoint: what was gathered comes again
      shard.iterator = undefined;
      shard.gathered = [];
      const name = (err as Error).name;
      if (name === 'ExpiredIteratorException') return { atEnd: false, more: true };
      if (name === 'TrimmedDataAccessException') {
        this.log(`stream poller: shard ${shard.id} was trimmed past the checkpoint; reading on from its oldest record`);
        await this.checkpoint!.set(shard.id, {});
        return { atEnd: false, more: true };
      }
      throw err;
    }
  }

  private async deliver(shardId: string, records: _Record[]): Promise<void> {
    const first = records[0]!.dynamodb!.SequenceNumber!;
    const last = records[records.length - 1]!.dynamodb!.SequenceNumber!;
    await this.checkpoint!.set(shardId, { ...this.position(shardId), pending: { first, last } });
    const event: DynamoDBStreamEvent = { Records: records.map((r) => lambdaRecord(r, this.streamArn)) };
    const startedAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.opts.handler(event);
        break;
      } catch (err) {
        if (Date.now() - startedAt >= this.giveUpAfterMs) {
          // what Lambda sends to the on-failure destination: the batch is skipped
          this.log(`stream poller: gave up on ${records.length} records of shard ${shardId} (sequence ${first} to ${last}) after ${Math.round((Date.now() - startedAt) / 1000)} s: ${(err as Error).message}`);
          break;
        }
        if (this.closing) throw new Closing();
        await this.sleep(Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt));
        if (this.closing) throw new Closing();
      }
    }
    await this.checkpoint!.set(shardId, { seq: last });
  }

  private wakeUp(): void {
    this.woken = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.woken = false;
        resolve();
      };
    });
  }
}

/** The record as Lambda delivers it: JSON, with the creation time in epoch seconds and bytes in base64. */
export function lambdaRecord(r: _Record, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName,
    eventVersion: r.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: d.ApproximateCreationDateTime && Math.floor(d.ApproximateCreationDateTime.getTime() / 1000),
      Keys: d.Keys && lambdaImage(d.Keys),
      NewImage: d.NewImage && lambdaImage(d.NewImage),
      OldImage: d.OldImage && lambdaImage(d.OldImage),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType,
    },
  };
}

function lambdaImage(image: Record<string, AttributeValue>): Record<string, LambdaValue> {
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, lambdaValue(v)]));
}
function lambdaValue(v: AttributeValue): LambdaValue {
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (v.M !== undefined) return { M: lambdaImage(v.M) };
  if (v.L !== undefined) return { L: v.L.map(lambdaValue) };
  return v as LambdaValue;
}
