import { MAX_MODEL_CHARS } from '../../model.ts';
import type { ParsedBatch, ParsedItem, Rejection, RunFields, StepInput } from '../../model.ts';
import { attributesToObject, isRecord, readString } from './attributes.ts';
import { costOf, modelOf, providerOf, stepKindOf, usageOf } from './genai.ts';
import { SPAN_ID_BYTES, TRACE_ID_BYTES, toHexId } from './ids.ts';
import { resolveRunId, runFieldsFrom } from './identity.ts';
import { nanosToMs } from './time.ts';
import { walkRequest } from './walk.ts';
import type { Scoped } from './walk.ts';

/**
 * OTLP traces → one `step` event per span (CONTRACT.md, Ingest). A root span (no parent) ends its run:
 * `succeeded`, or `failed` when its status is ERROR, unless `lidless.run.status` says otherwise.
 * `request` is an `ExportTraceServiceRequest` in OTLP JSON object form (see proto.ts for protobuf).
 */
export function parseTraces(request: unknown, _receivedAt: number): ParsedBatch {
  const spans = walkRequest(request, { resources: 'resourceSpans', scopes: 'scopeSpans', items: 'spans' });
  const items: ParsedItem[] = [];
  const rejected: Rejection[] = [];
  spans.forEach((scoped, index) => {
    try {
      items.push(spanToItem(scoped));
    } catch (err) {
      const rejection: Rejection = { index, error: `span ${index}: ${(err as Error).message}` };
      const id = safeHexId(isRecord(scoped.item) ? scoped.item.spanId : undefined, SPAN_ID_BYTES);
      if (id) rejection.id = id;
      rejected.push(rejection);
    }
  });
  return { source: 'otlp.traces', total: spans.length, items, rejected };
}

const STATUS_CODE_ERROR = 2;

function spanToItem({ item: span, resourceAttributes, resourceAttributeList, scope }: Scoped): ParsedItem {
  if (!isRecord(span)) throw new Error('must be an object');
  const traceId = required(idField(span.traceId, TRACE_ID_BYTES, 'traceId'), 'traceId');
  const spanId = required(idField(span.spanId, SPAN_ID_BYTES, 'spanId'), 'spanId');
  const parentSpanId = idField(span.parentSpanId, SPAN_ID_BYTES, 'parentSpanId');
  const startedAt = required(timeField(span.startTimeUnixNano, 'startTimeUnixNano'), 'startTimeUnixNano');
  const endedAt = required(timeField(span.endTimeUnixNano, 'endTimeUnixNano'), 'endTimeUnixNano');
  if (endedAt < startedAt) throw new Error('endTimeUnixNano is before startTimeUnixNano');

  const attrs = attributesToObject(span.attributes);
  const sets = [attrs, resourceAttributes];
  const runId = resolveRunId(sets, traceId) ?? traceId;
  const failed = isErrorStatus(span.status);

  const step: StepInput = {
    stepId: spanId,
    kind: stepKindOf(attrs),
    name: typeof span.name === 'string' && span.name !== '' ? span.name : (readString(attrs, 'gen_ai.operation.name') ?? 'span'),
    startedAt,
    endedAt,
    status: failed ? 'error' : 'ok',
  };
  if (parentSpanId) step.parentStepId = parentSpanId;
  const model = modelOf(attrs);
  if (model && model.length > MAX_MODEL_CHARS) throw new Error(`the model name must be at most ${MAX_MODEL_CHARS} characters`);
  if (model) step.model = model;
  const provider = providerOf(attrs);
  if (provider) step.provider = provider;
  const usage = usageOf(attrs);
  if (usage) step.usage = usage;
  const costUsd = costOf(attrs);
  if (costUsd !== undefined) step.costUsd = costUsd;
  if (failed) {
    const message = errorMessageOf(span);
    if (message) step.error = message;
  }
  if (Object.keys(attrs).length > 0) step.attributes = attrs;

  const run: RunFields = { ...runFieldsFrom(sets), traceId, startedAt };
  if (!parentSpanId) {
    run.status ??= failed ? 'failed' : 'succeeded';
    run.endedAt = endedAt;
  }

  return {
    event: { type: 'step', eventId: `otlp.span:${traceId}:${spanId}`, runId, run, step },
    raw: {
      resource: { attributes: resourceAttributeList },
      scope,
      span: { ...span, traceId, spanId, ...(parentSpanId ? { parentSpanId } : {}), ...hexLinks(span.links) },
    },
  };
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new Error(`missing ${field}`);
  return value;
}

function idField(value: unknown, bytes: number, field: string): string | undefined {
  try {
    return toHexId(value, bytes);
  } catch (err) {
    throw new Error(`${field} ${(err as Error).message}`);
  }
}

function safeHexId(value: unknown, bytes: number): string | undefined {
  try {
    return toHexId(value, bytes);
  } catch {
    return undefined;
  }
}

function timeField(value: unknown, field: string): number | undefined {
  try {
    return nanosToMs(value);
  } catch (err) {
    throw new Error(`${field} ${(err as Error).message}`);
  }
}

/** Status code ERROR: 2 in protobuf and OTLP JSON, the enum name from senders that spell it out. */
function isErrorStatus(status: unknown): boolean {
  if (!isRecord(status)) return false;
  return status.code === STATUS_CODE_ERROR || status.code === String(STATUS_CODE_ERROR) || status.code === 'STATUS_CODE_ERROR';
}

/** The status message, else the message of the span's first `exception` event. */
function errorMessageOf(span: Record<string, unknown>): string | undefined {
  const status = span.status;
  if (isRecord(status) && typeof status.message === 'string' && status.message !== '') return status.message;
  const events = Array.isArray(span.events) ? span.events : [];
  for (const event of events) {
    if (isRecord(event) && event.name === 'exception') {
      const message = readString(attributesToObject(event.attributes), 'exception.message');
      if (message) return message;
    }
  }
  return undefined;
}

/** Span links with their ids in hex too, so the raw copy reads the same whatever the encoding. */
function hexLinks(links: unknown): { links?: unknown[] } {
  if (!Array.isArray(links) || links.length === 0) return {};
  return {
    links: links.map((link) =>
      isRecord(link)
        ? {
            ...link,
            traceId: safeHexId(link.traceId, TRACE_ID_BYTES) ?? link.traceId,
            spanId: safeHexId(link.spanId, SPAN_ID_BYTES) ?? link.spanId,
          }
        : link,
    ),
  };
}
