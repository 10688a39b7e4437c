import { describe, expect, it } from 'vitest';
import type { NormalizedEvent, ParsedItem, StepInput } from '../../shared/model.ts';
import { parseTraces } from '../../shared/formats/otlp/index.ts';
import { BadRequestError } from '../../shared/errors.ts';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';

import { kv, nanos as ns, str, type AnyValue } from '../fixtures/otlp-json.ts';

const int = (intValue: string | number): AnyValue => ({ intValue });
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const TRACE = '5B8EFFF798038103D269B633813FC60C';
const TRACE_HEX = TRACE.toLowerCase();

function span(id: string, name: string, attrs: Record<string, AnyValue>, extra: Record<string, unknown> = {}) {
  return {
    traceId: TRACE,
    spanId: id,
    name,
    kind: 1,
    startTimeUnixNano: ns(T0 + 1000),
    endTimeUnixNano: ns(T0 + 2000),
    attributes: kv(attrs),
    ...extra,
  };
}

function request(spans: unknown[], resource: Record<string, AnyValue> = {}) {
  return {
    resourceSpans: [
      { resource: { attributes: kv(resource) }, scopeSpans: [{ scope: { name: 'agent-sdk', version: '1.2.0' }, spans }] },
    ],
  };
}

const ROOT = 'eee19b7ec3c1b174';
const genAiTrace = request(
  [
    span(
      ROOT,
      'invoke_agent fixer',
      { 'gen_ai.operation.name': str('invoke_agent'), 'gen_ai.agent.name': str('fixer'), 'lidless.outcome': str('merged_change') },
      { startTimeUnixNano: ns(T0), endTimeUnixNano: ns(T0 + 60_000) },
    ),
    span(
      '0000000000000a01',
      'chat claude-sonnet-4-5',
      {
        'gen_ai.operation.name': str('chat'),
        'gen_ai.provider.name': str('anthropic'),
        'gen_ai.request.model': str('claude-sonnet-4-5'),
        'gen_ai.response.model': str('claude-sonnet-4-5-20250929'),
        'gen_ai.usage.input_tokens': int('1200'),
        'gen_ai.usage.cache_read.input_tokens': int(1000),
        'gen_ai.usage.cache_creation.input_tokens': int('150'),
        'gen_ai.usage.output_tokens': int('80'),
      },
      { parentSpanId: ROOT },
    ),
    span(
      '0000000000000a02',
      'chat gpt-4o',
      {
        'gen_ai.operation.name': str('chat'),
        'gen_ai.system': str('openai'),
        'gen_ai.request.model': str('gpt-4o'),
        'gen_ai.usage.prompt_tokens': str('300'),
        'gen_ai.usage.completion_tokens': str('25'),
        'lidless.cost_usd': str('0.0123'),
      },
      { parentSpanId: ROOT },
    ),
    span(
      '0000000000000a03',
      'execute_tool bash',
      { 'gen_ai.operation.name': str('execute_tool'), 'gen_ai.tool.name': str('bash') },
      { parentSpanId: ROOT, status: { code: 2, message: 'exit status 1' } },
    ),
  ],
  {
    'service.name': str('fixer-service'),
    'gen_ai.conversation.id': str('conv-42'),
    'vcs.repository.name': str('acme/web'),
    'vcs.ref.head.name': str('main'),
    'lidless.commit': str('9fceb02'),
  },
);

function steps(items: ParsedItem[]): Record<string, StepInput & { event: NormalizedEvent }> {
  const out: Record<string, StepInput & { event: NormalizedEvent }> = {};
  for (const { event } of items) {
    if (event.type !== 'step') throw new Error(`expected a step, got ${event.type}`);
    out[event.step.name] = { ...event.step, event };
  }
  return out;
}

