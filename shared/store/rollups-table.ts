import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';
import { dimsHash, modelCounter, parseModelCounter, type CellRef, type Counters, type SummaryKind } from '../aggregate/cells.ts';

/**
 * The rollups table: this module owns its key layout.
 *
 *   <tenant>#D#<YYYY-MM-DD> / <dims hash>     day cell (cost rollups), see shared/aggregate/cells.ts
 *   <tenant>#S#<YYYY-MM-DD> / <kind>|<dims hash>  day summary of one dimension (unfiltered rollups)
 *   <tenant>#W#<ruleId>     / <slot ISO>      a windowed alert rule's counters per 5-minute slot
 *
 * Both are only ever changed with `ADD`, so concurrent writers never overwrite each other's counts.
 */
export interface Cell {
  day: string;
  dims: CellRef['dims'];
  counters: Counters;
}

const DIM_ATTRS = ['repo', 'agent', 'branch', 'outcome'] as const;

function addUpdate(table: string, key: { pk: string; sk: string }, counters: Counters, ttl: number, sets: Record<string, string> = {}) {
  const names: Record<string, string> = { '#ttl': 'ttl' };
  const values: Record<string, NativeAttributeValue> = { ':ttl': ttl };
  const setExprs = ['#ttl = :ttl'];
  Object.entries(sets).forEach(([k, v], i) => {
    names[`#d${i}`] = k;
    values[`:d${i}`] = v;
    setExprs.push(`#d${i} = if_not_exists(#d${i}, :d${i})`);
  });
  const adds: string[] = [];
  // short placeholders: an update expression may be at most 4 KB
  Object.entries(counters).forEach(([k, v], n) => {
    const i = n.toString(36);
    names[`#${i}`] = k;
    values[`:${i}`] = v;
    adds.push(`#${i} :${i}`);
  });
  return {
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression: `SET ${setExprs.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/**
 * Day cells are rewritten on every update and billed per KB of the whole item, and most of a cell is
 * its attribute names (`m|<model>|<counter>` for each model): counters are stored under one letter.
 */
const SHORT: Record<string, string> = {
  costNanos: 'c', inputTokens: 'i', outputTokens: 'o', cacheReadTokens: 'r', cacheWriteTokens: 'w', unpricedTokens: 'u',
  llmCalls: 'l', toolCalls: 't', errors: 'e', runs: 'n', wallTimeMs: 'd', usefulOutcomes: 'g',
};
const LONG = Object.fromEntries(Object.entries(SHORT).map(([k, v]) => [v, k]));

function renameCounter(name: string, table: Record<string, string>): string {
  const m = parseModelCounter(name);
  if (m) return modelCounter(m.model, table[m.counter] ?? m.counter);
  return table[name] ?? name;
}
const renamed = (counters: Counters, table: Record<string, string>): Counters =>
  Object.fromEntries(Object.entries(counters).map(([k, v]) => [renameCounter(k, table), v]));
/** A day cell's counters as stored (one-letter names) under their names in the rollups. */
export const fromStoredNames = (stored: Counters): Counters => renamed(stored, LONG);

export function dayCellKey(tenantId: string, ref: CellRef): { pk: string; sk: string } {
  if (ref.summary) return { pk: `${tenantId}#S#${ref.day}`, sk: `${ref.summary}|${dimsHash(ref.dims)}` };
  return { pk: `${tenantId}#D#${ref.day}`, sk: dimsHash(ref.dims) };
}

/** The UpdateItem (for a transaction) that adds `counters` to a day cell, creating it with its dimensions. */
export function dayCellUpdate(s: Stores, tenantId: string, ref: CellRef, counters: Counters, ttl: number) {
  return addUpdate(s.tables.rollups, dayCellKey(tenantId, ref), renamed(counters, SHORT), ttl, { ...ref.dims });
}

export function windowCounterUpdate(s: Stores, tenantId: string, ruleId: string, slotMs: number, counters: Counters, ttl: number) {
  return addUpdate(s.tables.rollups, { pk: `${tenantId}#W#${ruleId}`, sk: new Date(slotMs).toISOString() }, counters, ttl);
}

function toCell(item: Record<string, NativeAttributeValue>, day: string): Cell {
  const counters: Counters = {};
  const dims: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'pk' || k === 'sk' || k === 'ttl') continue;
    if ((DIM_ATTRS as readonly string[]).includes(k)) dims[k] = v as string;
    else if (typeof v === 'number') counters[k] = v;
  }
  return { day, dims: dims as unknown as CellRef['dims'], counters: renamed(counters, LONG) };
}

async function queryAll(s: Stores, pk: string, skBetween?: [string, string], skPrefix?: string) {
  const items: Record<string, NativeAttributeValue>[] = [];
  let consumedUnits = 0;
  let start: Record<string, NativeAttributeValue> | undefined;
  do {
    const res = await s.ddb.send(
      new QueryCommand({
        TableName: s.tables.rollups,
        KeyConditionExpression: skBetween ? 'pk = :pk AND sk BETWEEN :lo AND :hi' : skPrefix ? 'pk = :pk AND begins_with(sk, :p)' : 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk, ...(skBetween ? { ':lo': skBetween[0], ':hi': skBetween[1] } : {}), ...(skPrefix ? { ':p': skPrefix } : {}) },
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

/**
 * Every day cell of the given days: O(days × cells), whatever the number of events; or, with `summary`,
 * that kind of day summary only: O(days × values of one dimension).
 */
export async function readDayCells(s: Stores, tenantId: string, days: readonly string[], nowSec: number, summary?: SummaryKind): Promise<{ cells: Cell[]; consumedUnits: number; itemsRead: number }> {
  const read = (day: string) => (summary ? queryAll(s, `${tenantId}#S#${day}`, undefined, `${summary}|`) : queryAll(s, `${tenantId}#D#${day}`));
  const results = await Promise.all(days.map((day) => read(day).then((r) => ({ day, ...r }))));
  const cells: Cell[] = [];
  let consumedUnits = 0;
  let itemsRead = 0;
  for (const r of results) {
    consumedUnits += r.consumedUnits;
    itemsRead += r.items.length;
    for (const item of r.items) if (!(typeof item.ttl === 'number' && item.ttl < nowSec)) cells.push(toCell(item, r.day));
  }
  return { cells, consumedUnits, itemsRead };
}

/** A windowed rule's slot counters with slot start in [fromMs, toMs]. */
export async function readWindowCounters(s: Stores, tenantId: string, ruleId: string, fromMs: number, toMs: number): Promise<{ slot: number; counters: Counters }[]> {
  const { items } = await queryAll(s, `${tenantId}#W#${ruleId}`, [new Date(fromMs).toISOString(), new Date(toMs).toISOString()]);
  return items.map((item) => {
    const counters: Counters = {};
    for (const [k, v] of Object.entries(item)) if (k !== 'ttl' && typeof v === 'number') counters[k] = v;
    return { slot: Date.parse(item.sk as string), counters };
  });
}
