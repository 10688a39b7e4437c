/**
 * Every metric the backend emits about itself, in one list. The CDK stack defines a CloudWatch alarm
 * from each entry (infra/), and a test fails when code emits a metric that is not listed here.
 */
export interface SelfMetric {
  name: string;
  unit: 'Count' | 'Milliseconds';
  /** the alarm: statistic over 5 minutes compared with the threshold */
  alarm: { statistic: 'Sum' | 'p99' | 'Maximum'; threshold: number; description: string };
}

export const SELF_METRICS = {
  eventsAccepted: {
    name: 'EventsAccepted',
    unit: 'Count',
    // an ingest that accepts nothing for a long time is worth a look, but is not an outage: alarm on a
    // flood instead (a runaway client), which costs money
    alarm: { statistic: 'Sum', threshold: 50_000_000, description: 'More than 50M events accepted in 5 minutes: a runaway client?' },
  },
  eventsRejected: {
    name: 'EventsRejected',
    unit: 'Count',
    alarm: { statistic: 'Sum', threshold: 1000, description: 'Over 1000 events rejected in 5 minutes: a client sends malformed telemetry' },
  },
  ingestLatency: {
    name: 'IngestLatency',
    unit: 'Milliseconds',
    alarm: { statistic: 'p99', threshold: 3000, description: 'Ingest p99 latency over 3 s' },
  },
  storageThrottles: {
    name: 'StorageThrottles',
    unit: 'Count',
    alarm: { statistic: 'Sum', threshold: 10, description: 'DynamoDB throttled or contended writes' },
  },
  ingestUnavailable: {
    name: 'IngestUnavailable',
    unit: 'Count',
    alarm: { statistic: 'Sum', threshold: 5, description: 'Ingest answered 503 (storage failing): clients are retrying' },
  },
  webhookFailures: {
    name: 'WebhookDeliveryFailures',
    unit: 'Count',
    alarm: { statistic: 'Sum', threshold: 20, description: 'Webhook attempts failing' },
  },
  webhookDeadLetters: {
    name: 'WebhookDeliveriesFailed',
    unit: 'Count',
    alarm: { statistic: 'Sum', threshold: 1, description: 'A webhook delivery exhausted its attempts and was marked failed' },
  },
  evaluatorLag: {
    name: 'EvaluatorLag',
    unit: 'Milliseconds',
    alarm: { statistic: 'Maximum', threshold: 120_000, description: 'The windowed-alert evaluator runs over 2 minutes late' },
  },
} as const satisfies Record<string, SelfMetric>;

export type SelfMetricKey = keyof typeof SELF_METRICS;
export const METRICS_NAMESPACE = 'Lidless';
