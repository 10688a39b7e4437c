import type { StoredRun } from '../store/runs-table.ts';

/**
 * What this process last committed of each run, so that a run's next batch here is planned without
 * reading it first; and, for a run it has not seen, a guess whether the run is new.
 *
 * Both only ever save a read. Every run write is conditional on the version it was planned from, or on
 * the run not existing yet (apply.ts), so a stale entry or a wrong guess fails its condition, and the
 * run is read and planned again. What a cached state says was absorbed really was committed, so
 * duplicates found against it are duplicates.
 *
 * A client usually sends a run whole, or batch after batch to the same warm function. When a tenant's
 * unseen runs turn out to exist (its batches spread over many containers, or it resends old batches),
 * a wrong guess costs a failed write and a read. So each tenant's share of unseen runs that existed is
 * learnt, from the writes of guessed runs and the reads of the others, and above one in ten its
 * unseen runs are read first again, as if there were no cache.
 */
export class RunCache {
  private readonly runs = new Map<string, StoredRun>();
  private readonly existed = new Map<string, number>();

  constructor(
    private readonly maxRuns = 2000,
    private readonly maxTenants = 1000,
  ) {}

  get(tenantId: string, runId: string): StoredRun | undefined {
    const key = runKey(tenantId, runId);
    const run = this.runs.get(key);
    if (run) {
      // most recently used last, so the oldest is evicted first
      this.runs.delete(key);
      this.runs.set(key, run);
    }
    return run;
  }

  /** Remembers the state just committed (the caller must not change it afterwards). */
  set(tenantId: string, runId: string, run: StoredRun): void {
    const key = runKey(tenantId, runId);
    this.runs.delete(key);
    this.runs.set(key, run);
    if (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value!);
  }

  forget(tenantId: string, runId: string): void {
    this.runs.delete(runKey(tenantId, runId));
  }

  /** Whether to plan a run this process has not seen as a new run, instead of reading it. */
  guessNew(tenantId: string): boolean {
    return (this.existed.get(tenantId) ?? 0) < GUESS_BELOW;
  }

  /** What a run this process had not seen turned out to be. */
  learn(tenantId: string, existed: boolean): void {
    const share = this.existed.get(tenantId) ?? 0;
    this.existed.delete(tenantId);
    this.existed.set(tenantId, share + ((existed ? 1 : 0) - share) * LEARN_RATE);
    if (this.existed.size > this.maxTenants) this.existed.delete(this.existed.keys().next().value!);
  }

  clear(): void {
    this.runs.clear();
    this.existed.clear();
  }
}

/** Unseen runs are guessed new while fewer than this share of them existed. */
const GUESS_BELOW = 0.1;
/** Each outcome's weight in the share: about the last 20 unseen runs count. */
const LEARN_RATE = 0.05;

const runKey = (tenantId: string, runId: string) => `${tenantId}\n${runId}`;

/** The process's cache: a warm Lambda keeps it across invocations. */
export const runCache = new RunCache();
