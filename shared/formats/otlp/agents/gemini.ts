import type { Usage } from '../../../model.ts';
import { readCount, readString } from '../attributes.ts';
import { modelCallStep, toolStep } from './common.ts';
import type { AgentLogAdapter, AgentMapping, AgentRecord } from './types.ts';

/**
 * Gemini CLI (`gemini_cli.*` events). Gemini's `input_token_count` (promptTokenCount) includes the
 * cached content tokens, so they are subtracted; thought tokens are billed as output but counted apart
 * from `output_token_count` (candidates), so they are added.
 */
export const gemini: AgentLogAdapter = {
  agent: 'gemini-cli',
  prefix: 'gemini_cli.',
  serviceNames: ['gemini-cli'],
  shortNames: [],
  map(record: AgentRecord): AgentMapping | undefined {
    switch (record.event) {
      case 'api_response':
        return { type: 'step', step: apiResponse(record) };
      case 'api_error':
        return { type: 'log', level: 'error', message: readString(record.attrs, 'error') ?? record.fullName };
      case 'tool_call':
        return { type: 'step', step: toolStep(record, ['function_name', 'tool_name'], ['error']) };
      default:
        return undefined;
    }
  },
};

function apiResponse(record: AgentRecord) {
  return modelCallStep(record, usageOf(record), 'error');
}

function usageOf({ attrs }: AgentRecord): Usage | undefined {
  const input = readCount(attrs, 'input_token_count');
  const cacheRead = readCount(attrs, 'cached_content_token_count');
  const output = readCount(attrs, 'output_token_count');
  const thoughts = readCount(attrs, 'thoughts_token_count');
  const usage: Usage = {};
  if (input !== undefined) usage.inputTokens = Math.max(0, input - (cacheRead ?? 0));
  if (output !== undefined || thoughts !== undefined) usage.outputTokens = (output ?? 0) + (thoughts ?? 0);
  if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
  return Object.keys(usage).length > 0 ? usage : undefined;
}
