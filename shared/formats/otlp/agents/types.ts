import type { LogLevel, StepInput } from '../../../model.ts';
import type { Attributes } from '../attributes.ts';

/**
 * One adapter per coding agent that reports itself through OTLP log events. logs.ts picks the adapter
 * from a table (by event-name prefix, then by `service.name`, then by the short names an agent is known
 * to send) and turns what it returns into a normalised event.
 */
export interface AgentRecord {
  /** the event name without the agent's prefix, e.g. `api_request` */
  event: string;
  /** the event name as it should be shown, with the prefix, e.g. `claude_code.api_request` */
  fullName: string;
  /** the log record's own attributes */
  attrs: Attributes;
  /** epoch ms of the record (its time, or its observed time) */
  at: number;
}

/** A step (its id is derived by logs.ts), an error or info log, or undefined for "not an agent event I map". */
export type AgentMapping =
  | { type: 'step'; step: Omit<StepInput, 'stepId'> }
  | { type: 'log'; level: LogLevel; message: string };

export interface AgentLogAdapter {
  /** the agent name given to runs when no `gen_ai.agent.name` / `service.name` says otherwise */
  agent: string;
  /** the prefix of its full event names, with the dot */
  prefix: string;
  /** `service.name` values it reports under */
  serviceNames: readonly string[];
  /** event names it may send without the prefix */
  shortNames: readonly string[];
  map(record: AgentRecord): AgentMapping | undefined;
}
