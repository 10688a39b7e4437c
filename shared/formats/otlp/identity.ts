import { MAX_ID_CHARS, MAX_RUN_FIELD_CHARS, OUTCOMES, PRINTABLE_ID, RUN_STATUSES } from '../../model.ts';
import type { Outcome, RunFields, RunStatus } from '../../model.ts';
import { firstString, readString } from './attributes.ts';
import type { Attributes } from './attributes.ts';

/**
 * Which run an OTLP span or log record belongs to, and the run fields it carries (CONTRACT.md, Ingest).
 * Attribute sets are passed most specific first (the span's or record's own, then its resource's).
 * Keys are tried in priority order, each in every set: an explicit `lidless.run.id` on the resource
 * (e.g. from OTEL_RESOURCE_ATTRIBUTES) thus still wins over the `session.id` an agent puts on each record.
 */
export const RUN_ID_KEYS = ['lidless.run.id', 'session.id', 'gen_ai.conversation.id', 'conversation.id'] as const;

/**
 * The run id, falling back to the trace id; undefined when neither exists. Throws a plain Error when the
 * chosen value is not a valid id (1 to 128 printable characters), rather than silently using another.
 */
export function resolveRunId(sets: readonly Attributes[], traceIdHex: string | undefined): string | undefined {
  const found = firstString(sets, RUN_ID_KEYS);
  if (!found) return traceIdHex;
  if (found.value.length > MAX_ID_CHARS || !PRINTABLE_ID.test(found.value)) {
    throw new Error(`${found.key} must be 1 to 128 printable characters to be a run id`);
  }
  return found.value;
}

/** Run fields found in the attributes; `defaultAgent` is used when neither attribute names the agent. */
export function runFieldsFrom(sets: readonly Attributes[], defaultAgent?: string): RunFields {
  const fields: RunFields = {};
  const pick = (keys: readonly string[]) => bounded(firstString(sets, keys));
  const repo = pick(['vcs.repository.name', 'lidless.repo']);
  const branch = pick(['vcs.ref.head.name', 'lidless.branch']);
  const commit = pick(['vcs.ref.head.revision', 'lidless.commit']);
  const named = pick(['gen_ai.agent.name']);
  const agent = named ?? serviceName(sets) ?? defaultAgent;
  const outcome = pick(['lidless.outcome']);
  const status = pick(['lidless.run.status']);
  if (repo) fields.repo = repo;
  if (branch) fields.branch = branch;
  if (commit) fields.commit = commit;
  if (agent) fields.agent = agent;
  if (agent && !named) fields.agentFallback = true;
  if (outcome && (OUTCOMES as readonly string[]).includes(outcome)) fields.outcome = outcome as Outcome;
  if (status && (RUN_STATUSES as readonly string[]).includes(status)) fields.status = status as RunStatus;
  return fields;
}

/** `service.name`, unless it is the SDK's placeholder `unknown_service[:process]`. */
function serviceName(sets: readonly Attributes[]): string | undefined {
  for (const attrs of sets) {
    const name = readString(attrs, 'service.name');
    if (name && !name.startsWith('unknown_service')) return bounded({ key: 'service.name', value: name });
  }
  return undefined;
}

/** A run field's value; one too long for the run item and its index is refused, naming its attribute. */
function bounded(found: { key: string; value: string } | undefined): string | undefined {
  if (found && found.value.length > MAX_RUN_FIELD_CHARS) throw new Error(`${found.key} must be at most ${MAX_RUN_FIELD_CHARS} characters`);
  return found?.value;
}
