import { Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { TABLES, type TableId } from '../../shared/tables.ts';

/** What the functions may touch; each grant below picks from it. */
export interface Resources {
  tables: Record<TableId, dynamodb.Table>;
  rawBucket: s3.Bucket;
  deliveryQueue: sqs.Queue;
  operatorToken: secretsmanager.Secret;
}

/** Object keys are `raw/<tenant>/<yyyy>/...`: every function's bucket access stops at this prefix. */
export const RAW_PREFIX = 'raw/';

const READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'];
// transactions need no action of their own: IAM checks each item's Put/Update/Delete/ConditionCheck
const WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];
// only the API deletes, and only control items (rules, webhooks)
const DELETE = ['dynamodb:DeleteItem'];

/** Control-table partitions holding webhook items (and so the webhook signing secrets). */
const WEBHOOK_PARTITIONS = 'WEBHOOKS#*';

/**
 * Ingest's run writes beyond items one by one: the runs of a request go out as one PartiQL batch of
 * conditional INSERTs and UPDATEs, and step chunks and sealed pages as one BatchWriteItem.
 */
const RUN_BATCH_WRITES = ['dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate', 'dynamodb:BatchWriteItem'];

/** Ingest: writes raw batches, runs, rollups, metrics and run alerts; reads tenants, keys and rules, never webhooks. */
export function grantIngest(role: iam.Role, r: Resources): void {
  for (const id of ['runs', 'rollups', 'metrics', 'alerts'] as const) allow(role, r, id, [...READ, ...WRITE]);
  allow(role, r, 'runs', RUN_BATCH_WRITES);
  allow(role, r, 'control', READ);
  denyWebhookReads(role, r);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      // the retention tag is set with the object, which needs PutObjectTagging too
      actions: ['s3:PutObject', 's3:PutObjectTagging'],
      resources: [rawObjects(r.rawBucket)],
    }),
  );
  acknowledgeRawPrefix(role, r.rawBucket);
  allowSend(role, r.deliveryQueue);
}

/** API: manages the control table (tenants, keys, consultants, webhooks, rules) and reads the rest; raw objects read-only. */
export function grantApi(role: iam.Role, r: Resources): void {
  allow(role, r, 'control', [...READ, ...WRITE, ...DELETE]);
  for (const id of ['runs', 'rollups', 'metrics', 'alerts'] as const) allow(role, r, id, READ);
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [rawObjects(r.rawBucket)] }));
  acknowledgeRawPrefix(role, r.rawBucket);
  r.operatorToken.grantRead(role);
}

/** Dispatch: reads webhooks (their URLs and secrets) and records delivery attempts on alert events. */
export function grantDispatch(role: iam.Role, r: Resources): void {
  allow(role, r, 'control', READ, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [WEBHOOK_PARTITIONS] } });
  allow(role, r, 'alerts', [...READ, ...WRITE]);
  // backoff: a failed delivery is sent again with a delay
  allowSend(role, r.deliveryQueue);
}

/**
 * Aggregate: reads the runs table's stream (its event source mapping does, with this role) and adds
 * run changes to the day cells of the rollups table, nothing else. The mapping itself grants sending a
 * dropped batch's description to its failure queue.
 */
export function grantAggregate(role: iam.Role, r: Resources): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      resources: [r.tables.runs.tableStreamArn!],
    }),
  );
  allow(role, r, 'rollups', ['dynamodb:UpdateItem']);
}

/** Evaluate: reads tenants, rules and rollup cells; records alert events and rule states, queues deliveries. */
export function grantEvaluate(role: iam.Role, r: Resources): void {
  for (const id of ['control', 'rollups'] as const) allow(role, r, id, READ);
  denyWebhookReads(role, r);
  allow(role, r, 'alerts', [...READ, ...WRITE]);
  allowSend(role, r.deliveryQueue);
}

function allow(role: iam.Role, r: Resources, id: TableId, actions: string[], conditions?: Record<string, unknown>): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: tableAndIndexes(r, id), conditions }));
}

/** An explicit Deny wins over any Allow, so no later grant can reopen the webhook secrets. */
function denyWebhookReads(role: iam.Role, r: Resources): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: [...READ, 'dynamodb:Scan'],
      resources: tableAndIndexes(r, 'control'),
      conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [WEBHOOK_PARTITIONS] } },
    }),
  );
}

function allowSend(role: iam.Role, queue: sqs.Queue): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
}

/** The table and each of its named indexes: no `index/*` wildcard. */
function tableAndIndexes(r: Resources, id: TableId): string[] {
  const table = r.tables[id];
  const def = TABLES.find((t) => t.id === id)!;
  return [table.tableArn, ...def.localIndexes.map((index) => `${table.tableArn}/index/${index.name}`)];
}

function rawObjects(bucket: s3.Bucket): string {
  return bucket.arnForObjects(`${RAW_PREFIX}*`);
}

function acknowledgeRawPrefix(role: iam.Role, bucket: s3.Bucket): void {
  const bucketId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${RAW_PREFIX}*]`,
    reason:
      'Raw object keys are raw/<tenant>/<date>/<batch-id>, created per request: the raw/ prefix is the narrowest fixed scope; the actions are limited to the one direction this function needs.',
  });
}
