import type { Stores } from '../store/clients.ts';
import { ControlTable, type AlertRule, type Tenant } from '../store/control-table.ts';
import { Authenticator, ingestTenant, presentedSecret } from '../auth/principal.ts';
import { HTTP_STATUS, LidlessError, NotFoundError, UnavailableError } from '../errors.ts';
import { json, type HttpRequest, type HttpResponse } from '../http/apigw.ts';
import { encodingOf, inflate, limitDepth, parseJson, type BodyEncoding } from './body.ts';
import { parseNativeBatch } from '../formats/native.ts';
import { decodeOtlp, encodeOtlpResponse, encodeOtlpStatus, parseLogs, parseMetrics, parseTraces, type OtlpSignal } from '../formats/otlp/index.ts';
import type { ParsedBatch } from '../model.ts';
import { batchIdOf, ingestParsed, type IngestOutcome } from './pipeline.ts';
import type { DeliveryQueue } from '../alerts/queue.ts';
import { emit, isThrottle, logger } from '../observability/telemetry.ts';

/**
 * The ingest endpoints: `/v1/ingest` (native batches) and `/v1/traces|logs|metrics` (OTLP/HTTP).
 * Authentication, body limits and the mapping of errors to each protocol's answer live here; the work
 * itself is in pipeline.ts.
 */
const OTLP_PARSERS: Record<OtlpSignal, (req: unknown, receivedAt: number) => ParsedBatch> = {
  traces: parseTraces,
  logs: parseLogs,
  metrics: parseMetrics,
};
const OTLP_PATHS: Record<string, OtlpSignal> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };

/** Answers the client's retry hint on 503 (seconds). */
const RETRY_AFTER = '1';

interface Cached<T> {
  value: T;
  expires: number;
}

export class IngestService {
  private readonly control: ControlTable;
  private readonly tenants = new Map<string, Cached<{ tenant: Tenant; rules: AlertRule[] }>>();

  constructor(
    private readonly stores: Stores,
    private readonly auth: Authenticator,
    private readonly queue: DeliveryQueue,
    private readonly opts: { maxBodyBytes: number; cacheMs: number },
  ) {
    this.control = new ControlTable(stores);
  }

  async handle(req: HttpRequest, deadlineAt?: number): Promise<HttpResponse> {
    const started = Date.now();
    const signal = OTLP_PATHS[req.path];
    if (req.path !== '/v1/ingest' && !signal) return json(404, { error: `no such endpoint: ${req.method} ${req.path}` });
    if (req.method !== 'POST') return this.methodNotAllowed(req.path, signal);
    let encoding: BodyEncoding = 'json';
    try {
      encoding = encodingOf(req.headers['content-type'], Boolean(signal));
      const principal = await this.auth.authenticate(presentedSecret(req.headers, true));
      const tenantId = ingestTenant(principal);
      const body = inflate(req.body, req.headers['content-encoding'], this.opts.maxBodyBytes);
      const receivedAt = Date.now();
      const decoded = signal ? decodeOtlp(signal, body, encoding) : parseJson(body);
      // a native batch's events are each held to the bound by parseNativeBatch: one deep event is its rejection, not the batch's
      if (signal) limitDepth(decoded);
      const parsed = signal ? OTLP_PARSERS[signal](decoded, receivedAt) : parseNativeBatch(decoded);
      const { tenant, rules } = await this.tenantContext(tenantId);
      const outcome = await beforeDeadline(ingestParsed({ stores: this.stores, tenant, rules }, parsed, batchIdOf(tenantId, parsed.source, body)), deadlineAt);
      await this.enqueueAlerts(outcome);
      emit('eventsAccepted', outcome.accepted);
      emit('eventsRejected', outcome.rejected.length);
      emit('ingestLatency', Date.now() - started);
      logger.info('ingested', { requestId: req.requestId, tenantId, source: parsed.source, total: parsed.total, accepted: outcome.accepted, duplicates: outcome.duplicates, rejected: outcome.rejected.length });
      return signal ? this.otlpAnswer(signal, encoding, outcome) : this.nativeAnswer(outcome);
    } catch (err) {
      return this.failure(err, req, signal, encoding);
    }
  }

