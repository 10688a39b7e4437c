import { describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
// the exporters' own option type (their dependency): which body compression they use
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { findPrice } from '../../shared/pricing/price.ts';
import { newTenant, operator, stackInfo } from '../helpers/stack.ts';

/**
 * The real OpenTelemetry JS SDK and OTLP exporters, in both encodings, sending to the running stack:
 * what a user's instrumented agent does. The runs they make must show the tokens, cost and steps the
 * spans and log records carried.
 */

type Exporter<T> = { export(items: T[], done: (r: { code: number; error?: Error }) => void): void; shutdown(): Promise<void> };

/** Exports with the real exporter and resolves with its result (0 = SUCCESS), so a refusal fails the test. */
function exportWith<T>(exporter: Exporter<T>, items: T[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(items, resolve));
}

const exporterOptions = (key: string, path: string, compression?: CompressionAlgorithm) => ({
  url: `${stackInfo().url}${path}`,
  headers: { authorization: `Bearer ${key}` },
  ...(compression ? { compression } : {}),
});

/** Price of a step from the price table, as the test computes it: US$ per million tokens. */
function priceOf(model: string, at: number, t: { input: number; output: number; cacheRead?: number; cacheWrite?: number }): number {
  const p = findPrice(model, at);
  if (!p) throw new Error(`no price for ${model}`);
  return (t.input * p.input + t.output * p.output + (t.cacheRead ?? 0) * p.cacheRead + (t.cacheWrite ?? 0) * p.cacheWrite) / 1e6;
}

/**
 * An agent run as GenAI instrumentation records it: a root `invoke_agent` span, two `chat` spans (one
 * with cache usage, one with the deprecated prompt/completion names), and an `execute_tool` span.
 */
function recordAgentRun(conversationId: string | undefined, t0: number): { spans: ReadableSpan[]; traceId: string; rootSpanId: string } {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'vcs.repository.name': 'web', 'vcs.ref.head.name': 'main' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('genai-agent', '1.0.0');
  const root = tracer.startSpan('invoke_agent coder', {
    kind: SpanKind.INTERNAL,
    startTime: t0,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'coder',
      ...(conversationId ? { 'gen_ai.conversation.id': conversationId } : {}),
    },
  });
  const inRoot = trace.setSpan(context.active(), root);
  const conversation = conversationId ? { 'gen_ai.conversation.id': conversationId } : {};

  const chat1 = tracer.startSpan(
    'chat claude-sonnet-4-5',
    {
      kind: SpanKind.CLIENT,
      startTime: t0 + 1_000,
      attributes: {
        ...conversation,
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-sonnet-4-5',
        'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
        // the convention's input figure includes the cache reads and writes
        'gen_ai.usage.input_tokens': 2_400,
        'gen_ai.usage.output_tokens': 350,
        'gen_ai.usage.cache_read.input_tokens': 1_800,
        'gen_ai.usage.cache_creation.input_tokens': 200,
      },
    },
    inRoot,
  );
  chat1.end(t0 + 4_000);

  const tool = tracer.startSpan(
    'execute_tool bash',
    { startTime: t0 + 4_100, attributes: { ...conversation, 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'bash' } },
    inRoot,
  );
  tool.setStatus({ code: SpanStatusCode.ERROR, message: 'exit code 2' });
  tool.end(t0 + 5_000);

  const chat2 = tracer.startSpan(
    'chat gpt-4o',
    {
      kind: SpanKind.CLIENT,
      startTime: t0 + 5_100,
      attributes: {
        ...conversation,
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.prompt_tokens': 900,
        'gen_ai.usage.completion_tokens': 120,
      },
    },
    inRoot,
  );
  chat2.end(t0 + 7_000);
  root.end(t0 + 8_000);

  return { spans: memory.getFinishedSpans(), traceId: root.spanContext().traceId, rootSpanId: root.spanContext().spanId };
}

function expectedCost(t0: number): number {
  return (
    priceOf('claude-sonnet-4-5-20250929', t0 + 1_000, { input: 400, output: 350, cacheRead: 1_800, cacheWrite: 200 }) +
    priceOf('gpt-4o', t0 + 5_100, { input: 900, output: 120 })
  );
}

