import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { config } from './config.ts';
import { stores } from './store/clients.ts';
import { ControlTable } from './store/control-table.ts';
import { Authenticator, presentedSecret } from './auth/principal.ts';
import { operatorTokenSource } from './auth/operator-token.ts';
import { IngestService } from './ingest/service.ts';
import { SqsDeliveryQueue, type DeliveryMessage, type DeliveryQueue } from './alerts/queue.ts';
import { appRouter } from './api/router.ts';
import { cursorKeyFrom } from './query/cursor.ts';
import { dispatchDelivery } from './alerts/dispatch.ts';
import { evaluateAll, stalePendingDeliveries } from './alerts/evaluate-windows.ts';
import { applyStreamBatch, type AppliedCells } from './aggregate/apply-cells.ts';
import type { StreamImageRecord } from './aggregate/stream.ts';
import type { HttpRequest, HttpResponse } from './http/apigw.ts';

/**
 * The composition root: builds the services once per process (a warm Lambda, or the local stack)
 * from the config. Handlers in functions/ and the local server call only these.
 */
let queue: DeliveryQueue | undefined;
let auth: Authenticator | undefined;
let ingest: IngestService | undefined;

/** The local stack feeds deliveries to the dispatcher in-process instead of SQS. */
export function useDeliveryQueue(q: DeliveryQueue): void {
  queue = q;
}
function deliveryQueue(): DeliveryQueue {
  if (!queue) {
    const url = config().LIDLESS_ALERT_QUEUE_URL;
    if (!url) throw new Error('LIDLESS_ALERT_QUEUE_URL is not set');
    queue = new SqsDeliveryQueue(url);
  }
  return queue;
}

function authenticator(): Authenticator {
  auth ??= new Authenticator(new ControlTable(stores()), operatorTokenSource(config()), config().LIDLESS_AUTH_CACHE_MS);
  return auth;
}

/** `deadlineAt` (epoch ms): when the function will be stopped; the request is answered 503 before then. */
export function handleIngest(req: HttpRequest, deadlineAt?: number): Promise<HttpResponse> {
  ingest ??= new IngestService(stores(), authenticator(), deliveryQueue(), {
    maxBodyBytes: config().LIDLESS_MAX_BODY_BYTES,
    cacheMs: config().LIDLESS_AUTH_CACHE_MS,
  });
  return ingest.handle(req, deadlineAt);
}

let cursorKey: Promise<Buffer> | undefined;
async function apiCursorKey(): Promise<Buffer> {
  cursorKey ??= operatorTokenSource(config())().then((t) => {
    if (!t) throw new Error('no operator token configured: set LIDLESS_OPERATOR_TOKEN or LIDLESS_OPERATOR_TOKEN_SECRET_ARN');
    return cursorKeyFrom(t);
  });
  return cursorKey;
}

/** tRPC over the fetch adapter: the same router serves API Gateway events and the local server. */
export async function handleApi(req: HttpRequest): Promise<HttpResponse> {
  const key = await apiCursorKey();
  const url = new URL(req.path, 'http://lidless.internal');
  url.search = req.query;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const sent = Object.entries(req.headers).filter((e): e is [string, string] => e[1] !== undefined);
  const request = new Request(url, { method: req.method, headers: jsonByDefault(sent), body: hasBody ? new Uint8Array(req.body) : undefined });
  const response = await fetchRequestHandler({
    endpoint: '/trpc',
    req: request,
    router: appRouter,
    allowMethodOverride: false,
    // a batch runs its calls at once: bounded, so one request cannot start thousands of reads
    maxBatchSize: 20,
    createContext: () => ({
      secret: presentedSecret(req.headers, false),
      auth: authenticator(),
      stores: stores(),
      control: new ControlTable(stores()),
      cfg: config(),
      cursorKey: key,
      requestId: req.requestId,
      now: Date.now,
    }),
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { statusCode: response.status, headers, body: await response.text() };
}

/**
 * The API speaks plain JSON only. A body sent with no content type, or with the form type `curl -d`
 * gives it, is taken as the JSON it is meant to be (a body that is not JSON is still a parse error).
 */
function jsonByDefault(headers: [string, string][]): [string, string][] {
  const type = headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  if (type !== undefined && !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return headers;
  return [...headers.filter(([k]) => k.toLowerCase() !== 'content-type'), ['content-type', 'application/json']];
}

export function handleDelivery(msg: DeliveryMessage) {
  const cfg = config();
  return dispatchDelivery(stores(), deliveryQueue(), msg, {
    localMode: cfg.LIDLESS_LOCAL_MODE === '1',
    baseDelayMs: cfg.LIDLESS_WEBHOOK_BASE_DELAY_MS,
    maxAttempts: cfg.LIDLESS_WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: cfg.LIDLESS_WEBHOOK_TIMEOUT_MS,
  });
}

export async function runEvaluation(now: number): Promise<number> {
  const messages = await evaluateAll(stores(), now);
  if (messages.length) await deliveryQueue().send(messages);
  return messages.length;
}

/**
 * Sends every tenant's pending deliveries now: for a delivery queue that lives in memory (the local
 * stack's), whose scheduled retries end with the process, unlike an SQS queue's.
 */
export async function resumePendingDeliveries(now: number): Promise<number> {
  const s = stores();
  const messages: DeliveryMessage[] = [];
  for (const tenant of await new ControlTable(s).listTenants()) messages.push(...(await stalePendingDeliveries(s, tenant.tenantId, now, 0)));
  if (messages.length) await deliveryQueue().send(messages);
  return messages.length;
}

/** A batch of the runs table's stream, folded into the day cells (exactly once per batch). */
export function handleRunChanges(records: readonly StreamImageRecord[]): Promise<AppliedCells> {
  return applyStreamBatch(stores(), records);
}

/** Forgets every built service (tests that change the environment). */
export function resetRuntime(): void {
  queue = undefined;
  auth = undefined;
  ingest = undefined;
  cursorKey = undefined;
}
