import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';

/**
 * Webhook deliveries go through a queue, so ingest never waits on a receiver. In AWS it is SQS (with a
 * dead-letter queue); locally the same dispatch handler is fed in-process with SQS-shaped events.
 */
export interface DeliveryMessage {
  tenantId: string;
  /** sort key of the alert event in the alerts table */
  sk: string;
  webhookId: string;
}

export interface DeliveryQueue {
  send(messages: readonly DeliveryMessage[], delayMs?: number): Promise<void>;
}

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly sqs: SQSClient = new SQSClient({}),
  ) {}

  async send(messages: readonly DeliveryMessage[], delayMs = 0): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      const res = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((m, j) => ({
            Id: String(j),
            MessageBody: JSON.stringify(m),
            // SQS delays are whole seconds, at most 15 minutes
            DelaySeconds: Math.min(900, Math.ceil(delayMs / 1000)),
          })),
        }),
      );
      if (res.Failed?.length) throw new Error(`SQS refused ${res.Failed.length} delivery messages: ${res.Failed[0]!.Message}`);
    }
  }
}
