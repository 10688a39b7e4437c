import type { Usage } from '../../../model.ts';
import { readCount, readNumber, readString } from '../attributes.ts';
import { timedStep, toolStep } from './common.ts';
import type { AgentLogAdapter, AgentMapping, AgentRecord } from './types.ts';

/**
 * Claude Code (`CLAUDE_CODE_ENABLE_TELEMETRY=1`). Its `event.name` is often the short form
 * (`api_request`) with the full name in the body. Numbers and booleans arrive as strings. Its
 * `input_tokens` already excludes cache reads and writes, and it reports its own `cost_usd`.
 */
export const claudeCode: AgentLogAdapter = {
  agent: 'claude-code',
  prefix: 'claude_code.',
  serviceNames: ['claude-code'],
  shortNames: ['api_request', 'api_error', 'tool_result', 'user_prompt', 'tool_decision'],
  map(record: AgentRecord): AgentMapping | undefined {
    switch (record.event) {
      case 'api_request':
        return { type: 'step', step: apiRequest(record) };
      case 'api_error':
        return { type: 'log', level: 'error', message: readString(record.attrs, 'error') ?? record.fullName };
      case 'tool_result':
        return { type: 'step', step: toolStep(record, ['tool_name'], ['error']) };
      default:
        return undefined;
    }
  },
};

function apiRequest(record: AgentRecord) {
  const step = timedStep(record, 'llm', record.fullName);
  const model = readString(record.attrs, 'model');
  if (model) step.model = model;
  const usage: Usage = {};
  const input = readCount(record.attrs, 'input_tokens');
  const output = readCount(record.attrs, 'output_tokens');
  const cacheRead = readCount(record.attrs, 'cache_read_tokens');
  const cacheWrite = readCount(record.attrs, 'cache_creation_tokens');
  if (input !== undefined) usage.inputTokens = input;
  if (output !== undefined) usage.outputTokens = output;
  if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
  if (cacheWrite !== undefined) usage.cacheWriteTokens = cacheWrite;
  if (Object.keys(usage).length > 0) step.usage = usage;
  const cost = readNumber(record.attrs, 'cost_usd');
  if (cost !== undefined && cost >= 0) step.costUsd = cost;
  return step;
}
