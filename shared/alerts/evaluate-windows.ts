import { createHash } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from '../store/clients.ts';
import { ControlTable, type AlertRule, type Tenant } from '../store/control-table.ts';
import { readWindowCounters } from '../store/rollups-table.ts';
import { alertPut, alertSortKey, getRuleStates, listAlerts, ruleStatePut, type AlertPayload } from '../store/alerts-table.ts';
import { binUpperMs, type Counters } from '../aggregate/cells.ts';
import { SLOT_MS } from '../aggregate/run-state.ts';
import { crosses, isWindowMetric } from './rules.ts';
import { forEachConcurrently } from '../concurrency.ts';
import type { DeliveryMessage } from './queue.ts';

/**
 * Windowed tenant rules, evaluated every minute from each rule's 5-minute slot counters (never by
 * scanning runs; see window-counters.ts for what ingest adds to them).
 * A window covers the slots that overlap [now − window, now]. A rule that starts to hold sends
 * `alert.firing`, one that stops holding sends `alert.resolved`, and nothing repeats while it holds:
 * the rule's state moves with a conditional write, in the same transaction as the alert event.
 */
const WINDOW_MS: Record<string, number> = { '5m': 5 * 60_000, '1h': 3_600_000, '24h': 86_400_000 };
/** Deliveries pending this long after their last attempt were lost on the way to the queue. */
const STALE_PENDING_MS = 16 * 60_000;

/** The watched value of a windowed rule from its slot counters overlapping [now − window, now]. */
export function windowValue(rule: AlertRule, slots: readonly { slot: number; counters: Counters }[], now: number): number {
  const from = now - WINDOW_MS[rule.window ?? '5m']!;
  const inWindow = slots.filter((c) => c.slot + SLOT_MS > from && c.slot <= now);
  const sum = (k: string) => inWindow.reduce((a, c) => a + (c.counters[k] ?? 0), 0);
  switch (rule.metric) {
    case 'cost_usd':
      return sum('costNanos') / 1e9;
    case 'runs_failed':
      return sum('failed');
    case 'error_rate': {
      const finished = sum('finished');
      return finished === 0 ? 0 : sum('failed') / finished;
    }
    case 'p95_run_duration_ms':
      return p95Duration(inWindow);
    default:
      return 0;
  }
}

/**
 * The 95th percentile of the runs' durations, from their histogram: the mean duration of the bin (a
 * quarter-octave, 19% wide) that holds it. Exact for a bin of one run, within the bin otherwise; a slot
 * counted before bins kept their durations gives the bin's upper bound.
 */
function p95Duration(slots: readonly { counters: Counters }[]): number {
  const runs = new Map<number, number>();
  const summed = new Map<number, number>();
  const add = (into: Map<number, number>, bin: number, v: number) => into.set(bin, (into.get(bin) ?? 0) + v);
  for (const { counters } of slots) {
    for (const [k, v] of Object.entries(counters)) {
      if (k[0] !== 'h') continue;
      const bin = Number(k.slice(1));
      add(runs, bin, v);
      // a slot counted before bins kept durations stands at the bin's upper bound
      add(summed, bin, counters[`d${bin}`] ?? v * binUpperMs(bin));
    }
  }
  const total = [...runs.values()].reduce((a, b) => a + b, 0);
  let seen = 0;
  for (const bin of [...runs.keys()].sort((a, b) => a - b)) {
    const count = runs.get(bin)!;
    seen += count;
    if (seen >= 0.95 * total) return Math.round(summed.get(bin)! / count);
  }
  return 0;
}

export async function evaluateTenant(s: Stores, tenant: Tenant, rules: readonly AlertRule[], now: number): Promise<DeliveryMessage[]> {
  const windowed = rules.filter((r) => isWindowMetric(r.metric));
  if (windowed.length === 0) return [];
  const [counters, states] = await Promise.all([
    Promise.all(windowed.map((r) => readWindowCounters(s, tenant.tenantId, r.ruleId, now - WINDOW_MS[r.window ?? '5m']! - SLOT_MS, now))),
    getRuleStates(s, tenant.tenantId),
  ]);
  const out: DeliveryMessage[] = [];
  for (const [i, rule] of windowed.entries()) {
    const value = windowValue(rule, counters[i]!, now);
    const holds = crosses(rule.op, value, rule.threshold);
    const state = states.get(rule.ruleId);
    const firing = state?.firing ?? false;
    if (holds === firing) continue;
    const type = holds ? 'alert.firing' : 'alert.resolved';
    const firedAt = new Date(now).toISOString();
    const payload: AlertPayload = {
      id: `al_${createHash('sha256').update(`${rule.ruleId}|${type}|${firedAt}`).digest('hex').slice(0, 24)}`,
      type,
      tenantId: tenant.tenantId,
      rule: { ruleId: rule.ruleId, name: rule.name, metric: rule.metric, op: rule.op, threshold: rule.threshold },
      value,
      window: rule.window,
      firedAt,
    };
    const ttl = Math.ceil((now + tenant.retentionDays * 86_400_000) / 1000);
    try {
      await s.ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            ruleStatePut(s, tenant.tenantId, rule.ruleId, { firing: holds, since: firedAt, value }, state ? state.firing : undefined),
            alertPut(s, payload, [rule.webhookId], ttl),
          ] as never,
        }),
      );
      out.push({ tenantId: tenant.tenantId, sk: alertSortKey(payload), webhookId: rule.webhookId });
    } catch (err) {
      // another evaluator moved the state first: its alert is the one that goes out
      if ((err as Error).name !== 'TransactionCanceledException') throw err;
    }
  }
  return out;
}

/**
 * Pending deliveries of the last day, last attempted at least `minAgeMs` ago: by default those whose
 * queue message was lost (a crash between commit and send; SQS delays a retry at most 15 minutes).
 */
export async function stalePendingDeliveries(s: Stores, tenantId: string, now: number, minAgeMs = STALE_PENDING_MS): Promise<DeliveryMessage[]> {
  const since = new Date(now - 86_400_000).toISOString();
  const out: DeliveryMessage[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await listAlerts(s, tenantId, 200, start as never, since);
    for (const a of page.items) {
      for (const d of Object.values(a.deliveries)) {
        const last = Date.parse(d.lastAttemptAt ?? a.payload.firedAt);
        if (d.status === 'pending' && now - last >= minAgeMs) out.push({ tenantId, sk: a.sk, webhookId: d.webhookId });
      }
    }
    start = page.lastKey;
  } while (start);
  return out;
}

export async function evaluateAll(s: Stores, now: number): Promise<DeliveryMessage[]> {
  const control = new ControlTable(s);
  const out: DeliveryMessage[] = [];
  // several tenants at a time: one tenant's many rules must not leave the others unevaluated at the timeout
  await forEachConcurrently(await control.listTenants(), TENANTS_AT_ONCE, async (tenant) => {
    const rules = await control.listRules(tenant.tenantId);
    if (rules.length === 0) return;
    out.push(...(await evaluateTenant(s, tenant, rules, now)));
    out.push(...(await stalePendingDeliveries(s, tenant.tenantId, now)));
  });
  return out;
}

const TENANTS_AT_ONCE = 8;
