import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleDelivery } from '../shared/runtime.ts';
import { flushMetrics, logger } from '../shared/observability/telemetry.ts';

/** SQS-triggered webhook delivery; a record whose storage work fails is reported back for redelivery. */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        await handleDelivery(JSON.parse(record.body));
      } catch (err) {
        logger.error('delivery failed', { messageId: record.messageId, error: err as Error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  flushMetrics();
  return { batchItemFailures };
};
