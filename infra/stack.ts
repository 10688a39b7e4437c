import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Alarms } from './constructs/alarms.ts';
import { HttpEntry } from './constructs/api.ts';
import { LidlessFunction, type HandlerName } from './constructs/function.ts';
import { grantAggregate, grantApi, grantDispatch, grantEvaluate, grantIngest, type Resources } from './constructs/permissions.ts';
import { OperatorToken } from './constructs/operator-token.ts';
import { DeliveryQueue } from './constructs/queue.ts';
import { Storage } from './constructs/storage.ts';
import { Triggers } from './constructs/triggers.ts';

export interface LidlessStackProps extends StackProps {
  /** `prod`, `dev`, ...: names the tables (`lidless-<stage>-<id>`) */
  stage: string;
  /** e-mail address subscribed to the alarm topic */
  alarmEmail?: string;
}

/** Memory and timeout per function (reserved concurrency is left unset on purpose: no caps on ingest). */
export const FUNCTION_SIZES: Record<HandlerName, { memoryMb: number; timeout: Duration; description: string }> = {
  // under the HTTP API's 30 s integration timeout: a slow request is answered by ingest (503 and
  // Retry-After), not cut off by the gateway
  ingest: { memoryMb: 512, timeout: Duration.seconds(28), description: 'OTLP and native ingest (/v1/*)' },
  api: { memoryMb: 512, timeout: Duration.seconds(10), description: 'tRPC query and management API (/trpc/*)' },
  dispatch: { memoryMb: 256, timeout: Duration.seconds(30), description: 'Signed webhook deliveries from the queue' },
  evaluate: { memoryMb: 512, timeout: Duration.seconds(60), description: 'Windowed alert rules, every minute' },
  aggregate: { memoryMb: 512, timeout: Duration.seconds(60), description: 'Folds run changes from the runs table stream into the day cells' },
};

/** Receives of one delivery message before the dead-letter queue takes it. */
const MAX_RECEIVES = 5;
/** The dispatcher's first delay before a retry; it doubles per attempt. */
const WEBHOOK_BASE_DELAY_MS = '1000';

export function isProductionStage(stage: string): boolean {
  return stage === 'prod';
}

export class LidlessStack extends Stack {
  readonly resources: Resources;
  readonly delivery: DeliveryQueue;
  readonly functions: Record<HandlerName, LidlessFunction>;
  readonly http: HttpEntry;
  readonly alarms: Alarms;
  readonly triggers: Triggers;

  constructor(scope: Construct, id: string, props: LidlessStackProps) {
    super(scope, id, props);
    if (!/^[a-z][a-z0-9-]{0,19}$/.test(props.stage)) {
      throw new Error(`stage must be lowercase letters, digits and dashes (got "${props.stage}")`);
    }
    const production = isProductionStage(props.stage);
    const tablePrefix = `lidless-${props.stage}`;
    Tags.of(this).add('project', 'lidless');
    Tags.of(this).add('stage', props.stage);

    const storage = new Storage(this, 'Storage', { tablePrefix, production });
    this.delivery = new DeliveryQueue(this, 'Delivery', {
      consumerTimeout: FUNCTION_SIZES.dispatch.timeout,
      maxReceiveCount: MAX_RECEIVES,
    });
    const delivery = this.delivery;
    const operatorToken = new OperatorToken(this, 'OperatorToken', { stage: props.stage, production }).secret;
    this.resources = {
      tables: storage.tables,
      rawBucket: storage.rawBucket,
      deliveryQueue: delivery.queue,
      operatorToken,
    };

    const common = {
      LIDLESS_TABLE_PREFIX: tablePrefix,
      LIDLESS_RAW_BUCKET: storage.rawBucket.bucketName,
    };
    const queueUrl = { LIDLESS_ALERT_QUEUE_URL: delivery.queue.queueUrl };
    const make = (name: HandlerName, environment: Record<string, string>) =>
      new LidlessFunction(this, `${name[0]!.toUpperCase()}${name.slice(1)}`, {
        handler: name,
        ...FUNCTION_SIZES[name],
        environment: { ...common, ...environment },
        production,
      });
    this.functions = {
      ingest: make('ingest', queueUrl),
      api: make('api', { LIDLESS_OPERATOR_TOKEN_SECRET_ARN: operatorToken.secretArn }),
      dispatch: make('dispatch', { ...queueUrl, LIDLESS_WEBHOOK_BASE_DELAY_MS: WEBHOOK_BASE_DELAY_MS }),
      evaluate: make('evaluate', queueUrl),
      aggregate: make('aggregate', {}),
    };
    grantIngest(this.functions.ingest.role, this.resources);
    grantApi(this.functions.api.role, this.resources);
    grantDispatch(this.functions.dispatch.role, this.resources);
    grantEvaluate(this.functions.evaluate.role, this.resources);
    grantAggregate(this.functions.aggregate.role, this.resources);

    this.http = new HttpEntry(this, 'Http', {
      ingest: this.functions.ingest.fn,
      api: this.functions.api.fn,
      production,
      throttle: { rateLimit: 500, burstLimit: 1000 },
    });
    this.triggers = new Triggers(this, 'Triggers', {
      dispatch: this.functions.dispatch.fn,
      deliveryQueue: delivery.queue,
      deliveryBatchSize: 10,
      evaluate: this.functions.evaluate.fn,
      aggregate: this.functions.aggregate.fn,
      runsTable: storage.tables.runs,
    });
    this.alarms = new Alarms(this, 'Alarms', {
      functions: Object.fromEntries(Object.entries(this.functions).map(([name, f]) => [name, f.fn])),
      deadLetterQueue: delivery.deadLetterQueue,
      streamConsumer: { fn: this.functions.aggregate.fn, failures: this.triggers.aggregateFailures },
      alarmEmail: props.alarmEmail,
      production,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.http.url });
    new CfnOutput(this, 'RawBucketName', { value: storage.rawBucket.bucketName });
    new CfnOutput(this, 'OperatorTokenSecretArn', { value: operatorToken.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
