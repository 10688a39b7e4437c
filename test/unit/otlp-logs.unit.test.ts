import { describe, expect, it } from 'vitest';
import type { NormalizedEvent, ParsedBatch } from '../../shared/model.ts';
import { parseLogs } from '../../shared/formats/otlp/index.ts';

import { kv, nanos as ns, str, type AnyValue } from '../fixtures/otlp-json.ts';

const int = (intValue: string | number): AnyValue => ({ intValue });
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

function record(attrs: Record<string, AnyValue>, at: number, extra: Record<string, unknown> = {}) {
  return { timeUnixNano: ns(at), observedTimeUnixNano: ns(at + 3), attributes: kv(attrs), ...extra };
}

function request(resource: Record<string, AnyValue>, logRecords: unknown[]) {
  return {
    resourceLogs: [{ resource: { attributes: kv(resource) }, scopeLogs: [{ scope: { name: 'agent' }, logRecords }] }],
  };
}

/** Events in input order, with rejected records as null. */
function events(batch: ParsedBatch): (NormalizedEvent | null)[] {
  const out: (NormalizedEvent | null)[] = new Array(batch.total).fill(null);
  let next = 0;
  const rejected = new Set(batch.rejected.map((r) => r.index));
  for (const item of batch.items) {
    while (rejected.has(next)) next++;
    out[next++] = item.event;
  }
  return out;
}

const claudeResource = { 'service.name': str('claude-code'), 'service.version': str('2.0.14') };
const session = { 'session.id': str('sess-claude-1') };

// Claude Code sends the short event name as an attribute, the full one as the body, and numbers as strings.
const claudeExport = request(claudeResource, [
  record(
    {
      'event.name': str('api_request'),
      ...session,
      'prompt.id': str('p-1'),
      model: str('claude-sonnet-4-5-20250929'),
      cost_usd: str('0.0123'),
      duration_ms: str('1500'),
      input_tokens: str('10'),
      output_tokens: str('200'),
      cache_read_tokens: str('5000'),
      cache_creation_tokens: str('300'),
    },
    0,
    // timeUnixNano 0: the observed time is the record's time.
    { timeUnixNano: '0', observedTimeUnixNano: ns(T0 + 10_000), body: str('claude_code.api_request') },
  ),
  record(
    { 'event.name': str('tool_result'), ...session, tool_name: str('Bash'), success: str('false'), duration_ms: str('20'), error: str('exit code 1') },
    T0 + 11_000,
    { body: str('claude_code.tool_result') },
  ),
  record({ 'event.name': str('user_prompt'), ...session, prompt_length: str('42') }, T0, { body: str('claude_code.user_prompt') }),
  record({ 'event.name': str('api_error'), ...session, error: str('Overloaded'), status_code: str('529') }, T0 + 12_000),
  record({ 'event.name': str('claude_code.tool_decision'), ...session, decision: str('accept') }, T0 + 13_000),
  record({ 'event.name': str('tool_result'), ...session, tool_name: str('Read'), success: str('true') }, T0 + 14_000),
]);

