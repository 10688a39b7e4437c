import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { App, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build.ts';
import type { HandlerName } from '../../infra/constructs/function.ts';
import type { LidlessStack } from '../../infra/stack.ts';
import { METRICS_NAMESPACE, SELF_METRICS } from '../../shared/observability/metrics.ts';
import { RAW_BUCKET, TABLES, tableName } from '../../shared/tables.ts';

/** The same feature flags `cdk synth` runs with. */
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const HANDLERS: HandlerName[] = ['ingest', 'api', 'dispatch', 'evaluate', 'aggregate'];

type Json = Record<string, any>;
interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

function synth(context: Record<string, unknown>): { app: App; stack: LidlessStack; template: Template } {
  const { app, stack } = buildApp(new App({ context: { ...CDK_CONTEXT, ...context } }));
  return { app, stack, template: Template.fromStack(stack) };
}

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnResource);
}

function list<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

describe('the production stack', () => {
  let app: App;
  let stack: LidlessStack;
  let template: Template;
  const fnId = (name: HandlerName) => logicalId(stack.functions[name].fn);

  /** Every statement of the policies attached to one function's role. */
  function statementsOf(name: HandlerName): Statement[] {
    const roleId = logicalId(stack.functions[name].role);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId),
    );
    return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  }
  const allows = (name: HandlerName, action: string) =>
    statementsOf(name).filter((s) => s.Effect === 'Allow' && list(s.Action).includes(action));
  const envOf = (name: HandlerName): Json =>
    template.findResources('AWS::Lambda::Function')[fnId(name)]!.Properties.Environment.Variables;

  beforeAll(() => {
    // one synthesis with real bundling for the whole file: bundling is the slow part
    ({ app, stack, template } = synth({ stage: 'prod' }));
  }, 120_000);

  describe('tables', () => {
    it('builds exactly the tables of the shared definition, on demand, with PITR, TTL, streams and their indexes', () => {
      template.resourceCountIs('AWS::DynamoDB::Table', TABLES.length);
      for (const def of TABLES) {
        template.hasResourceProperties('AWS::DynamoDB::Table', {
          TableName: tableName('lidless-prod', def.id),
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [
            { AttributeName: def.partitionKey, KeyType: 'HASH' },
            { AttributeName: def.sortKey, KeyType: 'RANGE' },
          ],
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: def.ttlAttribute ? { AttributeName: def.ttlAttribute, Enabled: true } : Match.absent(),
          StreamSpecification: def.stream ? { StreamViewType: def.stream } : Match.absent(),
          LocalSecondaryIndexes:
            def.localIndexes.length === 0
              ? Match.absent()
              : def.localIndexes.map((index) => ({
                  IndexName: index.name,
                  KeySchema: [
                    { AttributeName: def.partitionKey, KeyType: 'HASH' },
                    { AttributeName: index.sortKey, KeyType: 'RANGE' },
                  ],
                  Projection: { ProjectionType: index.projection },
                })),
        });
      }
    });

    it('keeps production tables when the stack is deleted and refuses to delete them', () => {
      for (const table of Object.values(template.findResources('AWS::DynamoDB::Table'))) {
        expect(table.DeletionPolicy).toBe('Retain');
        expect(table.UpdateReplacePolicy).toBe('Retain');
        expect(table.Properties.DeletionProtectionEnabled).toBe(true);
      }
      for (const bucket of Object.values(template.findResources('AWS::S3::Bucket'))) {
        expect(bucket.DeletionPolicy).toBe('Retain');
      }
    });
  });

  describe('raw bucket', () => {
    let bucket: Json;
    beforeAll(() => {
      const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
      expect(buckets).toHaveLength(1);
      bucket = buckets[0]!.Properties;
    });

    it('is encrypted, private and reachable only over TLS', () => {
      expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('expires objects by their retention-days tag, one rule per tier, moving long tiers to cheaper classes', () => {
      const rules = bucket.LifecycleConfiguration.Rules as Json[];
      for (const days of RAW_BUCKET.retentionTiers) {
        const rule = rules.find((r) => r.TagFilters?.[0]?.Value === String(days));
        expect(rule, `lifecycle rule for the ${days}-day tier`).toBeDefined();
        expect(rule!.TagFilters).toEqual([{ Key: 'retention-days', Value: String(days) }]);
        expect(rule!.ExpirationInDays).toBe(days);
        expect(rule!.Status).toBe('Enabled');
        const classes = (rule!.Transitions ?? []).map((t: Json) => t.StorageClass);
        if (days >= 90) expect(classes).toContain('STANDARD_IA');
        if (days >= 365) expect(classes).toContain('GLACIER_IR');
        if (days < 90) expect(classes).toEqual([]);
        for (const t of rule!.Transitions ?? []) expect(t.TransitionInDays).toBeLessThan(days);
      }
      expect(rules.filter((r) => r.AbortIncompleteMultipartUpload)).toEqual([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
      ]);
    });
  });

  describe('functions', () => {
    const sizes: Record<HandlerName, [memory: number, timeout: number]> = {
      ingest: [512, 28],
      api: [512, 10],
      dispatch: [256, 30],
      evaluate: [512, 60],
      aggregate: [512, 60],
    };

    it('runs the five handlers on nodejs22.x, arm64, with the measured memory and timeouts', () => {
      template.resourceCountIs('AWS::Lambda::Function', HANDLERS.length);
      for (const name of HANDLERS) {
        const fn = template.findResources('AWS::Lambda::Function')[fnId(name)]!.Properties;
        expect(fn.Runtime).toBe('nodejs22.x');
        expect(fn.Architectures).toEqual(['arm64']);
        expect([fn.MemorySize, fn.Timeout]).toEqual(sizes[name]);
        expect(fn.ReservedConcurrentExecutions).toBeUndefined();
        expect(fn.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: logicalId(stack.functions[name].logGroup) } });
      }
    });

    it('bundles each handler as ESM that can still require CommonJS dependencies', () => {
      for (const name of HANDLERS) {
        const code = stack.functions[name].fn.node.findChild('Code') as Asset;
        const bundle = join(app.outdir, code.assetPath, 'index.mjs');
        expect(existsSync(bundle), `${name} bundle`).toBe(true);
        expect(readFileSync(bundle, 'utf8')).toMatch(/^import \{ createRequire \} from 'module';/);
      }
    });

    it('keeps logs for 30 days in the functions’ own log groups', () => {
      for (const name of HANDLERS) {
        const group = template.findResources('AWS::Logs::LogGroup')[logicalId(stack.functions[name].logGroup)]!;
        expect(group.Properties.RetentionInDays).toBe(30);
      }
    });

    it('gives every function the AWS settings it reads, and the operator secret only to the API', () => {
      const queueUrl = { Ref: logicalId(stack.resources.deliveryQueue) };
      for (const name of HANDLERS) {
        expect(envOf(name)).toMatchObject({
          LIDLESS_TABLE_PREFIX: 'lidless-prod',
          LIDLESS_RAW_BUCKET: { Ref: logicalId(stack.resources.rawBucket) },
          LIDLESS_LOCAL_MODE: '0',
          POWERTOOLS_SERVICE_NAME: 'lidless',
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        });
      }
      for (const name of ['ingest', 'dispatch', 'evaluate'] as const) expect(envOf(name).LIDLESS_ALERT_QUEUE_URL).toEqual(queueUrl);
      expect(envOf('dispatch').LIDLESS_WEBHOOK_BASE_DELAY_MS).toMatch(/^\d+$/);
      expect(envOf('api').LIDLESS_OPERATOR_TOKEN_SECRET_ARN).toEqual({ Ref: logicalId(stack.resources.operatorToken) });
      for (const name of ['ingest', 'dispatch', 'evaluate', 'aggregate'] as const) expect(envOf(name).LIDLESS_OPERATOR_TOKEN_SECRET_ARN).toBeUndefined();
      expect(envOf('aggregate').LIDLESS_ALERT_QUEUE_URL).toBeUndefined();
    });
  });

  describe('HTTP API', () => {
    /** The function a route key ends up invoking. */
    function targetOf(routeKey: string): string {
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
      expect(routes, routeKey).toHaveLength(1);
      const integrationId = (routes[0]!.Properties.Target['Fn::Join'][1] as Json[]).find((part) => part.Ref)!.Ref as string;
      const integration = template.findResources('AWS::ApiGatewayV2::Integration')[integrationId]!;
      return integration.Properties.IntegrationUri['Fn::GetAtt'][0];
    }

    it('routes /v1 to ingest and /trpc and /healthz to the API', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Route', 3);
      expect(targetOf('ANY /v1/{proxy+}')).toBe(fnId('ingest'));
      expect(targetOf('ANY /trpc/{proxy+}')).toBe(fnId('api'));
      expect(targetOf('GET /healthz')).toBe(fnId('api'));
    });

    it('throttles by default and writes JSON access logs with the request id', () => {
      const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties;
      expect(stage.StageName).toBe('$default');
      expect(stage.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
      expect(stage.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThan(0);
      expect(JSON.parse(stage.AccessLogSettings.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      expect(JSON.stringify(stage.AccessLogSettings.DestinationArn)).toContain(logicalId(stack.http.accessLogs));
    });
  });

  describe('queue and schedule', () => {
    it('feeds deliveries to dispatch with partial batch failures reported', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: fnId('dispatch') },
        EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.resources.deliveryQueue), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('encrypts the delivery queue, parks a message after 5 receives and gives dispatch 6 timeouts of visibility', () => {
      const queue = template.findResources('AWS::SQS::Queue')[logicalId(stack.resources.deliveryQueue)]!.Properties;
      expect(queue.SqsManagedSseEnabled).toBe(true);
      expect(queue.VisibilityTimeout).toBe(6 * 30);
      expect(queue.RedrivePolicy.maxReceiveCount).toBe(5);
      for (const queuePolicy of Object.values(template.findResources('AWS::SQS::QueuePolicy'))) {
        expect(queuePolicy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
      template.resourceCountIs('AWS::SQS::QueuePolicy', 3);
    });

    it('feeds the runs stream to the aggregator in whole batches, retried unchanged within the tokens’ window', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: fnId('aggregate') },
        EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.resources.tables.runs), 'StreamArn'] },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 2000,
        MaximumBatchingWindowInSeconds: 60,
        BisectBatchOnFunctionError: false,
        MaximumRecordAgeInSeconds: 300,
        MaximumRetryAttempts: 100,
        ParallelizationFactor: 1,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.triggers.aggregateFailures), 'Arn'] } } },
      });
      // 5 minutes of retries plus the last attempt's timeout stay inside DynamoDB's 10-minute token memory
      const fn = template.findResources('AWS::Lambda::Function')[fnId('aggregate')]!.Properties;
      expect(300 + fn.Timeout).toBeLessThan(600);
    });

    it('runs the evaluator every minute', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('evaluate'), 'Arn'] } })],
      });
    });
  });

  describe('operator token', () => {
    it('is generated by Secrets Manager at deploy time, never written into the template', () => {
      const secret = template.findResources('AWS::SecretsManager::Secret')[logicalId(stack.resources.operatorToken)]!.Properties;
      expect(secret.GenerateSecretString).toMatchObject({ PasswordLength: 48, ExcludePunctuation: true });
      expect(secret.SecretString).toBeUndefined();
    });

    it('is readable by the API function alone', () => {
      for (const name of HANDLERS) {
        const reads = statementsOf(name).filter((s) => list(s.Action).some((a) => a.startsWith('secretsmanager:')));
        if (name === 'api') {
          expect(reads).toEqual([
            expect.objectContaining({ Resource: { Ref: logicalId(stack.resources.operatorToken) } }),
          ]);
        } else {
          expect(reads, name).toEqual([]);
        }
      }
    });
  });

  describe('least privilege', () => {
    it('grants no wildcard actions and nothing on every resource', () => {
      const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Statement[],
      );
      expect(statements.length).toBeGreaterThan(0);
      for (const s of statements) {
        for (const action of list(s.Action)) expect(action).not.toMatch(/(^|:)\*$/);
        if (s.Effect === 'Allow') expect(list(s.Resource)).not.toContain('*');
      }
    });

    it('uses no AWS managed policies on the function roles', () => {
      for (const name of HANDLERS) {
        const role = template.findResources('AWS::IAM::Role')[logicalId(stack.functions[name].role)]!;
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    });

    it('lets ingest write raw objects but never read them', () => {
      const rawObjects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.resources.rawBucket), 'Arn'] }, '/raw/*']] };
      expect(allows('ingest', 's3:PutObject')).toEqual([expect.objectContaining({ Resource: rawObjects })]);
      expect(allows('ingest', 's3:PutObjectTagging')).toHaveLength(1);
      expect(allows('ingest', 's3:GetObject')).toEqual([]);
    });

    it('denies ingest and the evaluator every read of webhook partitions, and allows no scans', () => {
      const control = { 'Fn::GetAtt': [logicalId(stack.resources.tables.control), 'Arn'] };
      for (const name of ['ingest', 'evaluate'] as const) {
        const deny = statementsOf(name).find((s) => s.Effect === 'Deny');
        expect(deny, name).toBeDefined();
        expect(list(deny!.Resource)).toContainEqual(control);
        expect(list(deny!.Action)).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan']),
        );
        expect(deny!.Condition).toEqual({ 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['WEBHOOKS#*'] } });
      }
      for (const name of HANDLERS) expect(allows(name, 'dynamodb:Scan'), name).toEqual([]);
    });

    it('confines dispatch to the webhook partitions of the control table', () => {
      const control = { 'Fn::GetAtt': [logicalId(stack.resources.tables.control), 'Arn'] };
      const controlReads = allows('dispatch', 'dynamodb:GetItem').filter((s) => list(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify(control)));
      expect(controlReads).toEqual([
        expect.objectContaining({ Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WEBHOOKS#*'] } } }),
      ]);
    });

    it('lets only the API delete, and only control items (rules, webhooks)', () => {
      for (const name of ['ingest', 'dispatch', 'evaluate', 'aggregate'] as const) expect(allows(name, 'dynamodb:DeleteItem'), name).toEqual([]);
      const deletable = allows('api', 'dynamodb:DeleteItem').flatMap((s) => list(s.Resource));
      expect(deletable).toEqual([{ 'Fn::GetAtt': [logicalId(stack.resources.tables.control), 'Arn'] }]);
    });

    it('lets the API read raw objects but never write them', () => {
      expect(allows('api', 's3:GetObject')).toHaveLength(1);
      expect(allows('api', 's3:PutObject')).toEqual([]);
      expect(allows('api', 's3:PutObjectTagging')).toEqual([]);
      expect(allows('api', 's3:DeleteObject')).toEqual([]);
    });

    it('gives S3 access to ingest and the API only, and queue sends to the functions that enqueue deliveries', () => {
      for (const name of ['dispatch', 'evaluate', 'aggregate'] as const) {
        expect(statementsOf(name).filter((s) => list(s.Action).some((a) => a.startsWith('s3:'))), name).toEqual([]);
      }
      expect(allows('api', 'sqs:SendMessage')).toEqual([]);
      for (const name of ['ingest', 'dispatch', 'evaluate'] as const) expect(allows(name, 'sqs:SendMessage'), name).toHaveLength(1);
      // the aggregator's only queue is where its event source reports a batch it gave up on
      expect(allows('aggregate', 'sqs:SendMessage').flatMap((s) => list(s.Resource))).toEqual([
        { 'Fn::GetAtt': [logicalId(stack.triggers.aggregateFailures), 'Arn'] },
      ]);
    });

    it('lets the aggregator read the runs stream and add to rollup cells, nothing more', () => {
      const runsStream = { 'Fn::GetAtt': [logicalId(stack.resources.tables.runs), 'StreamArn'] };
      const dynamo = statementsOf('aggregate').filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.every((s) => s.Effect === 'Allow')).toBe(true);
      const byResource = new Map<string, string[]>();
      for (const s of dynamo) {
        for (const r of list(s.Resource)) byResource.set(JSON.stringify(r), [...(byResource.get(JSON.stringify(r)) ?? []), ...list(s.Action)]);
      }
      expect(Object.fromEntries(byResource)).toEqual({
        [JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.resources.tables.rollups), 'Arn'] })]: ['dynamodb:UpdateItem'],
        [JSON.stringify(runsStream)]: expect.arrayContaining(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']),
      });
      expect(byResource.get(JSON.stringify(runsStream))).toHaveLength(4);
    });
  });

  describe('alarms', () => {
    const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json);

    it('has an alarm for every self-metric, on the one `service` dimension the functions emit', () => {
      for (const [key, metric] of Object.entries(SELF_METRICS)) {
        const alarm = alarms().find((a) => a.MetricName === metric.name && a.Namespace === METRICS_NAMESPACE);
        expect(alarm, `alarm for SELF_METRICS.${key} (${metric.name})`).toBeDefined();
        expect(alarm!.Dimensions).toEqual([{ Name: 'service', Value: 'lidless' }]);
        expect(alarm!.Threshold).toBe(metric.alarm.threshold);
        expect(alarm!.AlarmDescription).toBe(metric.alarm.description);
        const statistic = alarm!.Statistic ?? alarm!.ExtendedStatistic;
        expect(statistic).toBe(metric.alarm.statistic);
        expect(alarm!.Period).toBe(300);
      }
    });

    it('alarms on errors and throttles of every function and on any dead-lettered delivery', () => {
      for (const name of HANDLERS) {
        for (const metricName of ['Errors', 'Throttles']) {
          const alarm = alarms().find(
            (a) => a.MetricName === metricName && a.Namespace === 'AWS/Lambda' && a.Dimensions?.[0]?.Value?.Ref === fnId(name),
          );
          expect(alarm, `${metricName} alarm for ${name}`).toBeDefined();
        }
      }
      const queueAlarm = (queue: IConstruct) =>
        alarms().find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Dimensions?.[0]?.Value?.['Fn::GetAtt']?.[0] === logicalId(queue));
      const dlq = queueAlarm(stack.delivery.deadLetterQueue);
      expect(dlq).toMatchObject({
        Namespace: 'AWS/SQS',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.delivery.deadLetterQueue), 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect(queueAlarm(stack.triggers.aggregateFailures)).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      expect(alarms()).toHaveLength(Object.keys(SELF_METRICS).length + 2 * HANDLERS.length + 3);
    });

    it('alarms when the aggregator falls over a minute behind the runs stream', () => {
      const lag = alarms().find((a) => a.MetricName === 'IteratorAge');
      expect(lag).toMatchObject({
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId('aggregate') } }],
        Statistic: 'Maximum',
        Threshold: 60_000,
      });
    });

    it('notifies an encrypted, TLS-only topic from every alarm', () => {
      const topicRef = { Ref: logicalId(stack.alarms.topic) };
      for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([topicRef]);
      const topic = template.findResources('AWS::SNS::Topic')[topicRef.Ref]!.Properties;
      expect(topic.KmsMasterKeyId).toBeDefined();
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    });
  });

  describe('cdk-nag', () => {
    it('finds nothing unacknowledged in the AwsSolutions checks', () => {
      const report = new AwsSolutionsChecks().validateScope(stack);
      const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
      expect(findings).toEqual([]);
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    });

    it('names a reason for every acknowledgement', () => {
      const acknowledgements: [string, string][] = [];
      for (const construct of stack.node.findAll()) {
        for (const entry of construct.node.metadata) {
          if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          acknowledgements.push(...Object.entries(entry.data as Record<string, string>));
        }
      }
      expect(acknowledgements.length).toBeGreaterThan(0);
      for (const [id, reason] of acknowledgements) {
        expect(id).toMatch(/AwsSolutions-/);
        expect(reason.length, `reason for ${id}`).toBeGreaterThan(40);
      }
    });
  });
});

describe('a development stage', () => {
  let template: Template;
  let stack: LidlessStack;
  beforeAll(() => {
    // no bundling here: the production stack above already proves the handlers bundle
    ({ stack, template } = synth({ stage: 'dev', alarmEmail: 'ops@example.com', 'aws:cdk:bundling-stacks': [] }));
  }, 60_000);

  it('names tables after the stage and lets them go with the stack', () => {
    for (const def of TABLES) {
      template.hasResource('AWS::DynamoDB::Table', {
        Properties: Match.objectLike({ TableName: tableName('lidless-dev', def.id), DeletionProtectionEnabled: false }),
        DeletionPolicy: 'Delete',
      });
    }
  });

  it('subscribes the alarm e-mail given as a stage parameter', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('passes the AwsSolutions checks too', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});