describe('OpenTelemetry trace exporters → runs', () => {
  const cases: { encoding: string; exporter: (key: string) => SpanExporter & Exporter<ReadableSpan>; conversation: boolean }[] = [
    { encoding: 'http/json', exporter: (key) => new JsonTraceExporter(exporterOptions(key, '/v1/traces')), conversation: false },
    { encoding: 'http/json, gzip', exporter: (key) => new JsonTraceExporter(exporterOptions(key, '/v1/traces', CompressionAlgorithm.GZIP)), conversation: true },
    { encoding: 'http/protobuf', exporter: (key) => new ProtoTraceExporter(exporterOptions(key, '/v1/traces')), conversation: true },
  ];

  for (const c of cases) {
    it(`makes a finished run with the spans' tokens, cost and steps (${c.encoding})`, async () => {
      // Prepare
      const t = await newTenant('otel-traces');
      const t0 = Date.now() - 60_000;
      const conversationId = c.conversation ? `conv-${c.encoding.replace(/\W+/g, '-')}` : undefined;
      const { spans, traceId, rootSpanId } = recordAgentRun(conversationId, t0);
      const exporter = c.exporter(t.key);

      // Act
      const result = await exportWith(exporter, spans);
      await exporter.shutdown();

      // Assess
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(0);
      const runId = conversationId ?? traceId;
      const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId });
      expect(run).toMatchObject({
        runId,
        traceId,
        agent: 'coder',
        repo: 'web',
        branch: 'main',
        status: 'succeeded',
        startedAt: new Date(t0).toISOString(),
        endedAt: new Date(t0 + 8_000).toISOString(),
        durationMs: 8_000,
        models: ['claude-sonnet-4-5-20250929', 'gpt-4o'],
        inputTokens: 400 + 900,
        outputTokens: 350 + 120,
        cacheReadTokens: 1_800,
        cacheWriteTokens: 200,
        unpricedTokens: 0,
        llmCalls: 2,
        toolCalls: 1,
        errors: 1,
      });
      expect(run.costUsd).toBeCloseTo(expectedCost(t0), 9);
      expect(steps.map((s) => [s.kind, s.name, s.status, s.parentStepId ?? null])).toEqual([
        ['agent', 'invoke_agent coder', 'ok', null],
        ['llm', 'chat claude-sonnet-4-5', 'ok', rootSpanId],
        ['tool', 'execute_tool bash', 'error', rootSpanId],
        ['llm', 'chat gpt-4o', 'ok', rootSpanId],
      ]);
      expect(steps[2]!.error).toBe('exit code 2');
      expect(steps[1]).toMatchObject({ model: 'claude-sonnet-4-5-20250929', inputTokens: 400, outputTokens: 350, cacheReadTokens: 1_800, cacheWriteTokens: 200, durationMs: 3_000 });
      expect(await t.client.runs.byTrace.query({ tenantId: t.tenantId, traceId })).toMatchObject({ items: [{ runId }] });
    });
  }

  it('counts a re-export of the same spans once', async () => {
    // Prepare
    const t = await newTenant('otel-retry');
    const t0 = Date.now() - 120_000;
    const { spans, traceId } = recordAgentRun(undefined, t0);
    const exporter = new ProtoTraceExporter(exporterOptions(t.key, '/v1/traces'));

    // Act: an exporter that retries after a lost response sends the very same spans again
    const results = [await exportWith(exporter, spans), await exportWith(exporter, spans)];
    await exporter.shutdown();

    // Assess
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: traceId });
    expect(run).toMatchObject({ llmCalls: 2, toolCalls: 1, inputTokens: 1_300, outputTokens: 470 });
    expect(run.costUsd).toBeCloseTo(expectedCost(t0), 9);
    expect(steps).toHaveLength(4);
  });

  it('refuses the export with a revoked key, and the exporter reports the failure', async () => {
    // Prepare
    const t = await newTenant('otel-revoked');
    const { spans } = recordAgentRun(undefined, Date.now() - 60_000);
    const { key, keyId } = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest'] });
    await operator().admin.keys.revoke.mutate({ keyId });
    const exporter = new JsonTraceExporter(exporterOptions(key, '/v1/traces'));

    // Act
    const result = await exportWith(exporter, spans);
    await exporter.shutdown();

    // Assess
    expect(result.code).toBe(1);
    expect(String(result.error?.message)).toMatch(/401|Unauthorized|unknown or revoked/i);
    expect((await t.client.runs.list.query({ tenantId: t.tenantId })).items).toEqual([]);
  });
});

