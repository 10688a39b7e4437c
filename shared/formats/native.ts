import { z } from 'zod';
import { LOG_LEVELS, MAX_ID_CHARS, MAX_MODEL_CHARS, MAX_RUN_FIELD_CHARS, OUTCOMES, PRINTABLE_ID, RUN_STATUSES, STEP_KINDS } from '../model.ts';
import type { NormalizedEvent, ParsedBatch, ParsedItem, Rejection } from '../model.ts';
import { BadRequestError, PayloadTooLargeError } from '../errors.ts';
import { MAX_BODY_DEPTH, nestsDeeper } from '../ingest/body.ts';

/**
 * The native batch format of `POST /v1/ingest` (CONTRACT.md). Each event is validated on its own: a bad
 * event is rejected with a reason and never sinks its batch. Unknown fields are errors, so a typo in a
 * field name is reported instead of silently dropped.
 */
export const MAX_EVENTS = 1000;

/** `id`, `runId`, `stepId`; the read API takes run ids by the same schema */
export const idSchema = z
  .string()
  .min(1, `must be 1 to ${MAX_ID_CHARS} characters`)
  .max(MAX_ID_CHARS, `must be 1 to ${MAX_ID_CHARS} characters`)
  .regex(PRINTABLE_ID, 'must be printable characters');

const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);
const timestamp = z
  .union([z.string().max(64), z.number()])
  .transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms) || ms < MIN_TIME || ms > MAX_TIME) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 string or epoch milliseconds between 2000 and 2200' });
      return z.NEVER;
    }
    return Math.floor(ms);
  });

const tokens = z.number().int('must be a non-negative integer').min(0, 'must be a non-negative integer').max(1e12);
const shortText = z.string().max(MAX_RUN_FIELD_CHARS);
const attributes = z.record(z.string().max(256), z.unknown());
/** A run's attributes are kept in its run item, so they are bounded; step and log attributes are only kept raw. */
const MAX_RUN_ATTRIBUTES_CHARS = 16_384;
const runAttributes = attributes.refine((a) => JSON.stringify(a).length <= MAX_RUN_ATTRIBUTES_CHARS, {
  message: `must be at most ${MAX_RUN_ATTRIBUTES_CHARS} characters as JSON (larger details belong in step or log attributes)`,
});

const runEvent = z.strictObject({
  type: z.literal('run'),
  id: idSchema,
  runId: idSchema,
  timestamp,
  agent: shortText.optional(),
  repo: shortText.optional(),
  branch: shortText.optional(),
  commit: shortText.optional(),
  traceId: z.string().max(128).optional(),
  status: z.enum(RUN_STATUSES).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
  attributes: runAttributes.optional(),
});

const stepEvent = z.strictObject({
  type: z.literal('step'),
  id: idSchema,
  runId: idSchema,
  stepId: idSchema,
  parentStepId: idSchema.optional(),
  kind: z.enum(STEP_KINDS),
  name: z.string().min(1).max(1024),
  startedAt: timestamp,
  endedAt: timestamp.optional(),
  status: z.enum(['ok', 'error']).optional(),
  model: z.string().max(MAX_MODEL_CHARS).optional(),
  provider: shortText.optional(),
  usage: z
    .strictObject({
      inputTokens: tokens.optional(),
      outputTokens: tokens.optional(),
      cacheReadTokens: tokens.optional(),
      cacheWriteTokens: tokens.optional(),
    })
    .optional(),
  costUsd: z.number().finite('must be a finite number').min(0, 'must be >= 0').max(1e6).optional(),
  error: z.string().max(65_536).optional(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  attributes: attributes.optional(),
});

const logEvent = z.strictObject({
  type: z.literal('log'),
  id: idSchema,
  runId: idSchema,
  timestamp,
  level: z.enum(LOG_LEVELS),
  message: z.string().max(65_536),
  stepId: idSchema.optional(),
  attributes: attributes.optional(),
});

const assertionEvent = z.strictObject({
  type: z.literal('assertion'),
  id: idSchema,
  runId: idSchema,
  timestamp,
  name: z.string().min(1).max(1024),
  passed: z.boolean(),
  message: z.string().max(65_536).optional(),
  stepId: idSchema.optional(),
});

const eventSchema = z.discriminatedUnion('type', [runEvent, stepEvent, logEvent, assertionEvent]);
type NativeEvent = z.output<typeof eventSchema>;

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = issue.path.join('.') || 'event';
  if (issue.code === 'unrecognized_keys') {
    // "field: message" like every other rejection, the field being the unknown one
    const fields = issue.keys.map((k) => [...issue.path, k].join('.'));
    return `${fields.join(', ')}: unknown field${fields.length > 1 ? 's' : ''}`;
  }
  // zod reports an unknown discriminator at the `type` path (older versions at the event itself)
  if (issue.code === 'invalid_union' && (issue.path.length === 0 || (issue.path.length === 1 && issue.path[0] === 'type'))) {
    return 'type: must be one of run, step, log, assertion';
  }
  return `${path}: ${issue.message}`;
}

