import type { StepInput, Usage } from '../../../model.ts';
import { readBoolean, readNumber, readString } from '../attributes.ts';
import type { AgentRecord } from './types.ts';

/**
 * Agents log an API call or a tool call when it ends, with its `duration_ms`: the step ends at the
 * record's time and started that long before.
 */
export function timedStep(
  record: AgentRecord,
  kind: StepInput['kind'],
  name: string,
): Omit<StepInput, 'stepId'> {
  const duration = readNumber(record.attrs, 'duration_ms');
  const startedAt = duration !== undefined && duration > 0 ? record.at - Math.round(duration) : record.at;
  const step: Omit<StepInput, 'stepId'> = { kind, name, startedAt, endedAt: record.at, status: 'ok' };
  if (Object.keys(record.attrs).length > 0) step.attributes = record.attrs;
  return step;
}

/** A tool step: failed when `success` is false (boolean or string), with the agent's error text if any. */
export function toolStep(record: AgentRecord, toolNameKeys: readonly string[], errorKeys: readonly string[]) {
  const name = toolNameKeys.map((key) => readString(record.attrs, key)).find(Boolean) ?? record.fullName;
  const step = timedStep(record, 'tool', name);
  if (readBoolean(record.attrs, 'success') === false) {
    step.status = 'error';
    const error = errorKeys.map((key) => readString(record.attrs, key)).find(Boolean);
    if (error) step.error = error;
  }
  return step;
}

/** A model call: the record's `model`, the usage the agent's own mapping read, failed when `errorKey` is set. */
export function modelCallStep(record: AgentRecord, usage: Usage | undefined, errorKey: string) {
  const step = timedStep(record, 'llm', record.fullName);
  const model = readString(record.attrs, 'model');
  if (model) step.model = model;
  if (usage) step.usage = usage;
  const error = readString(record.attrs, errorKey);
  if (error) {
    step.status = 'error';
    step.error = error;
  }
  return step;
}
