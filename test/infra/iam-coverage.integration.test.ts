import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { App, Stack, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build.ts';
import type { HandlerName } from '../../infra/constructs/function.ts';
import type { LidlessStack } from '../../infra/stack.ts';
import { TABLES, tableName, type TableId } from '../../shared/tables.ts';
import { resetStores, stores } from '../../shared/store/clients.ts';
import { resetRuntime, useDeliveryQueue } from '../../shared/runtime.ts';
import type { DeliveryMessage } from '../../shared/alerts/queue.ts';
import { encodeRun } from '../../shared/store/runs-table.ts';
import { EventHashes } from '../../shared/store/run-item.ts';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { lambdaRecord } from '../../local/streams.ts';
import { callApi, gatewayEvent, resultBody, type Handler } from '../../bench/apigw.ts';
import { stackInfo } from '../helpers/stack.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';
import { kv, nanos, str } from '../fixtures/otlp-json.ts';

/**
 * DynamoDB Local and the S3 server have no IAM, so a handler that calls what its role does not allow
 * passes every other test and fails in AWS. Here each handler runs its flows in-process against the
 * embedded stack while every AWS call it makes is recorded as the IAM action it needs (a PartiQL
 * INSERT needs dynamodb:PartiQLInsert, a BatchWriteItem dynamodb:BatchWriteItem, ...), and each one
 * must be allowed, on that table or bucket, by that function's role in the synthesized stack.
 */
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

interface Call {
  fn: HandlerName;
  action: string;
  /** a table id, `<table id>/index/<name>`, `bucket` or `queue` */
  resource: string;
  /** the partition key the call touches (what `dynamodb:LeadingKeys` conditions look at), when it names one */
  leadingKey?: string;
}

const calls: Call[] = [];
let current: HandlerName | undefined;

function record(action: string, resource: string, leadingKey?: string): void {
  if (!current) throw new Error(`an AWS call (${action}) outside any handler`);
  calls.push({ fn: current, action, resource, ...(leadingKey === undefined ? {} : { leadingKey }) });
}

/** A partition key as the input carries it, marshalled or not. */
function pkOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const marshalled = (value as { S?: unknown } | undefined)?.S;
  return typeof marshalled === 'string' ? marshalled : undefined;
}

/** The table id of a physical table name of the embedded stack. */
function tableId(name: string): TableId {
  const def = TABLES.find((t) => tableName(stackInfo().tablePrefix, t.id) === name);
  if (!def) throw new Error(`not a Lidless table: ${name}`);
  return def.id;
}

type Input = Record<string, any>;

type Needed = [action: string, resource: string, leadingKey?: string];

/** The IAM actions a DynamoDB call needs, per table (or index), by the SDK operation's command; an unknown one fails the test. */
function dynamoActions(command: string, input: Input): Needed[] {
  const one = (action: string): Needed[] => [[`dynamodb:${action}`, tableId(input.TableName), pkOf(input.Key?.pk ?? input.Item?.pk)]];
  switch (command) {
    case 'GetItemCommand':
      return one('GetItem');
    case 'PutItemCommand':
      return one('PutItem');
    case 'UpdateItemCommand':
      return one('UpdateItem');
    case 'DeleteItemCommand':
      return one('DeleteItem');
    case 'QueryCommand':
      return [['dynamodb:Query', tableId(input.TableName) + (input.IndexName ? `/index/${input.IndexName}` : ''), pkOf(input.ExpressionAttributeValues?.[':pk'])]];
    case 'BatchGetItemCommand':
      return Object.entries(input.RequestItems as Record<string, Input>).flatMap(([t, r]) => (r.Keys as Input[]).map((k): Needed => ['dynamodb:BatchGetItem', tableId(t), pkOf(k.pk)]));
    case 'BatchWriteItemCommand':
      return Object.keys(input.RequestItems).map((t): Needed => ['dynamodb:BatchWriteItem', tableId(t)]);
    case 'TransactWriteItemsCommand': {
      const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
      return (input.TransactItems as Input[]).map((item): Needed => {
        const [kind, op] = Object.entries(item)[0] as [string, Input];
        return [`dynamodb:${kinds[kind]}`, tableId(op.TableName), pkOf(op.Key?.pk ?? op.Item?.pk)];
      });
    }
    case 'BatchExecuteStatementCommand':
      return (input.Statements as Input[]).map((s) => {
        const verb = /^\s*(\w+)/.exec(s.Statement)![1]!.toLowerCase();
        const table = /"([^"]+)"/.exec(s.Statement)![1]!;
        return [`dynamodb:PartiQL${verb[0]!.toUpperCase()}${verb.slice(1)}`, tableId(table)];
      });
    default:
      throw new Error(`no IAM mapping for DynamoDB ${command}: add it to this test`);
  }
}

