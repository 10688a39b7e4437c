import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TriggersProps {
  dispatch: lambda.Function;
  deliveryQueue: sqs.Queue;
  deliveryBatchSize: number;
  evaluate: lambda.Function;
  aggregate: lambda.Function;
  /** the table whose stream the aggregator folds into the day cells */
  runsTable: dynamodb.ITable;
}

/**
 * How long the stream's event source retries a failing batch. The aggregator's transactions are made
 * exactly-once by tokens DynamoDB remembers for 10 minutes: every retry must fall inside that window.
 */
export const STREAM_MAX_RECORD_AGE = Duration.minutes(5);

/**
 * What invokes the three background functions: the delivery queue, a one-minute schedule and the runs
 * table's stream.
 */
export class Triggers extends Construct {
  readonly evaluatorSchedule: events.Rule;
  /** where the stream's event source describes a batch it gave up on */
  readonly aggregateFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    // the dispatcher answers { batchItemFailures }: only the failed messages come back, not the batch
    props.dispatch.addEventSource(
      new SqsEventSource(props.deliveryQueue, { batchSize: props.deliveryBatchSize, reportBatchItemFailures: true }),
    );

    this.evaluatorSchedule = new events.Rule(this, 'EvaluatorSchedule', {
      description: 'Evaluates windowed alert rules every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
    });
    this.evaluatorSchedule.addTarget(
      new targets.LambdaFunction(props.evaluate, {
        // a missed minute is covered by the next run, which looks at the same windows: no retries
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    );

    this.aggregateFailures = new sqs.Queue(this, 'AggregateFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.aggregateFailures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter destination: the on-failure destination of the runs stream event source, which records the shard and sequence range of a batch the aggregator could not apply.',
    });
    // a mapping rather than DynamoEventSource, whose stream grant adds ListStreams on every resource:
    // the stream read is granted on this stream alone (grantAggregate)
    props.aggregate.addEventSourceMapping('RunsStream', {
      eventSourceArn: props.runsTable.tableStreamArn!,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      // more run changes per invocation, so fewer cell writes per run (the rollups' main cost), for a
      // rollup lag of up to a minute; alerts do not wait for it (they fire at ingest). 2000 changes
      // with both images (~2 KB each) stay under Lambda's 6 MB payload
      batchSize: 2000,
      maxBatchingWindow: Duration.seconds(60),
      // the batch as it was, every time: a split batch would carry other transaction tokens
      bisectBatchOnError: false,
      retryAttempts: 100,
      maxRecordAge: STREAM_MAX_RECORD_AGE,
      parallelizationFactor: 1,
      onFailure: new SqsDlq(this.aggregateFailures),
    });
  }
}
