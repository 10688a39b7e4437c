import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';
import { cellId, type CellRef, type Counters } from '../aggregate/cells.ts';

/**
 * The rollups table: this module owns its key layout.
 *
 *   <tenant>#D#<YYYY-MM-DD> / <dims hash>                 day cell (cost rollups)
 *   <tenant>#W#<YYYY-MM-DDTHH> / <slot ms>#<dims hash>     5-minute slot cell (windowed alerts), one
 *                                                          partition per hour so a window is a few queries
 *
 * Cells are updated with `ADD` only, so concurrent writers never overwrite each other's counts.
 */
export interface Cell {
  dims: CellRef['dims'];
  period: string;
  counters: Counters;
}

const DIM_ATTRS = ['repo', 'agent', 'branch', 'outcome', 'model'] as const;

export function cellKey(tenantId: string, ref: CellRef): { pk: string; sk: string } {
  const hash = cellId(ref).split('|')[2]!;
  if (ref.family === 'day') return { pk: `${tenantId}#D#${ref.period}`, sk: hash };
  const slotIso = new Date(Number(ref.period)).toISOString();
  return { pk: `${tenantId}#W#${slotIso.slice(0, 13)}`, sk: `${ref.period}#${hash}` };
}

/** The UpdateItem (for a transaction) that adds `counters` to a cell, creating it with its dimensions. */
export function cellUpdate(s: Stores, tenantId: string, ref: CellRef, counters: Counters, ttl: number) {
  const names: Record<string, string> = { '#ttl': 'ttl' };
  const values: Record<string, NativeAttributeValue> = { ':ttl': ttl };
  const sets = ['#ttl = :ttl'];
  for (const d of DIM_ATTRS) {
    const v = ref.dims[d];
    if (v === undefined) continue;
    names[`#${d}`] = d;
    values[`:${d}`] = v;
    sets.push(`#${d} = if_not_exists(#${d}, :${d})`);
  }
  const adds: string[] = [];
  Object.entries(counters).forEach(([k, v], i) => {
    names[`#c${i}`] = k;
    values[`:c${i}`] = v;
    adds.push(`#c${i} :c${i}`);
  });
  return {
    Update: {
      TableName: s.tables.rollups,
      Key: cellKey(tenantId, ref),
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

function toCell(item: Record<string, NativeAttributeValue>, period: string): Cell {
  const counters: Counters = {};
  const dims: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'pk' || k === 'sk' || k === 'ttl') continue;
    if ((DIM_ATTRS as readonly string[]).includes(k)) dims[k] = v as string;
    else if (typeof v === 'number') counters[k] = v;
  }
  return { dims: dims as unknown as CellRef['dims'], period, counters };
}

async function queryAll(s: Stores, pk: string, skBetween?: [string, string]): Promise<{ items: Record<string, NativeAttributeValue>[]; consumedUnits: number }> {
  const items: Record<string, NativeAttributeValue>[] = [];
  let consumedUnits = 0;
  let start: Record<string, NativeAttributeValue> | undefined;
  do {
    const res = await s.ddb.send(
      new QueryCommand({
        TableName: s.tables.rollups,
        KeyConditionExpression: skBetween ? 'pk = :pk AND sk BETWEEN :lo AND :hi' : 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk, ...(skBetween ? { ':lo': skBetween[0], ':hi': skBetween[1] } : {}) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    items.push(...(res.Items ?? []));
    consumedUnits += res.ConsumedCapacity?.CapacityUnits ?? 0;
    start = res.LastEvaluatedKey;
  } while (start);
  return { items, consumedUnits };
}

/** Every day cell of the given days: O(days × cells), whatever the number of events. */
export async function readDayCells(s: Stores, tenantId: string, days: readonly string[], nowSec: number): Promise<{ cells: Cell[]; consumedUnits: number }> {
  const results = await Promise.all(days.map((day) => queryAll(s, `${tenantId}#D#${day}`).then((r) => ({ day, ...r }))));
  const cells: Cell[] = [];
  let consumedUnits = 0;
  for (const r of results) {
    consumedUnits += r.consumedUnits;
    for (const item of r.items) if (!(typeof item.ttl === 'number' && item.ttl < nowSec)) cells.push(toCell(item, r.day));
  }
  return { cells, consumedUnits };
}

/** Slot cells with slot start in [fromMs, toMs). */
export async function readSlotCells(s: Stores, tenantId: string, fromMs: number, toMs: number): Promise<Cell[]> {
  const hours: string[] = [];
  for (let h = Math.floor(fromMs / 3_600_000) * 3_600_000; h < toMs; h += 3_600_000) hours.push(new Date(h).toISOString().slice(0, 13));
  const results = await Promise.all(hours.map((hour) => queryAll(s, `${tenantId}#W#${hour}`)));
  const cells: Cell[] = [];
  for (const r of results) {
    for (const item of r.items) {
      const slot = Number(String(item.sk).split('#')[0]);
      if (slot >= fromMs && slot < toMs) cells.push(toCell(item, String(slot)));
    }
  }
  return cells;
}
