import type { Usage } from '../../../model.ts';
import { readCount, readString } from '../attributes.ts';
import { modelCallStep, toolStep } from './common.ts';
import type { AgentLogAdapter, AgentMapping, AgentRecord } from './types.ts';

/**
 * OpenAI Codex CLI (`[otel]` in its config). Token counts come on `codex.sse_event` with
 * `event.kind=response.completed`, in OpenAI's usage terms: `input_token_count` includes the cached
 * (and cache-write) tokens, so they are subtracted; `output_token_count` already includes the reasoning
 * tokens (`reasoning_token_count` is a breakdown of it), so it is taken as is. No cost is reported.
 */
export const codex: AgentLogAdapter = {
  agent: 'codex',
  prefix: 'codex.',
  serviceNames: [],
  shortNames: [],
  map(record: AgentRecord): AgentMapping | undefined {
    switch (record.event) {
      case 'sse_event':
        return readString(record.attrs, 'event.kind') === 'response.completed'
          ? { type: 'step', step: responseCompleted(record) }
          : undefined;
      case 'api_error':
        return { type: 'log', level: 'error', message: readString(record.attrs, 'error.message') ?? readString(record.attrs, 'error') ?? record.fullName };
      case 'tool_result':
        // a failed call's `output` is the failure as the tool reported it (Codex sends no error field)
        return { type: 'step', step: toolStep(record, ['tool_name'], ['error.message', 'error', 'output']) };
      default:
        return undefined;
    }
  },
};

function responseCompleted(record: AgentRecord) {
  // Codex reports a completed response whose usage it could not read with only an error message.
  return modelCallStep(record, usageOf(record), 'error.message');
}

function usageOf({ attrs }: AgentRecord): Usage | undefined {
  const input = readCount(attrs, 'input_token_count');
  const cacheRead = readCount(attrs, 'cached_token_count');
  const cacheWrite = readCount(attrs, 'cache_write_token_count');
  const output = readCount(attrs, 'output_token_count') ?? readCount(attrs, 'reasoning_token_count');
  const usage: Usage = {};
  if (input !== undefined) usage.inputTokens = Math.max(0, input - (cacheRead ?? 0) - (cacheWrite ?? 0));
  if (output !== undefined) usage.outputTokens = output;
  if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
  if (cacheWrite !== undefined) usage.cacheWriteTokens = cacheWrite;
  return Object.keys(usage).length > 0 ? usage : undefined;
}
