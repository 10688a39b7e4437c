import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, SELF_METRICS, type SelfMetricKey } from './metrics.ts';

/**
 * Structured JSON logs and CloudWatch metrics (embedded metric format) through Powertools. Metrics can
 * only be emitted by their key in SELF_METRICS, so every metric has the alarm defined beside it; a test
 * checks that nothing else in the code calls `addMetric`.
 */
export const logger = new Logger({ serviceName: 'lidless' });

const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'lidless' });
let pending = false;

export function emit(key: SelfMetricKey, value: number): void {
  const m = SELF_METRICS[key];
  pending = true;
  metrics.addMetric(m.name, m.unit === 'Count' ? MetricUnit.Count : MetricUnit.Milliseconds, value);
}

/** Flushes buffered metrics: call once at the end of each invocation. */
export function flushMetrics(): void {
  if (!pending) return;
  pending = false;
  metrics.publishStoredMetrics();
}

export function isThrottle(err: unknown): boolean {
  const name = (err as { name?: string; cause?: { name?: string } })?.cause?.name ?? (err as Error)?.name;
  return name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException' || name === 'TransactionConflictException' || name === 'RequestLimitExceeded';
}
