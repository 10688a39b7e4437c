import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BadRequestError } from '../../shared/errors.ts';
import {
  decodeOtlp,
  encodeOtlpResponse,
  encodeOtlpStatus,
  parseLogs,
  parseMetrics,
  parseTraces,
} from '../../shared/formats/otlp/index.ts';

/**
 * Round trips through the serializers the OpenTelemetry exporters really use: the current
 * otlp-transformer that the OTLP exporters depend on (not the pinned decoder Lidless uses).
 */
interface Serializer<T> {
  serializeRequest(data: T): Uint8Array | undefined;
}
const require = createRequire(import.meta.url);
const exporterTransformer = createRequire(require.resolve('@opentelemetry/exporter-trace-otlp-proto'))(
  '@opentelemetry/otlp-transformer',
) as {
  ProtobufTraceSerializer: Serializer<ReadableSpan[]>;
  JsonTraceSerializer: Serializer<ReadableSpan[]>;
  ProtobufLogsSerializer: Serializer<ReadableLogRecord[]>;
  ProtobufMetricsSerializer: Serializer<ResourceMetrics>;
};

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

function recordTrace(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'fixer', 'vcs.repository.name': 'acme/web' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('agent-sdk', '1.0.0');
  const root = tracer.startSpan('invoke_agent fixer', { startTime: T0, attributes: { 'gen_ai.operation.name': 'invoke_agent' } });
  const inRoot = trace.setSpan(context.active(), root);
  const chat = tracer.startSpan(
    'chat gpt-4o',
    {
      startTime: T0 + 100,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.cache_read.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 40,
      },
    },
    inRoot,
  );
  chat.end(T0 + 900);
  root.setStatus({ code: 2, message: 'gave up' });
  root.end(T0 + 1000);
  return exporter.getFinishedSpans();
}

describe('OTLP protobuf: traces from the real exporter serializer', () => {
  it('decodes ids to the same lowercase hex the SDK gave the spans, and maps the run', () => {
    // Prepare
    const spans = recordTrace();
    const body = Buffer.from(exporterTransformer.ProtobufTraceSerializer.serializeRequest(spans)!);
    const [chatSpan, rootSpan] = spans.map((s) => s.spanContext());
    // Act
    const batch = parseTraces(decodeOtlp('traces', body, 'protobuf'), T0);
    // Assess
    expect(batch.rejected).toEqual([]);
    const [chat, root] = batch.items.map((i) => i.event);
    expect(chat!.eventId).toBe(`otlp.span:${chatSpan!.traceId}:${chatSpan!.spanId}`);
    expect(root!.eventId).toBe(`otlp.span:${rootSpan!.traceId}:${rootSpan!.spanId}`);
    expect(chat).toMatchObject({
      runId: rootSpan!.traceId,
      step: {
        kind: 'llm',
        parentStepId: rootSpan!.spanId,
        startedAt: T0 + 100,
        endedAt: T0 + 900,
        usage: { inputTokens: 200, cacheReadTokens: 1000, outputTokens: 40 },
      },
    });
    expect(root).toMatchObject({
      run: { status: 'failed', agent: 'fixer', repo: 'acme/web', startedAt: T0, endedAt: T0 + 1000 },
      step: { kind: 'agent', status: 'error', error: 'gave up' },
    });
    expect(batch.items[1]!.raw).toMatchObject({ span: { traceId: rootSpan!.traceId, spanId: rootSpan!.spanId } });
  });

  it('gives the same events from the JSON encoding of the same spans', () => {
    const spans = recordTrace();
    const fromProto = parseTraces(
      decodeOtlp('traces', Buffer.from(exporterTransformer.ProtobufTraceSerializer.serializeRequest(spans)!), 'protobuf'),
      T0,
    );
    const fromJson = parseTraces(
      decodeOtlp('traces', Buffer.from(exporterTransformer.JsonTraceSerializer.serializeRequest(spans)!), 'json'),
      T0,
    );
    expect(fromJson.items.map((i) => i.event)).toEqual(fromProto.items.map((i) => i.event));
  });

  it('decodes a large real export in full: the count of messages on the wire refuses only bombs', () => {
    // 3000 traces of two spans: over the size from which the wire is counted first
    const spans = Array.from({ length: 3000 }, () => recordTrace()).flat();
    const body = Buffer.from(exporterTransformer.ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(body.length).toBeGreaterThan(512 * 1024);

    const batch = parseTraces(decodeOtlp('traces', body, 'protobuf'), T0);

    expect(batch.items).toHaveLength(6000);
    expect(batch.rejected).toEqual([]);
  });
});

describe('OTLP protobuf: logs from the real exporter serializer', () => {
  it('keeps the LogRecord eventName that the pinned decoder does not know, and the 64-bit times', () => {
    // Prepare: a Claude Code style record whose name is only in the eventName field.
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'claude-code' }),
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('com.anthropic.claude_code.events', '2.0.0');
    logger.emit({
      eventName: 'claude_code.api_request',
      timestamp: T0 + 5_000,
      observedTimestamp: T0 + 5_001,
      attributes: { 'session.id': 'sess-7', model: 'claude-haiku-4-5', input_tokens: '12', output_tokens: '34', duration_ms: '500', cost_usd: '0.002' },
    });
    logger.emit({ eventName: 'claude_code.user_prompt', timestamp: T0, attributes: { 'session.id': 'sess-7' } });
    const body = Buffer.from(exporterTransformer.ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!);
    // Act
    const batch = parseLogs(decodeOtlp('logs', body, 'protobuf'), T0);
    // Assess
    expect(batch.rejected).toEqual([]);
    expect(batch.items.map((i) => i.event)).toMatchObject([
      {
        type: 'step',
        runId: 'sess-7',
        step: {
          kind: 'llm',
          model: 'claude-haiku-4-5',
          startedAt: T0 + 4_500,
          endedAt: T0 + 5_000,
          costUsd: 0.002,
          usage: { inputTokens: 12, outputTokens: 34 },
        },
      },
      { type: 'log', level: 'info', message: 'claude_code.user_prompt', at: T0 },
    ]);
  });
});

