import type { SQSEvent } from 'aws-lambda';
import type { DeliveryMessage, DeliveryQueue } from '../shared/alerts/queue.ts';

/**
 * The local stand-in for the SQS delivery queue: each message is handed to the dispatch handler as an
 * SQS-shaped event after its delay. A record reported as failed is redelivered after 1 s, as SQS
 * would after the visibility timeout.
 */
type SqsHandler = (event: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

export class LocalDeliveryQueue implements DeliveryQueue {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private seq = 0;
  private closed = false;

  constructor(private readonly handler: () => Promise<SqsHandler>) {}

  async send(messages: readonly DeliveryMessage[], delayMs = 0): Promise<void> {
    for (const m of messages) this.schedule(m, delayMs, 1);
  }

  private schedule(m: DeliveryMessage, delayMs: number, receiveCount: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const id = `local-${++this.seq}`;
      const event = {
        Records: [
          {
            messageId: id,
            receiptHandle: id,
            body: JSON.stringify(m),
            attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:local:000000000000:lidless-deliveries',
            awsRegion: 'local',
          },
        ],
      } as SQSEvent;
      const run = this.handler()
        .then((h) => h(event))
        .then((r) => {
          if (r.batchItemFailures.length && receiveCount < 5) this.schedule(m, 1000, receiveCount + 1);
        })
        .catch(() => undefined)
        .finally(() => this.running.delete(run));
      this.running.add(run);
    }, delayMs);
    this.timers.add(timer);
  }

  /** Stops taking messages and waits for deliveries in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
