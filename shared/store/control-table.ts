import { GetCommand, PutCommand, QueryCommand, UpdateCommand, DeleteCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Stores } from './clients.ts';
import type { PriceOverride } from '../pricing/price.ts';
import { UnavailableError } from '../errors.ts';

/**
 * The control table: tenants, tenant keys, consultants and their grants, webhooks and alert rules.
 * This module owns its key layout:
 *
 *   TENANTS            / <tenantId>        tenant directory (small, listed by the operator)
 *   KEY#<keyId>        / KEY               tenant key: tenant, scopes, SHA-256 of the secret, revokedAt
 *   CONSULTANT#<id>    / CONSULTANT        consultant: name, SHA-256 of the token, granted tenant ids
 *   RULES#<tenantId>   / <ruleId>          alert rules
 *   WEBHOOKS#<tenantId>/ <webhookId>       webhooks, holding their signing secrets: a partition of their
 *                                          own so IAM can keep every function but dispatch and API out
 */

export type Scope = 'ingest' | 'read';

export interface Tenant {
  tenantId: string;
  name: string;
  retentionDays: number;
  redactEmails: boolean;
  priceOverrides?: PriceOverride[];
  createdAt: string;
}
export interface TenantKey {
  keyId: string;
  tenantId: string;
  scopes: Scope[];
  hash: string;
  label?: string;
  createdAt: string;
  revokedAt?: string;
}
export interface Consultant {
  consultantId: string;
  name: string;
  hash: string;
  tenantIds: string[];
  /** bumped by every change of the grants, so concurrent changes cannot overwrite each other */
  grantsVersion?: number;
  createdAt: string;
  revokedAt?: string;
}
export interface Webhook {
  webhookId: string;
  tenantId: string;
  url: string;
  description?: string;
  secret: string;
  createdAt: string;
}
export interface RuleFilters {
  repo?: string;
  agent?: string;
  model?: string;
  branch?: string;
}
export interface AlertRule {
  ruleId: string;
  tenantId: string;
  name: string;
  metric: string;
  op: '>' | '>=' | '<' | '<=';
  threshold: number;
  window?: '5m' | '1h' | '24h';
  filters?: RuleFilters;
  webhookId: string;
  createdAt: string;
}

const tenantKey = (tenantId: string) => ({ pk: 'TENANTS', sk: tenantId });
const keyKey = (keyId: string) => ({ pk: `KEY#${keyId}`, sk: 'KEY' });
const consultantKey = (id: string) => ({ pk: `CONSULTANT#${id}`, sk: 'CONSULTANT' });
const ruleKey = (tenantId: string, ruleId: string) => ({ pk: `RULES#${tenantId}`, sk: ruleId });
const webhookKey = (tenantId: string, webhookId: string) => ({ pk: `WEBHOOKS#${tenantId}`, sk: webhookId });

function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