function s3Actions(command: string, input: Input): Needed[] {
  switch (command) {
    case 'PutObjectCommand':
      return [['s3:PutObject', 'bucket'], ...(input.Tagging ? [['s3:PutObjectTagging', 'bucket'] as Needed] : [])];
    case 'GetObjectCommand':
      return [['s3:GetObject', 'bucket']];
    default:
      throw new Error(`no IAM mapping for S3 ${command}: add it to this test`);
  }
}

function recorder(actions: (command: string, input: Input) => Needed[]) {
  return <A extends { input: unknown }, R>(next: (args: A) => Promise<R>, context: { commandName?: string }) =>
    async (args: A): Promise<R> => {
      for (const [action, resource, leadingKey] of actions(String(context.commandName), args.input as Input)) record(action, resource, leadingKey);
      return next(args);
    };
}

async function as<T>(fn: HandlerName, work: () => Promise<T>): Promise<T> {
  current = fn;
  try {
    return await work();
  } finally {
    current = undefined;
  }
}

describe('every AWS call a handler makes is allowed by its role', () => {
  let stack: LidlessStack;
  let template: Template;
  let receiver: Receiver;
  const queued: DeliveryMessage[] = [];

  beforeAll(async () => {
    useStackEnvironment();
    Object.assign(process.env, { LIDLESS_OPERATOR_TOKEN: stackInfo().operatorToken, LIDLESS_LOCAL_MODE: '1', LIDLESS_WEBHOOK_BASE_DELAY_MS: '10' });
    resetStores();
    resetRuntime();
    const s = stores();
    s.ddb.middlewareStack.add(recorder(dynamoActions) as never, { step: 'initialize', name: 'iamRecorder' });
    s.s3.middlewareStack.add(recorder(s3Actions) as never, { step: 'initialize', name: 'iamRecorder' });
    useDeliveryQueue({
      async send(messages) {
        record('sqs:SendMessage', 'queue');
        queued.push(...messages);
      },
    });
    receiver = await startReceiver({ answers: [500], otherwise: 200 });
    // the policies only: no bundling (the stack's functions are not run from here)
    ({ stack } = buildApp(new App({ context: { ...CDK_CONTEXT, stage: 'iam', 'aws:cdk:bundling-stacks': [] } })));
    template = Template.fromStack(stack);
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    resetStores();
    resetRuntime();
  });

  it('in the flows of ingest, the API, the stream aggregator, the evaluator and the dispatcher', async () => {
    const [ingest, api, aggregate, evaluate, dispatch] = await Promise.all([
      import('../../functions/ingest.ts').then((m) => m.handler as Handler),
      import('../../functions/api.ts').then((m) => m.handler as Handler),
      import('../../functions/aggregate.ts').then((m) => m.handler as (e: DynamoDBStreamEvent) => Promise<unknown>),
      import('../../functions/evaluate.ts').then((m) => m.handler as (e: unknown) => Promise<unknown>),
      import('../../functions/dispatch.ts').then((m) => m.handler as (e: SQSEvent) => Promise<unknown>),
    ]);
    const op = stackInfo().operatorToken;
    const call = (token: string, kind: 'query' | 'mutation', proc: string, input: unknown) => callApi<any>(api, token, kind, proc, input);
    const post = async (key: string, path: string, body: unknown) => {
      const res = await ingest(gatewayEvent({ method: 'POST', path, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(body)) }));
      expect(res.statusCode, `${path}: ${resultBody(res)}`).toBe(200);
    };

    // the API: the operator's procedures
    const { tenantId, key, consultant } = await as('api', async () => {
      const tenant = await call(op, 'mutation', 'admin.tenants.create', { name: 'iam' });
      const { key } = await call(op, 'mutation', 'admin.keys.create', { tenantId: tenant.tenantId, scopes: ['ingest', 'read'] });
      const spare = await call(op, 'mutation', 'admin.keys.create', { tenantId: tenant.tenantId, scopes: ['read'] });
      await call(op, 'mutation', 'admin.keys.revoke', { keyId: spare.keyId });
      const consultant = await call(op, 'mutation', 'admin.consultants.create', { name: 'c', tenantIds: [] });
      await call(op, 'mutation', 'admin.consultants.grant', { consultantId: consultant.consultantId, tenantIds: [tenant.tenantId] });
      await call(op, 'query', 'admin.tenants.list', {});
      return { tenantId: tenant.tenantId, key, consultant };
    });

    // ingest, for a tenant without rules: a long session (its steps move to chunks, its hashes to pages),
    // and OTLP metrics
    const t0 = Date.now() - 60 * 60_000;
    await as('ingest', async () => {
      for (let batch = 0; batch < 40; batch++) {
        const events = Array.from({ length: 5 }, (_, i) => {
          const n = batch * 5 + i;
          return { type: 'step', id: `e${n}`, runId: 'long', stepId: `s${n}`, kind: 'llm', name: 'chat', startedAt: new Date(t0 + n * 1000).toISOString(), model: 'claude-sonnet-4-5', usage: { inputTokens: 100, outputTokens: 10 } };
        });
        await post(key, '/v1/ingest', { events });
      }
      const point = { startTimeUnixNano: nanos(t0), timeUnixNano: nanos(t0 + 60_000), asDouble: 0.5, attributes: kv({ model: str('claude-sonnet-4-5') }) };
      await post(key, '/v1/metrics', { resourceMetrics: [{ resource: { attributes: kv({ 'service.name': str('claude-code') }) }, scopeMetrics: [{ metrics: [{ name: 'claude_code.cost.usage', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [point] } }] }] }] });
    });

    // a reader's alert set-up, then ingest of runs that fire alerts and move windowed counters
    await as('api', async () => {
      const { webhookId } = await call(key, 'mutation', 'alerts.webhooks.create', { tenantId, url: `${receiver.url}/hook` });
      for (const [metric, extra] of [['log.error', {}], ['run.cost_usd', {}], ['cost_usd', { window: '1h' }], ['p95_run_duration_ms', { window: '1h' }]] as const) {
        await call(key, 'mutation', 'alerts.rules.create', { tenantId, name: metric, metric, op: '>', threshold: 0, webhookId, ...extra });
      }
    });
    // the rules are cached with the tenant for up to LIDLESS_AUTH_CACHE_MS
    await new Promise((r) => setTimeout(r, 2_100));
    await as('ingest', () =>
      post(key, '/v1/ingest', {
        events: [
          { type: 'run', id: 'r1', runId: 'short', timestamp: new Date(t0).toISOString(), repo: 'web', status: 'succeeded', endedAt: new Date(t0 + 60_000).toISOString() },
          { type: 'step', id: 's1', runId: 'short', stepId: 's1', kind: 'llm', name: 'chat', startedAt: new Date(t0).toISOString(), costUsd: 0.5 },
          { type: 'log', id: 'l1', runId: 'short', timestamp: new Date(t0).toISOString(), level: 'error', message: 'boom' },
        ],
      }),
    );
    expect(queued.length).toBeGreaterThan(0);

    // the stream aggregator: a run change, as Lambda delivers it
    await as('aggregate', async () => {
      const at = Date.now() - 60 * 60_000;
      const state = applyEvents(undefined, 'streamed', [{ type: 'step', eventId: 's', runId: 'streamed', redactions: 0, costNanos: 1e9, step: { stepId: 's1', kind: 'llm', name: 'chat', startedAt: at, status: 'ok', model: 'gpt-5' } }] as PricedEvent[]);
      const item = encodeRun(tenantId, { state, ver: 1, ttl: 0, ev: EventHashes.none, chunks: [], inline: [], pages: [], retentionDays: 14 });
      const change = { eventID: `iam-${Date.now()}`, eventName: 'INSERT' as const, dynamodb: { ApproximateCreationDateTime: new Date(), Keys: marshall({ pk: item.pk, sk: item.sk }), NewImage: marshall(item), SequenceNumber: '1', StreamViewType: 'NEW_AND_OLD_IMAGES' as const } };
      await aggregate({ Records: [lambdaRecord(change, 'arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/iam')] });
    });

    // the evaluator (windowed rules, lost deliveries) and the dispatcher (a failure, then a success)
    await as('evaluate', () => evaluate({ time: new Date().toISOString() }));
    await as('dispatch', async () => {
      for (const [n, m] of queued.splice(0).entries()) {
        const event = { Records: [{ messageId: `m${n}`, receiptHandle: `m${n}`, body: JSON.stringify(m), attributes: { ApproximateReceiveCount: '1' } }] } as unknown as SQSEvent;
        await dispatch(event);
        await dispatch(event);
      }
    });
    expect(receiver.requests.length).toBeGreaterThan(1);

    // the API's reads, by the tenant's key and by the consultant
    await as('api', async () => {
      const range = { tenantId, from: new Date(Date.now() - 2 * 86_400_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
      await call(key, 'query', 'runs.get', { tenantId, runId: 'long' });
      await call(key, 'query', 'runs.list', { tenantId, limit: 1 });
      await call(key, 'query', 'runs.byTrace', { tenantId, traceId: 'abc' });
      await call(key, 'query', 'runs.raw', { tenantId, runId: 'short' });
      await call(key, 'query', 'metrics.query', { ...range, name: 'claude_code.cost.usage' });
      await call(consultant.token, 'query', 'costs.rollup', { ...range, groupBy: 'model' });
      await call(consultant.token, 'query', 'costs.rollup', { ...range, groupBy: 'repo', repo: 'web' });
      await call(consultant.token, 'query', 'tenants.list', {});
      const { items } = await call(key, 'query', 'alerts.webhooks.list', { tenantId });
      await call(key, 'query', 'alerts.rules.list', { tenantId });
      await call(key, 'query', 'alerts.events.list', { tenantId });
      await call(key, 'mutation', 'alerts.webhooks.delete', { tenantId, webhookId: items[0].webhookId });
      await call(op, 'mutation', 'admin.consultants.revoke', { consultantId: consultant.consultantId, tenantIds: [tenantId] });
    });

    // Assess: every call made is allowed by the function's own role, on that resource
    const missing = uniqueCalls().filter((c) => !allowed(c));
    expect(missing).toEqual([]);
    // the flows reached what they were written for
    const made = new Set(calls.map((c) => `${c.fn} ${c.action} ${c.resource}`));
    for (const expected of ['ingest dynamodb:PartiQLInsert runs', 'ingest dynamodb:PartiQLUpdate runs', 'ingest dynamodb:BatchWriteItem runs', 'ingest s3:PutObject bucket', 'aggregate dynamodb:UpdateItem rollups', 'dispatch dynamodb:UpdateItem alerts', 'api s3:GetObject bucket', 'api dynamodb:Query runs/index/byStart']) {
      expect(made, expected).toContain(expected);
    }
  }, 120_000);

  function uniqueCalls(): Call[] {
    const seen = new Map<string, Call>();
    for (const c of calls) seen.set(`${c.fn} ${c.action} ${c.resource} ${c.leadingKey ?? ''}`, c);
    return [...seen.values()];
  }

  function logicalId(construct: IConstruct): string {
    return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnResource);
  }

  /**
   * Whether the function's role allows the call: an Allow statement names the action on the call's
   * resource, its condition holding, and no Deny statement that applies does.
   */
  function allowed(c: Call): boolean {
    const roleId = logicalId(stack.functions[c.fn].role);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const [table, index] = c.resource.split('/index/');
    const target =
      c.resource === 'bucket' ? logicalId(stack.resources.rawBucket) : c.resource === 'queue' ? logicalId(stack.resources.deliveryQueue) : logicalId(stack.resources.tables[table as TableId]);
    const applies = (s: Statement) => {
      if (![s.Action].flat().includes(c.action)) return false;
      const resources = [s.Resource].flat().map((r) => JSON.stringify(r));
      return resources.some((r) => r.includes(target) && (index === undefined ? !r.includes('/index/') : r.includes(`/index/${index}`))) && conditionHolds(s.Condition, c);
    };
    return statements.some((s) => s.Effect === 'Allow' && applies(s)) && !statements.some((s) => s.Effect === 'Deny' && applies(s));
  }
});

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string[]>>;
}

/** The `dynamodb:LeadingKeys` conditions the stack uses, on the call's partition key; any other condition fails the test. */
function conditionHolds(condition: Statement['Condition'], c: Call): boolean {
  if (!condition) return true;
  return Object.entries(condition).every(([operator, tests]) => {
    const patterns = tests['dynamodb:LeadingKeys'];
    if (!patterns || Object.keys(tests).length !== 1 || !['ForAllValues:StringLike', 'ForAnyValue:StringLike'].includes(operator)) {
      throw new Error(`a condition this test cannot judge: ${JSON.stringify(condition)}`);
    }
    if (c.leadingKey === undefined) throw new Error(`${c.fn} ${c.action} on ${c.resource}: the call's partition key is unknown, but a statement is conditioned on it`);
    return patterns.some((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(c.leadingKey!));
  });
}