describe('parseLogs: Claude Code', () => {
  it('makes an llm step of api_request with its tokens, cost and duration as Claude reports them', () => {
    // Act
    const [apiRequest] = events(parseLogs(claudeExport, T0));
    // Assess
    expect(apiRequest).toMatchObject({
      type: 'step',
      runId: 'sess-claude-1',
      run: { agent: 'claude-code', startedAt: T0 + 10_000 },
      step: {
        kind: 'llm',
        name: 'claude_code.api_request',
        model: 'claude-sonnet-4-5-20250929',
        costUsd: 0.0123,
        startedAt: T0 + 8_500,
        endedAt: T0 + 10_000,
        status: 'ok',
        // input_tokens already excludes the cache tokens: nothing is subtracted.
        usage: { inputTokens: 10, outputTokens: 200, cacheReadTokens: 5000, cacheWriteTokens: 300 },
      },
    });
  });

  it('makes a failed tool step of a tool_result with success "false" and an ok one otherwise', () => {
    const list = events(parseLogs(claudeExport, T0));
    expect(list[1]).toMatchObject({
      type: 'step',
      step: { kind: 'tool', name: 'Bash', status: 'error', error: 'exit code 1', startedAt: T0 + 10_980, endedAt: T0 + 11_000 },
    });
    expect(list[5]).toMatchObject({ type: 'step', step: { kind: 'tool', name: 'Read', status: 'ok' } });
  });

  it('makes an error log of api_error and info logs of prompts and decisions', () => {
    const list = events(parseLogs(claudeExport, T0));
    expect(list[3]).toMatchObject({ type: 'log', level: 'error', message: 'Overloaded', at: T0 + 12_000, runId: 'sess-claude-1' });
    expect(list[2]).toMatchObject({ type: 'log', level: 'info', message: 'claude_code.user_prompt', at: T0 });
    expect(list[4]).toMatchObject({ type: 'log', level: 'info', message: 'claude_code.tool_decision' });
  });

  it('never gives a run from logs a status: agent sessions have no end signal', () => {
    const batch = parseLogs(claudeExport, T0);
    expect(batch.items.every((i) => i.event.run?.status === undefined)).toBe(true);
    expect(batch).toMatchObject({ source: 'otlp.logs', total: 6, rejected: [] });
  });

  it('keeps the record raw with its resource attributes', () => {
    const [first] = parseLogs(claudeExport, T0).items;
    expect(first!.raw).toMatchObject({
      resource: { attributes: expect.arrayContaining([{ key: 'service.name', value: { stringValue: 'claude-code' } }]) },
      scope: { name: 'agent' },
      logRecord: { body: { stringValue: 'claude_code.api_request' }, observedTimeUnixNano: ns(T0 + 10_000) },
    });
  });

  it('gives a re-sent export the same event ids, and different records different ones', () => {
    // Prepare: the same export again, its attributes listed in another order.
    const first = parseLogs(claudeExport, T0);
    const resent = structuredClone(claudeExport);
    const attrs = (resent.resourceLogs[0]!.scopeLogs[0]!.logRecords[0] as { attributes: unknown[] }).attributes;
    attrs.reverse();
    // Act
    const again = parseLogs(resent, T0 + 60_000);
    // Assess
    const ids = first.items.map((i) => i.event.eventId);
    expect(again.items.map((i) => i.event.eventId)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^otlp\.log:[0-9a-f]{32}$/);
    const step = first.items[0]!.event;
    expect(step.type === 'step' && step.step.stepId).toBe(ids[0]!.slice('otlp.log:'.length));
  });

  it('recognises Claude Code by its short names even without its service name', () => {
    const batch = parseLogs(
      request({}, [record({ 'event.name': str('api_request'), ...session, input_tokens: int(7) }, T0)]),
      T0,
    );
    expect(batch.items[0]!.event).toMatchObject({ type: 'step', run: { agent: 'claude-code' }, step: { usage: { inputTokens: 7 } } });
  });
});

describe('parseLogs: Codex CLI', () => {
  const codexResource = { 'service.name': str('codex_cli_rs') };
  const conversation = { 'conversation.id': str('conv-codex-9'), model: str('gpt-5-codex') };
  const codexExport = request(codexResource, [
    record(
      {
        'event.name': str('codex.sse_event'),
        'event.kind': str('response.completed'),
        ...conversation,
        input_token_count: str('1000'),
        cached_token_count: str('800'),
        output_token_count: str('120'),
        reasoning_token_count: str('64'),
        tool_token_count: str('0'),
      },
      T0,
    ),
    record({ 'event.name': str('codex.sse_event'), 'event.kind': str('response.output_text.delta'), ...conversation, duration_ms: str('3') }, T0),
    record({ 'event.name': str('codex.tool_result'), ...conversation, tool_name: str('shell'), success: str('true'), duration_ms: str('250') }, T0 + 1_000),
    record({ 'event.name': str('codex.api_request'), ...conversation, duration_ms: str('900'), 'http.response.status_code': int(200) }, T0 + 2_000),
    record(
      {
        'event.name': str('codex.sse_event'),
        'event.kind': str('response.completed'),
        ...conversation,
        input_token_count: int(500),
        cached_token_count: int(300),
        cache_write_token_count: int(250),
        output_token_count: int(10),
      },
      T0 + 3_000,
    ),
  ]);

  it('makes an llm step of response.completed, without the cached tokens in the input', () => {
    const [completed] = events(parseLogs(codexExport, T0));
    expect(completed).toMatchObject({
      type: 'step',
      runId: 'conv-codex-9',
      run: { agent: 'codex_cli_rs' },
      step: {
        kind: 'llm',
        name: 'codex.sse_event',
        model: 'gpt-5-codex',
        status: 'ok',
        // OpenAI's output count already includes the reasoning tokens.
        usage: { inputTokens: 200, cacheReadTokens: 800, outputTokens: 120 },
      },
    });
    expect(completed!.type === 'step' && completed!.step.usage?.cacheWriteTokens).toBeUndefined();
  });

  it('subtracts cache writes too, never below zero', () => {
    const last = events(parseLogs(codexExport, T0))[4];
    expect(last!.type === 'step' && last!.step.usage).toEqual({
      inputTokens: 0,
      cacheReadTokens: 300,
      cacheWriteTokens: 250,
      outputTokens: 10,
    });
  });

  it('makes a tool step of codex.tool_result and keeps other events as info logs', () => {
    const list = events(parseLogs(codexExport, T0));
    expect(list[2]).toMatchObject({ type: 'step', step: { kind: 'tool', name: 'shell', status: 'ok', startedAt: T0 + 750 } });
    expect(list[1]).toMatchObject({ type: 'log', level: 'info', message: 'codex.sse_event' });
    expect(list[3]).toMatchObject({ type: 'log', level: 'info', message: 'codex.api_request' });
  });

  it('makes an error log of codex.api_error, with its message', () => {
    const failed = request({ 'service.name': str('codex_cli_rs') }, [
      record({ 'event.name': str('codex.api_error'), 'conversation.id': str('conv-codex-9'), 'error.message': str('rate limited'), 'http.response.status_code': int(429) }, T0),
    ]);
    expect(events(parseLogs(failed, T0))).toEqual([expect.objectContaining({ type: 'log', runId: 'conv-codex-9', level: 'error', message: 'rate limited' })]);
  });
});

