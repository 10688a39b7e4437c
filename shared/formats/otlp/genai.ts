import { STEP_KINDS } from '../../model.ts';
import type { StepKind, Usage } from '../../model.ts';
import { readCount, readNumber, readString } from './attributes.ts';
import type { Attributes } from './attributes.ts';

/** What the OpenTelemetry GenAI semantic conventions say about a span: its step kind, model and usage. */

const OPERATION_KINDS: Record<string, StepKind> = {
  chat: 'llm',
  text_completion: 'llm',
  generate_content: 'llm',
  embeddings: 'llm',
  execute_tool: 'tool',
  invoke_agent: 'agent',
  create_agent: 'agent',
};

/**
 * The step kind: `gen_ai.operation.name` as the contract maps it, then an explicit `lidless.step.kind`,
 * then what other conventions reveal: a tool name means a tool call, HTTP client/server attributes an
 * HTTP call, CI/CD pipeline or test attributes a CI or test step, and a span that reports a model and
 * token usage without naming its operation (older instrumentations) an LLM call. Anything else: `other`.
 */
export function stepKindOf(attrs: Attributes): StepKind {
  const operation = readString(attrs, 'gen_ai.operation.name');
  if (operation && OPERATION_KINDS[operation]) return OPERATION_KINDS[operation];
  const declared = readString(attrs, 'lidless.step.kind');
  if (declared && (STEP_KINDS as readonly string[]).includes(declared)) return declared as StepKind;
  if (readString(attrs, 'gen_ai.tool.name')) return 'tool';
  if (readString(attrs, 'http.request.method') || readString(attrs, 'http.method')) return 'http';
  if (readString(attrs, 'cicd.pipeline.name') || readString(attrs, 'cicd.pipeline.run.id')) return 'ci';
  if (readString(attrs, 'test.case.name') || readString(attrs, 'test.suite.name')) return 'test';
  const usage = usageOf(attrs);
  if (modelOf(attrs) && (usage?.inputTokens !== undefined || usage?.outputTokens !== undefined)) return 'llm';
  return 'other';
}

export function modelOf(attrs: Attributes): string | undefined {
  return readString(attrs, 'gen_ai.response.model') ?? readString(attrs, 'gen_ai.request.model');
}

export function providerOf(attrs: Attributes): string | undefined {
  return readString(attrs, 'gen_ai.provider.name') ?? readString(attrs, 'gen_ai.system');
}

/**
 * Token usage. `inputTokens` excludes cache reads and writes: when cache attributes are present, the
 * convention's input figure includes them, so they are subtracted (never below 0). The deprecated
 * prompt/completion names and the underscore spellings of the cache attributes some instrumentations
 * still send are read as the same figures.
 */
export function usageOf(attrs: Attributes): Usage | undefined {
  const rawInput = readCount(attrs, 'gen_ai.usage.input_tokens') ?? readCount(attrs, 'gen_ai.usage.prompt_tokens');
  const output = readCount(attrs, 'gen_ai.usage.output_tokens') ?? readCount(attrs, 'gen_ai.usage.completion_tokens');
  const cacheRead =
    readCount(attrs, 'gen_ai.usage.cache_read.input_tokens') ?? readCount(attrs, 'gen_ai.usage.cache_read_input_tokens');
  const cacheWrite =
    readCount(attrs, 'gen_ai.usage.cache_creation.input_tokens') ??
    readCount(attrs, 'gen_ai.usage.cache_creation_input_tokens');
  const usage: Usage = {};
  if (rawInput !== undefined) usage.inputTokens = Math.max(0, rawInput - (cacheRead ?? 0) - (cacheWrite ?? 0));
  if (output !== undefined) usage.outputTokens = output;
  if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
  if (cacheWrite !== undefined) usage.cacheWriteTokens = cacheWrite;
  return Object.keys(usage).length > 0 ? usage : undefined;
}

/** A cost the sender computed itself (it then stands instead of Lidless's price table). */
export function costOf(attrs: Attributes): number | undefined {
  for (const key of ['lidless.cost_usd', 'gen_ai.usage.cost']) {
    const cost = readNumber(attrs, key);
    if (cost !== undefined && cost >= 0) return cost;
  }
  return undefined;
}
