import { createHash } from 'node:crypto';
import type { Stores } from '../store/clients.ts';
import type { AlertRule, Tenant } from '../store/control-table.ts';
import type { NormalizedEvent, ParsedBatch, Rejection } from '../model.ts';
import type { PricedEvent } from '../aggregate/run-state.ts';
import { redactDeep } from '../redaction/redact.ts';
import { priceStep } from '../pricing/price.ts';
import { encodeLines, putRawBatch, rawKey, type RawLine } from '../store/raw-bucket.ts';
import { applyToIndex, type AlertRef } from './apply.ts';
import { recordMetricPoints } from '../store/metrics-table.ts';
import { UnavailableError } from '../errors.ts';

/**
 * One ingest request, after parsing: redact, price, keep raw, index. The raw object is written before
 * anything is indexed; if indexing fails the request answers 503 and the client's retry converges
 * (apply.ts explains why).
 */
export interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
  alerts: AlertRef[];
}

export interface IngestDeps {
  stores: Stores;
  tenant: Tenant;
  rules: readonly AlertRule[];
  now?: () => number;
}

export function batchIdOf(tenantId: string, source: string, body: Buffer | string): string {
  return createHash('sha256').update(`${tenantId}\n${source}\n`).update(body).digest('hex').slice(0, 32);
}

export async function ingestParsed(deps: IngestDeps, parsed: ParsedBatch, batchId: string): Promise<IngestOutcome> {
  const { stores: s, tenant } = deps;
  const receivedAt = (deps.now ?? Date.now)();
  const receivedIso = new Date(receivedAt).toISOString();
  const redaction = { emails: tenant.redactEmails };

  const priced: PricedEvent[] = [];
  /** the event id and request position of each priced event, for the rejections indexing makes */
  const kept: { index: number; id: string }[] = [];
  const lines: RawLine[] = [];
  const rejected = [...parsed.rejected];
  for (const [i, item] of parsed.items.entries()) {
    const ev = redactDeep(item.event, redaction).value;
    const altered = alteredId(item.event, ev);
    if (altered) {
      // the answer names the event by its redacted id: the secret is not sent back either
      rejected.push({ index: item.index ?? i, id: ev.eventId, error: `${altered}: holds a secret, and ids are stored as they are sent (runs are found by them): send an id without it` });
      continue;
    }
    const raw = redactDeep(item.raw, redaction);
    const p: PricedEvent = { ...ev, redactions: raw.count };
    if (ev.type === 'step') {
      const price = priceStep(
        { model: ev.step.model, usage: ev.step.usage, costUsd: ev.step.costUsd, at: ev.step.startedAt },
        tenant.priceOverrides,
      );
      p.costNanos = price.costUsd === undefined ? undefined : Math.round(price.costUsd * 1e9);
      p.unpricedTokens = price.unpricedTokens;
    }
    priced.push(p);
    kept.push({ index: item.index ?? i, id: item.event.eventId });
    lines.push({ source: parsed.source, receivedAt: receivedIso, runId: ev.runId, event: raw.value });
  }
  // metric points are stored too (raw object and metrics table): their names and attributes are redacted alike
  const metricPoints = (parsed.metrics ?? []).map((m) => redactDeep(m, redaction).value);
  for (const m of metricPoints) lines.push({ source: parsed.source, receivedAt: receivedIso, event: m });
  if (lines.length === 0) {
    return { accepted: 0, duplicates: 0, rejected: rejected.sort((a, b) => a.index - b.index), alerts: [] };
  }

  const key = rawKey(tenant.tenantId, receivedAt, batchId);
  try {
    await putRawBatch(s, key, encodeLines(lines), tenant.retentionDays);
  } catch (err) {
    throw new UnavailableError('raw storage is unavailable; retry the request', { cause: err });
  }

  let accepted = 0;
  let duplicates = 0;
  let alerts: AlertRef[] = [];
  if (priced.length > 0) {
    const applied = await applyToIndex(s, {
      tenant,
      batchId,
      receivedAt,
      items: priced.map((event, line) => ({ event, line })),
      rules: deps.rules,
    });
    accepted += applied.outcome.filter((o) => o === 'accepted').length;
    duplicates += applied.outcome.filter((o) => o === 'duplicate').length;
    for (const [i, error] of applied.reasons) rejected.push({ ...kept[i]!, error });
    alerts = applied.alerts;
  }
  rejected.sort((a, b) => a.index - b.index);
  if (metricPoints.length > 0) {
    const m = await recordMetricPoints(s, tenant, metricPoints);
    accepted += m.accepted;
    duplicates += m.duplicates;
  }
  return { accepted, duplicates, rejected, alerts };
}

/**
 * The first id of an event that redaction changed (`id`, `runId`, `stepId`, `parentStepId`). Such an
 * event is rejected rather than stored: its run could not be found by the id sent, and two ids that
 * differ only in their secret would become one run, or one event taken for the other's duplicate.
 */
function alteredId(sent: NormalizedEvent, redacted: NormalizedEvent): string | undefined {
  if (redacted.eventId !== sent.eventId) return 'id';
  if (redacted.runId !== sent.runId) return 'runId';
  if (sent.type === 'step' && redacted.type === 'step') {
    if (redacted.step.stepId !== sent.step.stepId) return 'stepId';
    if (redacted.step.parentStepId !== sent.step.parentStepId) return 'parentStepId';
  }
  if ((sent.type === 'log' || sent.type === 'assertion') && (redacted.type === 'log' || redacted.type === 'assertion') && redacted.stepId !== sent.stepId) return 'stepId';
  return undefined;
}
