import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { decodeRunState, isRunItemKey } from '../store/runs-table.ts';
import { cellId, contributions, diffContributions, summariesOf, type CellRef, type Counters } from './cells.ts';

/**
 * Folds the runs table's stream into day-cell deltas. Pure: the same records give the same deltas,
 * which is what lets a retried stream batch resend the very same transactions (apply-cells.ts).
 *
 * A run item's change moves the cells by the difference between the contributions of its state after
 * and before, so a run whose repo or outcome arrives late moves its counters between cells, and
 * several changes of one run in a batch add up to the change from the first to the last state.
 */
export interface StreamImageRecord {
  /** the stream record's eventID, unique in the stream */
  eventId: string;
  /** the item before the change (absent for INSERT) */
  oldImage?: Record<string, unknown>;
  /** the item after the change (absent for REMOVE) */
  newImage?: Record<string, unknown>;
  /** when the change was written: the data's receipt time, from which retention counts */
  createdAtMs: number;
}

export interface CellDelta {
  ref: CellRef;
  counters: Counters;
  /** epoch seconds */
  ttl: number;
}

/** tenant id → cell id (`<day>|<dims hash>`) → delta */
export type TenantCellDeltas = Map<string, Map<string, CellDelta>>;

const DAY_MS = 86_400_000;

/**
 * Retention counts from when data was received: a cell lives for the retention after the later of the
 * write and the end of its day, so a backfill of old runs stays queryable as long as the runs do.
 */
export function cellTtl(ref: CellRef, retentionDays: number, receivedAt: number): number {
  return Math.ceil((Math.max(receivedAt, Date.parse(`${ref.day}T00:00:00Z`) + DAY_MS) + retentionDays * DAY_MS) / 1000);
}

function tenantOf(pk: string): string {
  return pk.slice(0, pk.length - '#RUNS'.length);
}

function addDelta(cells: Map<string, CellDelta>, id: string, ref: CellRef, counters: Counters, ttl: number): void {
  const cur = cells.get(id);
  if (!cur) {
    cells.set(id, { ref, counters: { ...counters }, ttl });
    return;
  }
  for (const [k, v] of Object.entries(counters)) cur.counters[k] = (cur.counters[k] ?? 0) + v;
  cur.ttl = Math.max(cur.ttl, ttl);
}

export function dayCellDeltas(records: readonly StreamImageRecord[]): TenantCellDeltas {
  const out: TenantCellDeltas = new Map();
  for (const r of records) {
    // a removal is TTL expiry (runs are never deleted otherwise): retention is not a correction, the
    // cells keep what the run put in them until they expire themselves
    if (!r.newImage) continue;
    const { pk, sk } = r.newImage;
    if (typeof pk !== 'string' || typeof sk !== 'string' || !isRunItemKey(pk, sk)) continue;
    const before = r.oldImage && decodeRunState(r.oldImage as Record<string, NativeAttributeValue>);
    const after = decodeRunState(r.newImage as Record<string, NativeAttributeValue>);
    const delta = diffContributions(contributions(before?.state), contributions(after.state));
    if (delta.size === 0) continue;

    const tenantId = tenantOf(pk);
    const cells = out.get(tenantId) ?? new Map<string, CellDelta>();
    out.set(tenantId, cells);
    for (const [id, { ref, counters }] of delta) addDelta(cells, id, ref, counters, cellTtl(ref, after.retentionDays, r.createdAtMs));
  }
  // the day summaries move with the cells (unfiltered rollups read them instead of every cell): from
  // the batch's sums, as they are linear, each kept as long as the longest-kept cell it sums
  for (const cells of out.values()) {
    for (const cell of [...cells.values()]) {
      for (const s of summariesOf(cell.ref, cell.counters)) addDelta(cells, cellId(s.ref), s.ref, s.counters, cell.ttl);
    }
  }
  // changes that cancel out within the batch (a run moved there and back) leave nothing to write
  for (const [tenantId, cells] of out) {
    for (const [id, cell] of cells) {
      for (const [k, v] of Object.entries(cell.counters)) if (v === 0) delete cell.counters[k];
      if (Object.keys(cell.counters).length === 0) cells.delete(id);
    }
    if (cells.size === 0) out.delete(tenantId);
  }
  return out;
}
