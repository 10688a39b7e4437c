import { createHash } from 'node:crypto';
import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';
import type { Tenant } from './control-table.ts';
import type { MetricPoint } from '../model.ts';
import { UnavailableError } from '../errors.ts';
import { forEachConcurrently } from '../concurrency.ts';

/**
 * The metrics table: tenant metrics received on /v1/metrics. This module owns its key layout:
 *
 *   <tenant>#S#<name> / <series hash>             series state: last point time, start, cumulative value
 *   <tenant>#M#<name>#<YYYY-MM-DD> / <hour>#<series hash>   hourly point: delta sum, or last gauge value
 *
 * Points of a series are applied in time order, each in a transaction conditional on the series state,
 * so a re-sent export (same points) changes nothing and a cumulative series is turned into deltas
 * exactly once. A new start time is a reset, and so is a drop of a monotonic series; an UpDownCounter's
 * drop is a decrease.
 */
const DAY_MS = 86_400_000;

function seriesHash(p: MetricPoint): string {
  const attrs = Object.keys(p.attributes).sort().map((k) => [k, p.attributes[k]]);
  return createHash('sha256').update(JSON.stringify([p.kind, attrs])).digest('base64url').slice(0, 16);
}

export async function recordMetricPoints(s: Stores, tenant: Tenant, points: readonly MetricPoint[]): Promise<{ accepted: number; duplicates: number }> {
  const series = new Map<string, MetricPoint[]>();
  for (const p of points) {
    const key = `${p.name}\u0000${seriesHash(p)}`;
    const list = series.get(key) ?? [];
    list.push(p);
    series.set(key, list);
  }
  let accepted = 0;
  let duplicates = 0;
  // a series' points go in time order, one after the other; series are independent, and a large export
  // (a Collector's, thousands of series) written one series at a time would outlast the function
  await forEachConcurrently([...series.values()], SERIES_AT_ONCE, async (list) => {
    list.sort((a, b) => a.at - b.at);
    for (const p of list) {
      if (await recordPoint(s, tenant, p)) accepted++;
      else duplicates++;
    }
  });
  return { accepted, duplicates };
}

/** Series written at the same time by one request. */
const SERIES_AT_ONCE = 16;

async function recordPoint(s: Stores, tenant: Tenant, p: MetricPoint): Promise<boolean> {
  const hash = seriesHash(p);
  const stateKey = { pk: `${tenant.tenantId}#S#${p.name}`, sk: hash };
  // retention counts from receipt, like every other item (see shared/ingest/apply.ts)
  const ttl = Math.ceil((Math.max(p.at, Date.now()) + tenant.retentionDays * DAY_MS) / 1000);
  const hourIso = new Date(Math.floor(p.at / 3_600_000) * 3_600_000).toISOString();
  const pointKey = { pk: `${tenant.tenantId}#M#${p.name}#${hourIso.slice(0, 10)}`, sk: `${hourIso}#${hash}` };
  for (let attempt = 0; attempt < 6; attempt++) {
    const state = (await s.ddb.send(new GetCommand({ TableName: s.tables.metrics, Key: stateKey, ConsistentRead: true }))).Item;
    const lastAt = state?.lastAt as number | undefined;
    if (lastAt !== undefined && p.at <= lastAt) return false;
    let pointUpdate: Record<string, unknown>;
    if (p.kind === 'gauge') {
      pointUpdate = {
        UpdateExpression: 'SET attrs = :a, kind = :k, gaugeValue = :v, gaugeAt = :at, #ttl = :ttl',
        ExpressionAttributeValues: { ':a': p.attributes, ':k': 'gauge', ':v': p.value, ':at': p.at, ':ttl': ttl },
      };
    } else {
      // a cumulative point adds what changed since the series' last point; a new start is a reset
      // (the value is all since then), and so is a drop of a series that only grows
      let delta = p.value;
      const last = state?.lastValue as number | undefined;
      if (p.temporality === 'cumulative' && state && last !== undefined && state.lastStart === p.startAt && (p.value >= last || p.monotonic === false)) {
        delta = p.value - last;
      }
      pointUpdate = {
        UpdateExpression: 'SET attrs = :a, kind = :k, #ttl = :ttl ADD #sum :d',
        ExpressionAttributeValues: { ':a': p.attributes, ':k': 'sum', ':d': delta, ':ttl': ttl },
        ExpressionAttributeNames: { '#sum': 'sum' },
      };
    }
    const names = { '#ttl': 'ttl', ...((pointUpdate.ExpressionAttributeNames as Record<string, string>) ?? {}) };
    try {
      await s.ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: s.tables.metrics,
                Item: { ...stateKey, lastAt: p.at, lastStart: p.startAt, lastValue: p.value, ttl },
                ConditionExpression: lastAt === undefined ? 'attribute_not_exists(pk)' : 'lastAt = :prev',
                ...(lastAt === undefined ? {} : { ExpressionAttributeValues: { ':prev': lastAt } }),
              },
            },
            { Update: { TableName: s.tables.metrics, Key: pointKey, ...pointUpdate, ExpressionAttributeNames: names } as never },
          ],
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name !== 'TransactionCanceledException') throw new UnavailableError('metrics could not be written; retry', { cause: err });
    }
  }
  throw new UnavailableError('metrics series is contended; retry the request');
}

export interface MetricQueryPoint {
  at: string;
  value: number;
  attributes: Record<string, string>;
}

/** Sums as deltas per step, gauges as the last value per step; one point per step and attribute set. */
export async function queryMetric(s: Stores, tenantId: string, name: string, fromMs: number, toMs: number, step: 'hour' | 'day'): Promise<MetricQueryPoint[]> {
  const days: string[] = [];
  for (let d = Math.floor(fromMs / DAY_MS) * DAY_MS; d < toMs; d += DAY_MS) days.push(new Date(d).toISOString().slice(0, 10));
  const buckets = new Map<string, { at: number; value: number; gaugeAt: number; attributes: Record<string, string> }>();
  for (const day of days) {
    let start: Record<string, unknown> | undefined;
    do {
      const res = await s.ddb.send(
        new QueryCommand({
          TableName: s.tables.metrics,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `${tenantId}#M#${name}#${day}` },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) {
        const hourMs = Date.parse(String(item.sk).split('#')[0]!);
        if (hourMs < Math.floor(fromMs / 3_600_000) * 3_600_000 || hourMs >= toMs) continue;
        const at = step === 'hour' ? hourMs : Math.floor(hourMs / DAY_MS) * DAY_MS;
        const series = String(item.sk).split('#')[1]!;
        const key = `${at}#${series}`;
        const cur = buckets.get(key) ?? { at, value: 0, gaugeAt: -1, attributes: item.attrs as Record<string, string> };
        if (item.kind === 'gauge') {
          if ((item.gaugeAt as number) > cur.gaugeAt) {
            cur.value = item.gaugeValue as number;
            cur.gaugeAt = item.gaugeAt as number;
          }
        } else {
          cur.value += (item.sum as number) ?? 0;
        }
        buckets.set(key, cur);
      }
      start = res.LastEvaluatedKey;
    } while (start);
  }
  return [...buckets.values()]
    .sort((a, b) => a.at - b.at)
    .map((b) => ({ at: new Date(b.at).toISOString(), value: Math.round(b.value * 1e9) / 1e9, attributes: b.attributes }));
}