describe('parseLogs: Gemini CLI', () => {
  const geminiExport = request({ 'service.name': str('gemini-cli') }, [
    record(
      {
        'event.name': str('gemini_cli.api_response'),
        'session.id': str('gem-1'),
        model: str('gemini-2.5-pro'),
        duration_ms: int(2000),
        input_token_count: int(500),
        cached_content_token_count: int(200),
        output_token_count: int(40),
        thoughts_token_count: int(60),
      },
      T0 + 5_000,
      { body: str('API response from gemini-2.5-pro. Status: 200. Duration: 2000ms.') },
    ),
    record(
      { 'event.name': str('gemini_cli.tool_call'), 'session.id': str('gem-1'), function_name: str('read_file'), success: { boolValue: false }, error: str('ENOENT') },
      T0 + 6_000,
    ),
    record({ 'event.name': str('gemini_cli.api_error'), 'session.id': str('gem-1'), error: str('quota exceeded'), status_code: int(429) }, T0 + 7_000),
  ]);

  it('makes an llm step of api_response: cached tokens out of the input, thoughts into the output', () => {
    const [response] = events(parseLogs(geminiExport, T0));
    expect(response).toMatchObject({
      type: 'step',
      runId: 'gem-1',
      run: { agent: 'gemini-cli' },
      step: {
        kind: 'llm',
        model: 'gemini-2.5-pro',
        startedAt: T0 + 3_000,
        endedAt: T0 + 5_000,
        usage: { inputTokens: 300, cacheReadTokens: 200, outputTokens: 100 },
      },
    });
  });

  it('makes a failed tool step of a tool_call with success false and an error log of api_error', () => {
    const list = events(parseLogs(geminiExport, T0));
    expect(list[1]).toMatchObject({ type: 'step', step: { kind: 'tool', name: 'read_file', status: 'error', error: 'ENOENT' } });
    expect(list[2]).toMatchObject({ type: 'log', level: 'error', message: 'quota exceeded' });
  });
});

describe('parseLogs: other records', () => {
  it('maps a record that no agent adapter knows by its severity', () => {
    const batch = parseLogs(
      request({ 'session.id': str('s-9') }, [
        record({}, T0, { severityNumber: 17, body: str('disk full') }),
        record({}, T0, { severityText: 'ERROR', body: str('cannot write') }),
        record({}, T0, { severityNumber: 13, body: { kvlistValue: { values: kv({ code: int(3) }) } } }),
        record({}, T0, { severityNumber: 9, body: str('started') }),
      ]),
      T0,
    );
    expect(events(batch).map((e) => e?.type === 'log' && [e.level, e.message])).toEqual([
      ['error', 'disk full'],
      ['error', 'cannot write'],
      ['warn', '{"code":3}'],
      ['info', 'started'],
    ]);
  });

  it('runs a record by its trace id when no attribute names the run, and links it to its span', () => {
    const batch = parseLogs(
      request({}, [record({}, T0, { traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'eee19b7ec3c1b174', body: str('hi') })]),
      T0,
    );
    expect(batch.items[0]!.event).toMatchObject({
      runId: '5b8efff798038103d269b633813fc60c',
      stepId: 'eee19b7ec3c1b174',
      run: { traceId: '5b8efff798038103d269b633813fc60c' },
    });
  });

  it('rejects a record with no time or no run identity on its own', () => {
    const batch = parseLogs(
      request({}, [
        record({ 'session.id': str('s-1') }, T0),
        { attributes: kv({ 'session.id': str('s-1') }), timeUnixNano: '0' },
        record({ 'event.name': str('api_request') }, T0),
      ]),
      T0,
    );
    expect(batch.total).toBe(3);
    expect(batch.items).toHaveLength(1);
    expect(batch.rejected).toEqual([
      { index: 1, error: 'log record 1: missing timeUnixNano and observedTimeUnixNano' },
      {
        index: 2,
        error: 'log record 2: no run identity (lidless.run.id, session.id, gen_ai.conversation.id, conversation.id or a trace id)',
      },
    ]);
  });
});