/** Claude Code's log events as its OpenTelemetry logger emits them: short event.name, numbers as strings. */
function recordClaudeSession(sessionId: string, t0: number): ReadableLogRecord[] {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'claude-code', 'service.version': '2.0.14', 'vcs.repository.name': 'api' }),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger('com.anthropic.claude_code.events', '2.0.14');
  const common = { 'session.id': sessionId, 'user.id': 'u-123', 'terminal.type': 'vscode' };
  const emit = (at: number, event: string, attributes: Record<string, string>) =>
    logger.emit({
      timestamp: at,
      severityNumber: SeverityNumber.INFO,
      body: `claude_code.${event}`,
      attributes: { 'event.name': event, 'event.timestamp': new Date(at).toISOString(), ...common, ...attributes },
    });

  emit(t0, 'user_prompt', { prompt_length: '42', prompt: '<REDACTED>' });
  emit(t0 + 3_000, 'api_request', {
    model: 'claude-sonnet-4-5-20250929',
    cost_usd: '0.0123',
    duration_ms: '2500',
    input_tokens: '12',
    output_tokens: '480',
    cache_read_tokens: '15000',
    cache_creation_tokens: '900',
  });
  emit(t0 + 3_500, 'tool_decision', { tool_name: 'Bash', decision: 'accept', source: 'config' });
  emit(t0 + 4_000, 'tool_result', { tool_name: 'Bash', success: 'true', duration_ms: '400' });
  emit(t0 + 5_000, 'tool_result', { tool_name: 'Edit', success: 'false', duration_ms: '30', error: 'file not found' });
  emit(t0 + 9_000, 'api_request', {
    model: 'claude-haiku-4-5-20251001',
    cost_usd: '0.0007',
    duration_ms: '900',
    input_tokens: '300',
    output_tokens: '60',
    cache_read_tokens: '0',
    cache_creation_tokens: '0',
  });
  emit(t0 + 10_000, 'api_error', { model: 'claude-sonnet-4-5-20250929', error: 'Overloaded', status_code: '529', attempt: '1' });
  return memory.getFinishedLogRecords() as ReadableLogRecord[];
}

describe('OpenTelemetry log exporters → runs', () => {
  const cases: { encoding: string; exporter: (key: string) => LogRecordExporter & Exporter<ReadableLogRecord> }[] = [
    { encoding: 'http/json', exporter: (key) => new JsonLogExporter(exporterOptions(key, '/v1/logs')) },
    { encoding: 'http/protobuf', exporter: (key) => new ProtoLogExporter(exporterOptions(key, '/v1/logs')) },
    { encoding: 'http/protobuf, gzip', exporter: (key) => new ProtoLogExporter(exporterOptions(key, '/v1/logs', CompressionAlgorithm.GZIP)) },
  ];

  for (const c of cases) {
    it(`makes a running Claude Code session with its reported cost and tokens (${c.encoding})`, async () => {
      // Prepare
      const t = await newTenant('otel-logs');
      const t0 = Date.now() - 60_000;
      const sessionId = `claude-${c.encoding.replace(/\W+/g, '-')}`;
      const records = recordClaudeSession(sessionId, t0);
      const exporter = c.exporter(t.key);

      // Act
      const result = await exportWith(exporter, records);
      await exporter.shutdown();

      // Assess
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(0);
      const { run, steps } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: sessionId });
      expect(run).toMatchObject({
        runId: sessionId,
        agent: 'claude-code',
        repo: 'api',
        // a log session has no end signal
        status: 'running',
        startedAt: new Date(t0).toISOString(),
        endedAt: new Date(t0 + 10_000).toISOString(),
        models: ['claude-haiku-4-5-20251001', 'claude-sonnet-4-5-20250929'],
        inputTokens: 12 + 300,
        outputTokens: 480 + 60,
        cacheReadTokens: 15_000,
        cacheWriteTokens: 900,
        unpricedTokens: 0,
        llmCalls: 2,
        toolCalls: 2,
        // the failed Edit and the API error
        errors: 2,
      });
      // the cost Claude Code reports stands
      expect(run.costUsd).toBeCloseTo(0.0123 + 0.0007, 12);
      expect(steps.map((s) => [s.kind, s.name, s.status, s.startedAt])).toEqual([
        ['llm', 'claude_code.api_request', 'ok', new Date(t0 + 500).toISOString()],
        ['tool', 'Bash', 'ok', new Date(t0 + 3_600).toISOString()],
        ['tool', 'Edit', 'error', new Date(t0 + 4_970).toISOString()],
        ['llm', 'claude_code.api_request', 'ok', new Date(t0 + 8_100).toISOString()],
      ]);
      expect(steps[2]!.error).toBe('file not found');
    });
  }
});