async function queryAll(s: Stores, pk: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await s.ddb.send(
      new QueryCommand({
        TableName: s.tables.control,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

export class ControlTable {
  constructor(private readonly s: Stores) {}

  async putTenant(t: Tenant): Promise<void> {
    await this.s.ddb.send(
      new PutCommand({
        TableName: this.s.tables.control,
        Item: { ...tenantKey(t.tenantId), ...t },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }
  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const res = await this.s.ddb.send(
      new GetCommand({ TableName: this.s.tables.control, Key: tenantKey(tenantId), ConsistentRead: true }),
    );
    return strip<Tenant>(res.Item);
  }
  async listTenants(): Promise<Tenant[]> {
    return (await queryAll(this.s, 'TENANTS')).map((i) => strip<Tenant>(i)!);
  }

  async putKey(k: TenantKey): Promise<void> {
    await this.s.ddb.send(
      new PutCommand({
        TableName: this.s.tables.control,
        Item: { ...keyKey(k.keyId), ...k },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }
  async getKey(keyId: string): Promise<TenantKey | undefined> {
    const res = await this.s.ddb.send(
      new GetCommand({ TableName: this.s.tables.control, Key: keyKey(keyId), ConsistentRead: true }),
    );
    return strip<TenantKey>(res.Item);
  }
  /** Returns false when there is no such key. Revoking twice keeps the first revocation time. */
  revokeKey(keyId: string, at: string): Promise<boolean> {
    return this.updateExisting(keyKey(keyId), 'SET revokedAt = if_not_exists(revokedAt, :at)', { ':at': at });
  }

  /** Applies `update` to the item at `key` if it exists; false when it does not. */
  private async updateExisting(key: Record<string, string>, update: string, values: Record<string, unknown>): Promise<boolean> {
    try {
      await this.s.ddb.send(
        new UpdateCommand({
          TableName: this.s.tables.control,
          Key: key,
          UpdateExpression: update,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  async putConsultant(c: Consultant): Promise<void> {
    await this.s.ddb.send(
      new PutCommand({
        TableName: this.s.tables.control,
        Item: { ...consultantKey(c.consultantId), ...c },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }
  async getConsultant(id: string): Promise<Consultant | undefined> {
    const res = await this.s.ddb.send(
      new GetCommand({ TableName: this.s.tables.control, Key: consultantKey(id), ConsistentRead: true }),
    );
    return strip<Consultant>(res.Item);
  }
  /** Revokes a consultant's token, and its grants with it; false when there is no such consultant. Revoking twice keeps the first time. */
  revokeConsultant(id: string, at: string): Promise<boolean> {
    // the grants' version moves too, so a grant change read before this one cannot write its list back
    return this.updateExisting(consultantKey(id), 'SET revokedAt = if_not_exists(revokedAt, :at), tenantIds = :none ADD grantsVersion :one', {
      ':at': at,
      ':none': [],
      ':one': 1,
    });
  }
  /**
   * Changes the grant list in one read-modify-write, retried when another change landed in between
   * (without that, two grants at once kept only one of them). Returns the grants held afterwards;
   * undefined when the consultant does not exist.
   */
  async changeGrants(id: string, change: (held: readonly string[]) => string[]): Promise<string[] | undefined> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.getConsultant(id);
      if (!c) return undefined;
      const version = c.grantsVersion ?? 0;
      const tenantIds = change(c.tenantIds ?? []);
      try {
        await this.s.ddb.send(
          new UpdateCommand({
            TableName: this.s.tables.control,
            Key: consultantKey(id),
            UpdateExpression: 'SET tenantIds = :t, grantsVersion = :next',
            ConditionExpression: version === 0 ? 'attribute_exists(pk) AND attribute_not_exists(grantsVersion)' : 'grantsVersion = :v',
            ExpressionAttributeValues: { ':t': tenantIds, ':next': version + 1, ...(version === 0 ? {} : { ':v': version }) },
          }),
        );
        return tenantIds;
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
        if (attempt >= 10) throw new UnavailableError('the grants of this consultant are changing concurrently; retry', { cause: err });
      }
    }
  }

  async putWebhook(w: Webhook): Promise<void> {
    await this.s.ddb.send(
      new PutCommand({ TableName: this.s.tables.control, Item: { ...webhookKey(w.tenantId, w.webhookId), ...w } }),
    );
  }
  async getWebhook(tenantId: string, webhookId: string): Promise<Webhook | undefined> {
    const res = await this.s.ddb.send(
      new GetCommand({ TableName: this.s.tables.control, Key: webhookKey(tenantId, webhookId), ConsistentRead: true }),
    );
    return strip<Webhook>(res.Item);
  }
  async listWebhooks(tenantId: string): Promise<Webhook[]> {
    return (await queryAll(this.s, `WEBHOOKS#${tenantId}`)).map((i) => strip<Webhook>(i)!);
  }
  /**
   * Deletes a webhook and the rules that point at it. False when absent. The last 99 rules go in the
   * webhook's own transaction (100 items at most); any before them (the API's bound can be passed by
   * creates racing) in transactions of their own first, so a failure half way leaves the webhook to
   * delete again, never a rule without its webhook.
   */
  async deleteWebhook(tenantId: string, webhookId: string): Promise<boolean> {
    const rules = (await this.listRules(tenantId)).filter((r) => r.webhookId === webhookId);
    if (!(await this.getWebhook(tenantId, webhookId))) return false;
    while (rules.length > 99) {
      const part = rules.splice(0, Math.min(100, rules.length - 99));
      await this.s.ddb.send(
        new TransactWriteCommand({ TransactItems: part.map((r) => ({ Delete: { TableName: this.s.tables.control, Key: ruleKey(tenantId, r.ruleId) } })) }),
      );
    }
    try {
      await this.s.ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.s.tables.control,
                Key: webhookKey(tenantId, webhookId),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            ...rules.map((r) => ({
              Delete: { TableName: this.s.tables.control, Key: ruleKey(tenantId, r.ruleId) },
            })),
          ],
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'TransactionCanceledException') return false;
      throw err;
    }
  }

  async putRule(r: AlertRule): Promise<void> {
    await this.s.ddb.send(
      new PutCommand({ TableName: this.s.tables.control, Item: { ...ruleKey(r.tenantId, r.ruleId), ...r } }),
    );
  }
  async listRules(tenantId: string): Promise<AlertRule[]> {
    return (await queryAll(this.s, `RULES#${tenantId}`)).map((i) => strip<AlertRule>(i)!);
  }
  async deleteRule(tenantId: string, ruleId: string): Promise<boolean> {
    const res = await this.s.ddb.send(
      new DeleteCommand({ TableName: this.s.tables.control, Key: ruleKey(tenantId, ruleId), ReturnValues: 'ALL_OLD' }),
    );
    return Boolean(res.Attributes);
  }
}
