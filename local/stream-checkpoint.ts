import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';

/**
 * Where the local stream poller stands in each shard, kept in a JSON file under the data dir so that a
 * restart of the stack neither loses nor re-applies records:
 *
 *   seq      the last sequence number handed to the handler successfully
 *   pending  the batch being handed over (first and last sequence numbers): after a crash, the same
 *            batch is formed again, so its transaction tokens match the ones that may have committed
 *   done     the shard is closed and read to its end
 */
export interface ShardPosition {
  seq?: string;
  pending?: { first: string; last: string };
  done?: boolean;
}

interface CheckpointFile {
  /** positions belong to one stream: a table re-created with a new stream starts over */
  streamArn: string;
  shards: Record<string, ShardPosition>;
}

export class StreamCheckpoint {
  private shards: Record<string, ShardPosition> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly streamArn: string,
  ) {
    if (!existsSync(file)) return;
    const saved = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile;
    if (saved.streamArn === streamArn) this.shards = saved.shards;
  }

  get(shardId: string): ShardPosition | undefined {
    return this.shards[shardId];
  }

  knows(shardId: string): boolean {
    return shardId in this.shards;
  }

  /** Changes one shard's position and writes the file (atomically: a crash leaves the old or the new). */
  async set(shardId: string, position: ShardPosition): Promise<void> {
    this.shards[shardId] = position;
    await this.save();
  }

  /** Forgets shards the stream no longer lists (trimmed after 24 hours). */
  async keepOnly(shardIds: ReadonlySet<string>): Promise<void> {
    const before = Object.keys(this.shards).length;
    this.shards = Object.fromEntries(Object.entries(this.shards).filter(([id]) => shardIds.has(id)));
    if (Object.keys(this.shards).length !== before) await this.save();
  }

  private save(): Promise<void> {
    const body = JSON.stringify({ streamArn: this.streamArn, shards: this.shards } satisfies CheckpointFile);
    // one write at a time, in order: the last one leaves the latest positions
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await writeFile(`${this.file}.tmp`, body);
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.writing;
  }
}