/** A reader the test collects from by hand, with the exporter's own temporality. */
class ManualReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

describe('OpenTelemetry metric exporter → tenant metrics', () => {
  const cases = [
    { temporality: 'cumulative', preference: AggregationTemporalityPreference.CUMULATIVE },
    { temporality: 'delta', preference: AggregationTemporalityPreference.DELTA },
  ];

  for (const c of cases) {
    it(`sums a ${c.temporality} cost counter without double counting, even when an export is repeated`, async () => {
      // Prepare
      const t = await newTenant('otel-metrics');
      const exporter = new OTLPMetricExporter({ ...exporterOptions(t.key, '/v1/metrics'), temporalityPreference: c.preference });
      const reader = new ManualReader({ aggregationTemporalitySelector: (type) => exporter.selectAggregationTemporality(type) });
      const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'claude-code' }), readers: [reader] });
      const cost = provider.getMeter('com.anthropic.claude_code').createCounter('claude_code.cost.usage', { unit: 'USD' });
      const exportNow = async () => {
        const { resourceMetrics, errors } = await reader.collect();
        expect(errors).toEqual([]);
        return new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(resourceMetrics, resolve));
      };

      // Act: three collections; the last export is sent twice, as a retrying exporter would
      cost.add(0.5, { model: 'claude-sonnet-4-5' });
      const results = [await exportNow()];
      await new Promise((r) => setTimeout(r, 5));
      cost.add(0.25, { model: 'claude-sonnet-4-5' });
      cost.add(0.125, { model: 'claude-haiku-4-5' });
      results.push(await exportNow());
      await new Promise((r) => setTimeout(r, 5));
      cost.add(0.0625, { model: 'claude-sonnet-4-5' });
      const { resourceMetrics: last } = await reader.collect();
      for (let i = 0; i < 2; i++) results.push(await new Promise((resolve) => exporter.export(last, resolve)));
      await exporter.shutdown();

      // Assess
      expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
      const points = (
        await t.client.metrics.query.query({
          tenantId: t.tenantId,
          name: 'claude_code.cost.usage',
          from: new Date(Date.now() - 86_400_000).toISOString(),
          to: new Date(Date.now() + 86_400_000).toISOString(),
          step: 'day',
        })
      ).points;
      const byModel = Object.fromEntries(points.map((p) => [p.attributes.model, p.value]));
      expect(byModel['claude-sonnet-4-5']).toBeCloseTo(0.5 + 0.25 + 0.0625, 12);
      expect(byModel['claude-haiku-4-5']).toBeCloseTo(0.125, 12);
    });
  }

  it('keeps a cumulative up-down counter that falls, and the GenAI token histogram as the tokens it recorded', async () => {
    // Prepare
    const t = await newTenant('otel-updown');
    const exporter = new OTLPMetricExporter({ ...exporterOptions(t.key, '/v1/metrics'), temporalityPreference: AggregationTemporalityPreference.CUMULATIVE });
    const reader = new ManualReader({ aggregationTemporalitySelector: (type) => exporter.selectAggregationTemporality(type) });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'my-agent' }), readers: [reader] });
    const meter = provider.getMeter('agent');
    const open = meter.createUpDownCounter('sandboxes.open');
    const tokens = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' });
    const exportNow = async () => {
      const { resourceMetrics } = await reader.collect();
      const results = [];
      // each export sent twice, as a retrying exporter would
      for (let i = 0; i < 2; i++) results.push(await new Promise<{ code: number }>((resolve) => exporter.export(resourceMetrics, resolve)));
      return results.map((r) => r.code);
    };

    // Act: 10 sandboxes open, then 6 close; 1200 tokens, then 300 more
    open.add(10);
    tokens.record(1200, { 'gen_ai.token.type': 'input' });
    const codes = await exportNow();
    await new Promise((r) => setTimeout(r, 5));
    open.add(-6);
    tokens.record(300, { 'gen_ai.token.type': 'input' });
    codes.push(...(await exportNow()));
    await exporter.shutdown();

    // Assess
    expect(codes).toEqual([0, 0, 0, 0]);
    const total = async (name: string) => {
      const { points } = await t.client.metrics.query.query({ tenantId: t.tenantId, name, from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString(), step: 'day' });
      return points.reduce((sum, p) => sum + p.value, 0);
    };
    expect(await total('sandboxes.open')).toBe(4);
    expect(await total('gen_ai.client.token.usage')).toBe(1500);
  });
});