describe('OTLP protobuf: metrics from the real exporter serializer', () => {
  class CollectingReader extends MetricReader {
    protected override onForceFlush(): Promise<void> {
      return Promise.resolve();
    }
    protected override onShutdown(): Promise<void> {
      return Promise.resolve();
    }
  }

  it('decodes cumulative sums, up-down counters, gauges and histograms (as their sum)', async () => {
    // Prepare
    const reader = new CollectingReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'claude-code' }), readers: [reader] });
    const meter = provider.getMeter('com.anthropic.claude_code');
    meter.createCounter('claude_code.token.usage').add(1500, { type: 'input' });
    meter.createUpDownCounter('sessions.open').add(-2);
    meter.createGauge('queue.depth').record(4);
    const tokens = meter.createHistogram('gen_ai.client.token.usage');
    tokens.record(1200, { 'gen_ai.token.type': 'input' });
    tokens.record(300, { 'gen_ai.token.type': 'input' });
    const { resourceMetrics } = await reader.collect();
    const body = Buffer.from(exporterTransformer.ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!);
    // Act
    const batch = parseMetrics(decodeOtlp('metrics', body, 'protobuf'), T0);
    // Assess
    expect(batch.total).toBe(4);
    expect(batch.rejected).toEqual([]);
    expect(batch.metrics).toMatchObject([
      { name: 'claude_code.token.usage', kind: 'sum', temporality: 'cumulative', monotonic: true, value: 1500, attributes: { type: 'input', 'service.name': 'claude-code' } },
      { name: 'sessions.open', kind: 'sum', temporality: 'cumulative', monotonic: false, value: -2 },
      { name: 'queue.depth', kind: 'gauge', temporality: 'gauge', value: 4 },
      { name: 'gen_ai.client.token.usage', kind: 'sum', temporality: 'cumulative', monotonic: true, value: 1500, attributes: { 'gen_ai.token.type': 'input' } },
    ]);
    await provider.shutdown();
  });
});

describe('OTLP responses and failures', () => {
  const generated = require('@opentelemetry/otlp-transformer/build/src/generated/root') as {
    opentelemetry: { proto: { collector: Record<string, { v1: Record<string, { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): unknown }> }> } };
  };
  const decodeResponse = (pkg: string, type: string, body: Buffer | string) => {
    const t = generated.opentelemetry.proto.collector[pkg]!.v1[type]!;
    return t.toObject(t.decode(body as Buffer), { longs: Number });
  };

  it('answers an empty Export*ServiceResponse, or one counting what was rejected, in the request encoding', () => {
    expect(encodeOtlpResponse('traces', 'json')).toEqual({ body: '{}', contentType: 'application/json' });
    expect(JSON.parse(encodeOtlpResponse('logs', 'json', { rejected: 2, errorMessage: 'log record 1: missing timeUnixNano' }).body as string)).toEqual({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: 'log record 1: missing timeUnixNano' },
    });

    const empty = encodeOtlpResponse('traces', 'protobuf');
    expect(empty.contentType).toBe('application/x-protobuf');
    expect(decodeResponse('trace', 'ExportTraceServiceResponse', empty.body)).toEqual({});

    const partial = encodeOtlpResponse('metrics', 'protobuf', { rejected: 3, errorMessage: 'histograms are not kept' });
    expect(decodeResponse('metrics', 'ExportMetricsServiceResponse', partial.body)).toEqual({
      partialSuccess: { rejectedDataPoints: 3, errorMessage: 'histograms are not kept' },
    });
    const spans = encodeOtlpResponse('traces', 'protobuf', { rejected: 1, errorMessage: 'span 0: missing spanId' });
    expect(decodeResponse('trace', 'ExportTraceServiceResponse', spans.body)).toEqual({
      partialSuccess: { rejectedSpans: 1, errorMessage: 'span 0: missing spanId' },
    });
  });

  it('answers a failure with a google.rpc.Status in the request encoding', () => {
    const Status = new protobuf.Type('Status')
      .add(new protobuf.Field('code', 1, 'int32'))
      .add(new protobuf.Field('message', 2, 'string'));
    const proto = encodeOtlpStatus('protobuf', 3, 'body is not a valid protobuf');
    expect(proto.contentType).toBe('application/x-protobuf');
    expect(Status.toObject(Status.decode(proto.body as Buffer))).toEqual({ code: 3, message: 'body is not a valid protobuf' });
    expect(encodeOtlpStatus('json', 16, 'missing credentials')).toEqual({
      body: JSON.stringify({ code: 16, message: 'missing credentials' }),
      contentType: 'application/json',
    });
  });

  it('refuses an unreadable body with a bad-request error that says why', () => {
    expect(() => decodeOtlp('traces', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'protobuf')).toThrow(
      /^body is not a valid protobuf ExportTraceServiceRequest: /,
    );
    expect(() => decodeOtlp('logs', Buffer.from('{"resourceLogs": ['), 'json')).toThrow(BadRequestError);
    expect(() => decodeOtlp('logs', Buffer.from('[]'), 'json')).toThrow('body must be a JSON object (an OTLP export request)');
    expect(decodeOtlp('metrics', Buffer.alloc(0), 'protobuf')).toEqual({});
  });
});
