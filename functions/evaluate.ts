import type { ScheduledEvent } from 'aws-lambda';
import { runEvaluation } from '../shared/runtime.ts';
import { emit, flushMetrics, logger } from '../shared/observability/telemetry.ts';

/** Every minute (EventBridge schedule): windowed alert rules, and re-sending lost deliveries. */
export const handler = async (event: ScheduledEvent): Promise<{ sent: number }> => {
  const now = Date.now();
  emit('evaluatorLag', Math.max(0, now - Date.parse(event.time)));
  try {
    const sent = await runEvaluation(now);
    logger.info('evaluated', { sent });
    return { sent };
  } finally {
    flushMetrics();
  }
};