  private async tenantContext(tenantId: string): Promise<{ tenant: Tenant; rules: AlertRule[] }> {
    const hit = this.tenants.get(tenantId);
    if (hit && hit.expires > Date.now()) return hit.value;
    const [tenant, rules] = await Promise.all([this.control.getTenant(tenantId), this.control.listRules(tenantId)]);
    if (!tenant) throw new NotFoundError(`tenant ${tenantId} no longer exists`);
    const value = { tenant, rules };
    this.tenants.set(tenantId, { value, expires: Date.now() + this.opts.cacheMs });
    return value;
  }

  private async enqueueAlerts(outcome: IngestOutcome): Promise<void> {
    if (outcome.alerts.length === 0) return;
    try {
      await this.queue.send(outcome.alerts);
    } catch (err) {
      // the alert events are stored as pending: the evaluator's sweep re-sends what never reached the queue
      logger.error('could not enqueue alert deliveries', { error: err as Error, count: outcome.alerts.length });
    }
  }

  private nativeAnswer(o: IngestOutcome): HttpResponse {
    return json(o.rejected.length > 0 ? 207 : 200, { accepted: o.accepted, duplicates: o.duplicates, rejected: o.rejected });
  }

  private otlpAnswer(signal: OtlpSignal, encoding: BodyEncoding, o: IngestOutcome): HttpResponse {
    const partial = o.rejected.length > 0
      ? { rejected: o.rejected.length, errorMessage: o.rejected.slice(0, 5).map((r) => r.error).join('; ') }
      : undefined;
    const { body, contentType } = encodeOtlpResponse(signal, encoding, partial);
    return { statusCode: 200, headers: { 'content-type': contentType }, body };
  }

  /** 405, as an OTLP Status on the OTLP paths (in JSON: a request without a body has no encoding to answer in). */
  private methodNotAllowed(path: string, signal: OtlpSignal | undefined): HttpResponse {
    const message = `use POST for ${path}`;
    if (!signal) return json(405, { error: message }, { allow: 'POST' });
    const { body, contentType } = encodeOtlpStatus('json', grpcCode(405), message);
    return { statusCode: 405, headers: { 'content-type': contentType, allow: 'POST' }, body };
  }

  private failure(err: unknown, req: HttpRequest, signal: OtlpSignal | undefined, encoding: BodyEncoding): HttpResponse {
    let known: LidlessError;
    if (err instanceof LidlessError) known = err;
    else {
      logger.error('ingest failed', { requestId: req.requestId, error: err as Error });
      known = isThrottle(err) ? new UnavailableError('storage is busy; retry the request', { cause: err }) : new UnavailableError('ingest failed; retry the request', { cause: err });
    }
    if (known.code === 'UNAVAILABLE') {
      emit('ingestUnavailable', 1);
      if (isThrottle(known)) emit('storageThrottles', 1);
      logger.warn('ingest unavailable', { requestId: req.requestId, error: known.message, cause: String((known.cause as Error)?.name ?? '') });
    }
    const status = HTTP_STATUS[known.code];
    const extra: Record<string, string> = status === 503 || status === 429 ? { 'retry-after': RETRY_AFTER } : {};
    if (status === 401) extra['www-authenticate'] = 'Bearer';
    if (!signal) return json(status, { error: known.message }, extra);
    const { body, contentType } = encodeOtlpStatus(known.code === 'UNSUPPORTED_MEDIA_TYPE' ? 'json' : encoding, grpcCode(status), known.message);
    return { statusCode: status, headers: { 'content-type': contentType, ...extra }, body };
  }
}

/**
 * The work's result, or a 503 once `deadlineAt` passes. Work given up may still finish later, and a
 * retry of the request is told its events were taken: every write is idempotent.
 */
async function beforeDeadline<T>(work: Promise<T>, deadlineAt: number | undefined): Promise<T> {
  if (deadlineAt === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError('the request took too long to store; retry it')), Math.max(0, deadlineAt - Date.now()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** google.rpc.Code for an HTTP status, as OTLP's Status carries. */
function grpcCode(status: number): number {
  switch (status) {
    case 400: case 413: case 415: return 3; // INVALID_ARGUMENT
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 5; // NOT_FOUND
    case 405: return 12; // UNIMPLEMENTED
    case 429: return 8; // RESOURCE_EXHAUSTED
    default: return 14; // UNAVAILABLE
  }
}

