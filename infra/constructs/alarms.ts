import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SELF_METRICS, type SelfMetric } from '../../shared/observability/metrics.ts';

export interface AlarmsProps {
  functions: Record<string, lambda.IFunction>;
  deadLetterQueue: sqs.IQueue;
  /** the stream consumer: alarms when it falls behind, and on any batch it gave up on */
  streamConsumer: { fn: lambda.IFunction; failures: sqs.IQueue };
  /** where alarm notifications go; without it the topic has no subscriber yet */
  alarmEmail?: string;
  production: boolean;
}

/** The one dimension the functions put on their EMF metrics (Powertools' default `service`). */
export const METRIC_DIMENSIONS = { service: 'lidless' } as const;

const PERIOD = Duration.minutes(5);

/**
 * Every self-metric of shared/observability/metrics.ts gets the alarm defined beside it; on top, each
 * function alarms on errors and throttles, the stream consumer on falling behind, and both dead-letter
 * queues on any message at all.
 */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = this.alarmTopic(props);
    const notify = new actions.SnsAction(this.topic);

    for (const [key, metric] of Object.entries(SELF_METRICS) as [string, SelfMetric][]) {
      this.add(`Metric-${key}`, selfMetric(metric), metric.alarm.threshold, metric.alarm.description, notify);
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      const sum = { period: PERIOD, statistic: cloudwatch.Stats.SUM };
      this.add(`${name}-Errors`, fn.metricErrors(sum), 1, `The ${name} function failed (uncaught error or timeout)`, notify);
      this.add(`${name}-Throttles`, fn.metricThrottles(sum), 1, `The ${name} function was throttled`, notify);
    }
    this.add(
      'DeadLetters',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      1,
      'A webhook delivery message landed in the dead-letter queue: the dispatcher could not process it',
      notify,
    );
    const { fn: aggregator, failures } = props.streamConsumer;
    this.add(
      'StreamIteratorAge',
      aggregator.metric('IteratorAge', { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      60_000,
      'The runs stream waits over 60 s for the aggregator: cost rollups lag ingest',
      notify,
    );
    this.add(
      'StreamFailures',
      failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      1,
      'The aggregator gave up on a batch of run changes: cost rollups are missing them',
      notify,
    );
  }

  private add(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, notify: actions.SnsAction): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // no data means nothing happened (no traffic, no failures): not an alarm
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(notify);
    this.alarms.push(alarm);
  }

  private alarmTopic(props: AlarmsProps): sns.Topic {
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key, hence a key of our own
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the Lidless alarm topic',
      enableKeyRotation: true,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'Topic', { displayName: 'Lidless alarms', masterKey: key, enforceSSL: true });
    if (props.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    return topic;
  }
}

function selfMetric(metric: SelfMetric): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: metric.name,
    dimensionsMap: { ...METRIC_DIMENSIONS },
    statistic: metric.alarm.statistic,
    period: PERIOD,
    // no unit: an alarm with a unit ignores datapoints emitted without one
  });
}