describe('parseTraces: a GenAI agent trace', () => {
  it('turns each span into a step of the run named by gen_ai.conversation.id', () => {
    // Act
    const batch = parseTraces(genAiTrace, T0);
    // Assess
    expect(batch).toMatchObject({ source: 'otlp.traces', total: 4, rejected: [] });
    expect(batch.items.map((i) => i.event.runId)).toEqual(['conv-42', 'conv-42', 'conv-42', 'conv-42']);
    expect(batch.items.map((i) => i.event.eventId)).toEqual([
      `otlp.span:${TRACE_HEX}:${ROOT}`,
      `otlp.span:${TRACE_HEX}:0000000000000a01`,
      `otlp.span:${TRACE_HEX}:0000000000000a02`,
      `otlp.span:${TRACE_HEX}:0000000000000a03`,
    ]);
  });

  it('gives each step its kind, model, provider and times, with children pointing at the root', () => {
    const s = steps(parseTraces(genAiTrace, T0).items);
    expect(s['invoke_agent fixer']).toMatchObject({ stepId: ROOT, kind: 'agent', status: 'ok', startedAt: T0, endedAt: T0 + 60_000 });
    expect(s['invoke_agent fixer']!.parentStepId).toBeUndefined();
    expect(s['chat claude-sonnet-4-5']).toMatchObject({
      kind: 'llm',
      parentStepId: ROOT,
      model: 'claude-sonnet-4-5-20250929',
      provider: 'anthropic',
      startedAt: T0 + 1000,
      endedAt: T0 + 2000,
    });
    expect(s['chat gpt-4o']).toMatchObject({ kind: 'llm', model: 'gpt-4o', provider: 'openai' });
    expect(s['execute_tool bash']).toMatchObject({ kind: 'tool', status: 'error', error: 'exit status 1' });
  });

  it('counts input tokens without the cache tokens the convention includes in them', () => {
    const s = steps(parseTraces(genAiTrace, T0).items);
    expect(s['chat claude-sonnet-4-5']!.usage).toEqual({
      inputTokens: 50,
      outputTokens: 80,
      cacheReadTokens: 1000,
      cacheWriteTokens: 150,
    });
  });

  it('reads the deprecated prompt/completion token names and a cost sent as a string', () => {
    const s = steps(parseTraces(genAiTrace, T0).items);
    expect(s['chat gpt-4o']!.usage).toEqual({ inputTokens: 300, outputTokens: 25 });
    expect(s['chat gpt-4o']!.costUsd).toBe(0.0123);
    expect(s['invoke_agent fixer']!.usage).toBeUndefined();
  });

  it('ends the run with its root span and carries the run fields on every step', () => {
    const s = steps(parseTraces(genAiTrace, T0).items);
    expect(s['invoke_agent fixer']!.event.run).toEqual({
      agent: 'fixer',
      repo: 'acme/web',
      branch: 'main',
      commit: '9fceb02',
      outcome: 'merged_change',
      traceId: TRACE_HEX,
      status: 'succeeded',
      startedAt: T0,
      endedAt: T0 + 60_000,
    });
    // A child span starts the run no later than itself and says nothing about its end.
    expect(s['chat gpt-4o']!.event.run).toEqual({
      agent: 'fixer-service',
      agentFallback: true,
      repo: 'acme/web',
      branch: 'main',
      commit: '9fceb02',
      traceId: TRACE_HEX,
      startedAt: T0 + 1000,
    });
  });

  it("names the run's agent after gen_ai.agent.name whichever span arrives first, not after service.name", () => {
    const items = parseTraces(genAiTrace, T0).items;
    const priced = (list: ParsedItem[]) => list.map((i) => ({ ...i.event, redactions: 0 }) as PricedEvent);
    const root = items.filter((i) => i.event.type === 'step' && i.event.step.stepId === ROOT);
    const children = items.filter((i) => !root.includes(i));

    const childrenFirst = applyEvents(applyEvents(undefined, 'conv-42', priced(children)), 'conv-42', priced(root));
    const rootFirst = applyEvents(applyEvents(undefined, 'conv-42', priced(root)), 'conv-42', priced(children));
    const together = applyEvents(undefined, 'conv-42', priced([...children, ...root]));
    for (const run of [childrenFirst, rootFirst, together]) expect(run.agent).toBe('fixer');
    // a trace without a named agent keeps its service name
    expect(applyEvents(undefined, 'conv-42', priced(children)).agent).toBe('fixer-service');
  });

  it('keeps the span raw in OTLP JSON form with lowercase hex ids and its resource attributes', () => {
    const [root] = parseTraces(genAiTrace, T0).items;
    expect(root!.raw).toMatchObject({
      resource: { attributes: expect.arrayContaining([{ key: 'gen_ai.conversation.id', value: { stringValue: 'conv-42' } }]) },
      scope: { name: 'agent-sdk', version: '1.2.0' },
      span: { traceId: TRACE_HEX, spanId: ROOT, name: 'invoke_agent fixer', startTimeUnixNano: ns(T0) },
    });
  });
});

