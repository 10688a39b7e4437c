import { createHash } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../store/clients.ts';
import { dayCellKey, dayCellUpdate } from '../store/rollups-table.ts';
import { dayCellDeltas, type StreamImageRecord, type TenantCellDeltas } from './stream.ts';
import type { Counters } from './cells.ts';

/**
 * Writes a stream batch's day-cell deltas, exactly once however often the batch is retried.
 *
 * The deltas are split into transactions deterministically (cells sorted by key, counters by name),
 * and each transaction carries a ClientRequestToken derived from the batch and its part number.
 * DynamoDB treats a token it has seen within 10 minutes as done, so a retry after a partial failure
 * skips the parts that committed:
 *
 *   attempt 1: part 1/3 ✓  part 2/3 ✓  part 3/3 ✗ throttled → the batch is retried
 *   attempt 2: part 1/3 (token seen: no-op)  part 2/3 (no-op)  part 3/3 ✓
 *
 * The event source gives up on a batch after 5 minutes of record age, well inside the tokens' window.
 * A batch must therefore never be split or regrouped between attempts (Lambda: bisectBatchOnError off).
 */
export interface BatchId {
  firstEventId: string;
  lastEventId: string;
}

export interface AppliedCells {
  /** cell updates written (a cell with many counters takes several) */
  updates: number;
  transactions: number;
  consumedWriteUnits: number;
}

const MAX_TX_ITEMS = 100;
/** counters one cell update may carry: its update expression must stay under DynamoDB's 4 KB */
export const MAX_CELL_COUNTERS = 300;

interface CellUpdate {
  /** `<pk>\n<sk>`: a transaction may touch an item only once */
  key: string;
  item: ReturnType<typeof dayCellUpdate>;
}

function cellUpdates(s: Stores, deltas: TenantCellDeltas): CellUpdate[] {
  const cells = [...deltas].flatMap(([tenantId, cellMap]) =>
    [...cellMap.values()].map((c) => {
      const k = dayCellKey(tenantId, c.ref);
      return { tenantId, cell: c, key: `${k.pk}\n${k.sk}` };
    }),
  );
  cells.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: CellUpdate[] = [];
  for (const { tenantId, cell, key } of cells) {
    const names = Object.keys(cell.counters).filter((n) => cell.counters[n] !== 0).sort();
    for (let i = 0; i < names.length; i += MAX_CELL_COUNTERS) {
      const counters: Counters = Object.fromEntries(names.slice(i, i + MAX_CELL_COUNTERS).map((n) => [n, cell.counters[n]!]));
      out.push({ key, item: dayCellUpdate(s, tenantId, cell.ref, counters, cell.ttl) });
    }
  }
  return out;
}

/** First fit, in key order: the same updates always give the same transactions. */
export function packTransactions<T extends { key: string }>(updates: readonly T[]): T[][] {
  const txs: { items: T[]; keys: Set<string> }[] = [];
  for (const u of updates) {
    let tx = txs.find((t) => t.items.length < MAX_TX_ITEMS && !t.keys.has(u.key));
    if (!tx) {
      tx = { items: [], keys: new Set() };
      txs.push(tx);
    }
    tx.items.push(u);
    tx.keys.add(u.key);
  }
  return txs.map((t) => t.items);
}

/** At most 36 characters, DynamoDB's limit for a ClientRequestToken. */
export function requestToken(batch: BatchId, part: number, parts: number): string {
  return createHash('sha256').update(`${batch.firstEventId}\n${batch.lastEventId}\n${part}\n${parts}`).digest('hex').slice(0, 36);
}

/** Throws on any failure (throttling included): the caller retries the whole batch, unchanged. */
export async function applyCellDeltas(s: Stores, deltas: TenantCellDeltas, batch: BatchId): Promise<AppliedCells> {
  const txs = packTransactions(cellUpdates(s, deltas));
  // in parallel: each part is exactly-once by itself, and every one is settled before a retry
  const settled = await Promise.allSettled(
    txs.map((tx, i) =>
      s.ddb.send(
        new TransactWriteCommand({
          TransactItems: tx.map((u) => u.item),
          ClientRequestToken: requestToken(batch, i + 1, txs.length),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    ),
  );
  let consumedWriteUnits = 0;
  for (const r of settled) {
    if (r.status === 'rejected') throw r.reason;
    for (const c of r.value.ConsumedCapacity ?? []) consumedWriteUnits += c.CapacityUnits ?? 0;
  }
  return { updates: txs.reduce((n, tx) => n + tx.length, 0), transactions: txs.length, consumedWriteUnits };
}

/** A stream batch, as the event source delivered it, folded into the day cells. */
export async function applyStreamBatch(s: Stores, records: readonly StreamImageRecord[]): Promise<AppliedCells> {
  if (records.length === 0) return { updates: 0, transactions: 0, consumedWriteUnits: 0 };
  const batch = { firstEventId: records[0]!.eventId, lastEventId: records[records.length - 1]!.eventId };
  return applyCellDeltas(s, dayCellDeltas(records), batch);
}