function normalise(e: NativeEvent): NormalizedEvent {
  switch (e.type) {
    case 'run':
      return {
        type: 'run',
        eventId: e.id,
        runId: e.runId,
        at: e.timestamp,
        run: {
          agent: e.agent,
          repo: e.repo,
          branch: e.branch,
          commit: e.commit,
          traceId: e.traceId,
          status: e.status,
          outcome: e.outcome,
          // a run event's timestamp is when it was observed; without startedAt it still bounds the start
          startedAt: e.startedAt ?? e.timestamp,
          endedAt: e.endedAt,
          attributes: e.attributes,
        },
      };
    case 'step':
      return {
        type: 'step',
        eventId: e.id,
        runId: e.runId,
        step: {
          stepId: e.stepId,
          parentStepId: e.parentStepId,
          kind: e.kind,
          name: e.name,
          startedAt: e.startedAt,
          endedAt: e.endedAt,
          status: e.status ?? 'ok',
          model: e.model,
          provider: e.provider,
          usage: e.usage,
          costUsd: e.costUsd,
          error: e.error,
          input: e.input,
          output: e.output,
          attributes: e.attributes,
        },
      };
    case 'log':
      return {
        type: 'log',
        eventId: e.id,
        runId: e.runId,
        at: e.timestamp,
        level: e.level,
        message: e.message,
        stepId: e.stepId,
        attributes: e.attributes,
      };
    case 'assertion':
      return {
        type: 'assertion',
        eventId: e.id,
        runId: e.runId,
        at: e.timestamp,
        name: e.name,
        passed: e.passed,
        message: e.message,
        stepId: e.stepId,
      };
  }
}

const MAX_EVENT_DEPTH = MAX_BODY_DEPTH - 2;

/** Validates a parsed JSON body. Throws BadRequestError when it is not a batch at all. */
export function parseNativeBatch(body: unknown): ParsedBatch {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('body must be a JSON object {"events": [...]}');
  }
  const extra = Object.keys(body).filter((k) => k !== 'events');
  if (extra.length > 0) throw new BadRequestError(`unknown field ${extra.map((k) => `"${k}"`).join(', ')}: a batch is {"events": [...]}`);
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) throw new BadRequestError('events: must be an array of events');
  if (events.length > MAX_EVENTS) {
    throw new PayloadTooLargeError(`too many events: ${events.length} (at most ${MAX_EVENTS} per batch)`);
  }
  const items: ParsedItem[] = [];
  const rejected: Rejection[] = [];
  events.forEach((raw, index) => {
    // the body's bound, less the two levels of the batch around its events (later walks recurse)
    if (nestsDeeper(raw, MAX_EVENT_DEPTH)) {
      rejected.push({ index, error: `event nests deeper than ${MAX_EVENT_DEPTH} levels of objects and arrays` });
      return;
    }
    const parsed = eventSchema.safeParse(raw);
    if (parsed.success) {
      items.push({ event: normalise(parsed.data), raw, index });
    } else {
      const maybeId = (raw as { id?: unknown } | null)?.id;
      rejected.push({
        index,
        ...(typeof maybeId === 'string' && maybeId.length <= MAX_ID_CHARS ? { id: maybeId } : {}),
        error: describe(parsed.error),
      });
    }
  });
  return { source: 'native', total: events.length, items, rejected };
}
