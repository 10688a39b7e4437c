import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';

/**
 * The alerts table: this module owns its key layout.
 *
 *   <tenant>#EV / <firedAt ISO>#<alertId>   an alert event, its exact webhook body and its deliveries
 *   <tenant>#RS / <ruleId>                  state of a windowed rule (firing or not), for firing/resolved
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';
export interface Delivery {
  webhookId: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  lastAttemptAt?: string;
}

export interface AlertPayload {
  id: string;
  type: 'alert.firing' | 'alert.resolved';
  tenantId: string;
  rule: { ruleId: string; name: string; metric: string; op: string; threshold: number };
  value: number;
  runId?: string;
  window?: string;
  firedAt: string;
}

export interface StoredAlert {
  tenantId: string;
  sk: string;
  payload: AlertPayload;
  /** the exact JSON body sent at every attempt */
  body: string;
  deliveries: Record<string, Delivery>;
}

export const alertPartition = (tenantId: string) => `${tenantId}#EV`;
export const alertSortKey = (p: AlertPayload) => `${p.firedAt}#${p.id}`;

export function alertPut(s: Stores, payload: AlertPayload, webhookIds: string[], ttl: number) {
  const deliveries: Record<string, Delivery> = {};
  for (const w of webhookIds) deliveries[w] = { webhookId: w, status: 'pending', attempts: 0 };
  return {
    Put: {
      TableName: s.tables.alerts,
      Item: {
        pk: alertPartition(payload.tenantId),
        sk: alertSortKey(payload),
        body: JSON.stringify(payload),
        deliveries,
        ttl,
      },
    },
  };
}

function decode(tenantId: string, item: Record<string, NativeAttributeValue>): StoredAlert {
  const body = item.body as string;
  return { tenantId, sk: item.sk as string, payload: JSON.parse(body), body, deliveries: (item.deliveries ?? {}) as Record<string, Delivery> };
}

export async function getAlert(s: Stores, tenantId: string, sk: string): Promise<StoredAlert | undefined> {
  const res = await s.ddb.send(new GetCommand({ TableName: s.tables.alerts, Key: { pk: alertPartition(tenantId), sk }, ConsistentRead: true }));
  return res.Item ? decode(tenantId, res.Item) : undefined;
}

export async function putAlert(s: Stores, payload: AlertPayload, webhookIds: string[], ttl: number): Promise<void> {
  await s.ddb.send(new PutCommand(alertPut(s, payload, webhookIds, ttl).Put));
}

export async function recordAttempt(s: Stores, tenantId: string, sk: string, d: Delivery): Promise<void> {
  await s.ddb.send(
    new UpdateCommand({
      TableName: s.tables.alerts,
      Key: { pk: alertPartition(tenantId), sk },
      UpdateExpression: 'SET deliveries.#w = :d',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#w': d.webhookId },
      ExpressionAttributeValues: { ':d': d },
    }),
  );
}

export async function listAlerts(
  s: Stores,
  tenantId: string,
  limit: number,
  startKey?: Record<string, NativeAttributeValue>,
  sinceIso?: string,
): Promise<{ items: StoredAlert[]; lastKey?: Record<string, NativeAttributeValue> }> {
  const res = await s.ddb.send(
    new QueryCommand({
      TableName: s.tables.alerts,
      KeyConditionExpression: sinceIso ? 'pk = :pk AND sk >= :since' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': alertPartition(tenantId), ...(sinceIso ? { ':since': sinceIso } : {}) },
      ScanIndexForward: false,
      ConsistentRead: true,
      Limit: limit,
      ExclusiveStartKey: startKey,
    }),
  );
  return { items: (res.Items ?? []).map((i) => decode(tenantId, i)), lastKey: res.LastEvaluatedKey };
}

export interface WindowRuleState {
  firing: boolean;
  since: string;
  value: number;
}

export async function getRuleStates(s: Stores, tenantId: string): Promise<Map<string, WindowRuleState>> {
  const res = await s.ddb.send(
    new QueryCommand({
      TableName: s.tables.alerts,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `${tenantId}#RS` },
      ConsistentRead: true,
    }),
  );
  return new Map((res.Items ?? []).map((i) => [i.sk as string, { firing: Boolean(i.firing), since: i.since as string, value: i.value as number }]));
}

export function ruleStatePut(s: Stores, tenantId: string, ruleId: string, state: WindowRuleState, expectedFiring: boolean | undefined) {
  return {
    Put: {
      TableName: s.tables.alerts,
      Item: { pk: `${tenantId}#RS`, sk: ruleId, ...state },
      // two evaluators racing on the same minute: only one moves the state, so only one alert goes out
      ConditionExpression: expectedFiring === undefined ? 'attribute_not_exists(pk)' : 'firing = :f',
      ...(expectedFiring === undefined ? {} : { ExpressionAttributeValues: { ':f': expectedFiring } }),
    },
  };
}
