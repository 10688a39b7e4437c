import type { Stores } from '../store/clients.ts';
import { ControlTable } from '../store/control-table.ts';
import { getAlert, recordAttempt, type Delivery } from '../store/alerts-table.ts';
import { deliverOnce } from './webhook/deliver.ts';
import { nextDelayMs } from './webhook/backoff.ts';
import type { DeliveryMessage, DeliveryQueue } from './queue.ts';
import { emit, logger } from '../observability/telemetry.ts';

/**
 * One delivery attempt for one queued message: sign afresh, POST, record the attempt on the alert
 * event, then either finish (`delivered`, or `failed` after the last attempt) or put the message back
 * on the queue with a backoff delay. Delivered and failed deliveries are never retried, so a message
 * the queue hands over twice costs at most one extra attempt.
 */
export interface DispatchOptions {
  localMode: boolean;
  baseDelayMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

export async function dispatchDelivery(s: Stores, queue: DeliveryQueue, msg: DeliveryMessage, opts: DispatchOptions): Promise<Delivery['status'] | 'gone'> {
  const alert = await getAlert(s, msg.tenantId, msg.sk);
  const delivery = alert?.deliveries[msg.webhookId];
  if (!alert || !delivery) return 'gone';
  if (delivery.status !== 'pending') return delivery.status;

  const webhook = await new ControlTable(s).getWebhook(msg.tenantId, msg.webhookId);
  const attempts = delivery.attempts + 1;
  if (!webhook) {
    await recordAttempt(s, msg.tenantId, msg.sk, { ...delivery, status: 'failed', attempts, lastError: 'webhook was deleted', lastAttemptAt: new Date().toISOString() });
    return 'failed';
  }
  const result = await deliverOnce({
    url: webhook.url,
    secret: webhook.secret,
    eventId: alert.payload.id,
    body: alert.body,
    timeoutMs: opts.timeoutMs,
    localMode: opts.localMode,
  });
  const status: Delivery['status'] = result.ok ? 'delivered' : attempts >= opts.maxAttempts ? 'failed' : 'pending';
  const next: Delivery = {
    webhookId: msg.webhookId,
    status,
    attempts,
    ...(result.statusCode !== undefined ? { lastStatusCode: result.statusCode } : {}),
    ...(result.error ? { lastError: result.error } : {}),
    lastAttemptAt: result.attemptedAt,
  };
  await recordAttempt(s, msg.tenantId, msg.sk, next);
  if (!result.ok) {
    emit('webhookFailures', 1);
    logger.warn('webhook attempt failed', { tenantId: msg.tenantId, webhookId: msg.webhookId, alertId: alert.payload.id, attempts, statusCode: result.statusCode, error: result.error });
  }
  if (status === 'failed') emit('webhookDeadLetters', 1);
  if (status === 'pending') await queue.send([msg], nextDelayMs(attempts, opts.baseDelayMs));
  return status;
}