describe('parseTraces: run status and identity', () => {
  it('fails the run when the root span status is ERROR, in either spelling', () => {
    for (const code of [2, 'STATUS_CODE_ERROR']) {
      const batch = parseTraces(request([span(ROOT, 'run', {}, { status: { code, message: 'agent crashed' } })]), T0);
      const event = batch.items[0]!.event;
      expect(event.run?.status).toBe('failed');
      expect(event.type === 'step' && event.step).toMatchObject({ status: 'error', error: 'agent crashed' });
    }
  });

  it('lets an explicit lidless.run.status win over the root span status', () => {
    const batch = parseTraces(request([span(ROOT, 'run', { 'lidless.run.status': str('cancelled') })]), T0);
    expect(batch.items[0]!.event.run?.status).toBe('cancelled');
  });

  it('ignores a lidless.outcome outside the contract values', () => {
    const batch = parseTraces(request([span(ROOT, 'run', { 'lidless.outcome': str('shipped') })]), T0);
    expect(batch.items[0]!.event.run?.outcome).toBeUndefined();
  });

  it('falls back to the trace id in lowercase hex when no attribute names the run', () => {
    const batch = parseTraces(request([span(ROOT, 'run', {})]), T0);
    expect(batch.items[0]!.event.runId).toBe(TRACE_HEX);
  });

  it('prefers lidless.run.id on the resource over a session.id on the span', () => {
    const batch = parseTraces(
      request([span(ROOT, 'run', { 'session.id': str('sess-1') })], { 'lidless.run.id': str('ci-build-77') }),
      T0,
    );
    expect(batch.items[0]!.event.runId).toBe('ci-build-77');
  });

  it('looks at the span attributes before the resource attributes for the same key', () => {
    const batch = parseTraces(
      request([span(ROOT, 'run', { 'session.id': str('from-span') })], { 'session.id': str('from-resource') }),
      T0,
    );
    expect(batch.items[0]!.event.runId).toBe('from-span');
  });

  it('accepts base64 ids and JSON-number times as some JSON senders write them', () => {
    const batch = parseTraces(
      request([
        {
          traceId: Buffer.from(TRACE_HEX, 'hex').toString('base64'),
          spanId: Buffer.from(ROOT, 'hex').toString('base64'),
          name: 'run',
          startTimeUnixNano: T0 * 1e6,
          endTimeUnixNano: (T0 + 5) * 1e6,
        },
      ]),
      T0,
    );
    expect(batch.items[0]!.event.eventId).toBe(`otlp.span:${TRACE_HEX}:${ROOT}`);
    expect(batch.items[0]!.event.type === 'step' && batch.items[0]!.event.step).toMatchObject({ startedAt: T0, endedAt: T0 + 5 });
  });
});

describe('parseTraces: kinds from other attributes', () => {
  it('maps tool names, HTTP calls, models with usage and plain spans', () => {
    const batch = parseTraces(
      request([
        span('0000000000000b01', 'tool', { 'gen_ai.tool.name': str('grep') }),
        span('0000000000000b02', 'GET /api', { 'http.request.method': str('GET') }),
        span('0000000000000b03', 'completion', { 'gen_ai.request.model': str('gpt-4o-mini'), 'gen_ai.usage.input_tokens': int(5) }),
        span('0000000000000b04', 'pytest', { 'lidless.step.kind': str('test') }),
        span('0000000000000b05', 'checkout', {}),
      ]),
      T0,
    );
    expect(batch.items.map((i) => i.event.type === 'step' && i.event.step.kind)).toEqual(['tool', 'http', 'llm', 'test', 'other']);
  });
});

describe('parseTraces: invalid spans', () => {
  it('rejects a span without ids or times on its own, naming the span and the field', () => {
    // Prepare
    const good = span(ROOT, 'ok', {});
    const { spanId: _dropped, ...noSpanId } = span('0000000000000c01', 'no id', {});
    // Act
    const batch = parseTraces(
      request([
        good,
        noSpanId,
        span('0000000000000c02', 'no start', {}, { startTimeUnixNano: '0' }),
        span('0000000000000c03', 'bad trace id', {}, { traceId: 'xyz' }),
        span('0000000000000c04', 'backwards', {}, { endTimeUnixNano: ns(T0) }),
        'not a span',
      ]),
      T0,
    );
    // Assess
    expect(batch.total).toBe(6);
    expect(batch.items).toHaveLength(1);
    expect(batch.rejected).toEqual([
      { index: 1, error: 'span 1: missing spanId' },
      { index: 2, id: '0000000000000c02', error: 'span 2: missing startTimeUnixNano' },
      { index: 3, id: '0000000000000c03', error: 'span 3: traceId must be 16 bytes as hex or base64' },
      { index: 4, id: '0000000000000c04', error: 'span 4: endTimeUnixNano is before startTimeUnixNano' },
      { index: 5, error: 'span 5: must be an object' },
    ]);
  });

  it('treats an all-zero span id as absent', () => {
    const batch = parseTraces(request([span('0000000000000000', 'zero', {})]), T0);
    expect(batch.rejected[0]!.error).toBe('span 0: missing spanId');
  });

  it('rejects a run id that is not a valid id instead of using another one', () => {
    const batch = parseTraces(request([span(ROOT, 'run', { 'session.id': str('x'.repeat(129)) })]), T0);
    expect(batch.rejected[0]!.error).toBe('span 0: session.id must be 1 to 128 printable characters to be a run id');
  });

  it('refuses a request whose envelope is not an export request', () => {
    expect(() => parseTraces([], T0)).toThrow(BadRequestError);
    expect(() => parseTraces({ resourceSpans: {} }, T0)).toThrow('resourceSpans must be an array');
    expect(parseTraces({}, T0)).toEqual({ source: 'otlp.traces', total: 0, items: [], rejected: [] });
  });
});
