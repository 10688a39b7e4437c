import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TriggersProps {
  dispatch: lambda.Function;
  deliveryQueue: sqs.Queue;
  deliveryBatchSize: number;
  evaluate: lambda.Function;
}

/** What invokes the two background functions: the delivery queue and a one-minute schedule. */
export class Triggers extends Construct {
  readonly evaluatorSchedule: events.Rule;

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
  }
}
