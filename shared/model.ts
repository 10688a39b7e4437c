/**
 * The one internal event model. Every source format (native batches, OTLP traces, OTLP logs of each
 * coding agent) is turned into these events by its adapter in `shared/formats/`; everything downstream
 * (redaction, pricing, aggregation, storage, alerts) only ever sees this shape.
 */

export const STEP_KINDS = [
  'llm', 'tool', 'agent', 'sandbox', 'ci', 'test', 'lint', 'http', 'retry', 'human', 'policy', 'other',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const OUTCOMES = ['merged_change', 'green_build', 'fixed_incident', 'rejected', 'none'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const USEFUL_OUTCOMES: ReadonlySet<string> = new Set(['merged_change', 'green_build', 'fixed_incident']);

/**
 * Bounds on what ends up in keys and run items (a DynamoDB item is at most 400 KB, an attribute name
 * 64 KB, an index key 1 KB): adapters reject an event or span whose values are longer.
 */
export const MAX_MODEL_CHARS = 256;
export const MAX_RUN_FIELD_CHARS = 1024;

/** Ids (`id`, `runId`, `stepId`): 1 to 128 printable characters, not starting with a space. */
export const MAX_ID_CHARS = 128;
export const PRINTABLE_ID = /^[\x21-\x7e\u00a0-\uffff][\x20-\x7e\u00a0-\uffff]*$/;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type Source = 'native' | 'otlp.traces' | 'otlp.logs' | 'otlp.metrics';

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
}

/** Run-level fields an event may carry; merged into the run (first non-empty value of each wins, see aggregate). */
export interface RunFields {
  agent?: string;
  /** the agent is only a stand-in (`service.name`, or the adapter's default), which a named agent replaces */
  agentFallback?: boolean;
  repo?: string;
  branch?: string;
  commit?: string;
  traceId?: string;
  status?: RunStatus;
  outcome?: Outcome;
  /** epoch ms */
  startedAt?: number;
  /** epoch ms */
  endedAt?: number;
  attributes?: Record<string, unknown>;
}

export interface StepInput {
  stepId: string;
  parentStepId?: string;
  kind: StepKind;
  name: string;
  /** epoch ms */
  startedAt: number;
  /** epoch ms */
  endedAt?: number;
  status: 'ok' | 'error';
  model?: string;
  provider?: string;
  usage?: Usage;
  /** cost the client sent; when absent, pricing computes it */
  costUsd?: number;
  error?: string;
  input?: unknown;
  output?: unknown;
  attributes?: Record<string, unknown>;
}

interface EventBase {
  /** idempotency key, unique per tenant: the client's id, or a stable id derived from the OTLP record */
  eventId: string;
  runId: string;
  /** run fields carried alongside the event (OTLP resource/span attributes); absent for most native events */
  run?: RunFields;
}

export type NormalizedEvent =
  | (EventBase & { type: 'run'; at: number })
  | (EventBase & { type: 'step'; step: StepInput })
  | (EventBase & {
      type: 'log';
      at: number;
      level: LogLevel;
      message: string;
      stepId?: string;
      attributes?: Record<string, unknown>;
    })
  | (EventBase & {
      type: 'assertion';
      at: number;
      name: string;
      passed: boolean;
      message?: string;
      stepId?: string;
    });

/** One accepted item of a request: the normalised event plus what is kept raw in object storage. */
export interface ParsedItem {
  event: NormalizedEvent;
  /** the native event as sent, or the OTLP span / log record in OTLP JSON form with its resource attributes */
  raw: unknown;
  /** position in the request's list of events, spans or log records, for rejections made after parsing */
  index?: number;
}

export interface Rejection {
  index: number;
  id?: string;
  error: string;
}

/** A tenant metric point received on /v1/metrics. */
export interface MetricPoint {
  name: string;
  kind: 'sum' | 'gauge';
  /** gauges are always 'gauge'; sums are delta or cumulative */
  temporality: 'delta' | 'cumulative' | 'gauge';
  /** epoch ms of the point */
  at: number;
  /** epoch ms of the series start (cumulative resets are detected by a new start) */
  startAt: number;
  /** cumulative sums: whether the series only grows, so that a drop is a reset rather than a decrease */
  monotonic?: boolean;
  value: number;
  attributes: Record<string, string>;
}

export interface ParsedBatch {
  source: Source;
  /** how many items the request held (events, spans, log records, metric points) */
  total: number;
  items: ParsedItem[];
  rejected: Rejection[];
  metrics?: MetricPoint[];
}
