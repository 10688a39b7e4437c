import { describe, expect, it } from 'vitest';
import { parseMetrics } from '../../shared/formats/otlp/index.ts';

import { kv, str, type AnyValue } from '../fixtures/otlp-json.ts';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const ns = (ms: number) => `${ms}000000`;

function point(value: Record<string, unknown>, attrs: Record<string, AnyValue>, at = T0 + 60_000, start = T0) {
  return { startTimeUnixNano: ns(start), timeUnixNano: ns(at), attributes: kv(attrs), ...value };
}

// A Claude Code metrics export (delta temporality, as its exporter is often configured) plus a
// cumulative counter, a gauge, the GenAI token histogram and a summary from another instrumentation.
const metricsExport = {
  resourceMetrics: [
    {
      resource: { attributes: kv({ 'service.name': str('claude-code'), 'session.id': str('sess-1') }) },
      scopeMetrics: [
        {
          scope: { name: 'com.anthropic.claude_code' },
          metrics: [
            {
              name: 'claude_code.cost.usage',
              unit: 'USD',
              sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [point({ asDouble: 0.0123 }, { model: str('claude-sonnet-4-5') })] },
            },
            {
              name: 'claude_code.token.usage',
              sum: {
                aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
                isMonotonic: true,
                dataPoints: [
                  point({ asInt: '1500' }, { type: str('input') }),
                  point({ asInt: 42 }, { type: str('cacheRead'), 'session.id': str('sess-override') }),
                ],
              },
            },
          ],
        },
      ],
    },
    {
      resource: { attributes: kv({ 'service.name': str('my-agent') }) },
      scopeMetrics: [
        {
          metrics: [
            {
              name: 'gen_ai.client.token.usage.total',
              sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [point({ asInt: '9000' }, { 'gen_ai.token.type': str('input') })] },
            },
            { name: 'queue.depth', gauge: { dataPoints: [point({ asDouble: 3 }, { attempt: { intValue: '2' } }, T0, 0)] } },
            {
              name: 'gen_ai.client.token.usage',
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [
                  point({ count: '2', sum: 1500, bucketCounts: ['1', '1'], explicitBounds: [1000] }, { 'gen_ai.token.type': str('input') }),
                  point({ count: '1', bucketCounts: ['1', '0'], explicitBounds: [1000] }, { 'gen_ai.token.type': str('output') }),
                ],
              },
            },
            { name: 'legacy.counter', sum: { dataPoints: [point({ asInt: '1' }, {})] } },
            { name: 'rpc.latency', summary: { dataPoints: [point({ count: '3', sum: 0.9, quantileValues: [] }, {})] } },
            { name: 'queue.size', sum: { aggregationTemporality: 2, dataPoints: [point({ asInt: '4' }, {})] } },
          ],
        },
      ],
    },
  ],
};

describe('parseMetrics', () => {
  it('keeps delta and cumulative sums, gauges and histograms (as their sum) as tenant metric points', () => {
    // Act
    const batch = parseMetrics(metricsExport, T0);
    // Assess
    expect(batch).toMatchObject({ source: 'otlp.metrics', total: 10, items: [] });
    expect(batch.metrics).toEqual([
      {
        name: 'claude_code.cost.usage',
        kind: 'sum',
        temporality: 'delta',
        at: T0 + 60_000,
        startAt: T0,
        value: 0.0123,
        attributes: { 'service.name': 'claude-code', 'session.id': 'sess-1', model: 'claude-sonnet-4-5' },
      },
      {
        name: 'claude_code.token.usage',
        kind: 'sum',
        temporality: 'delta',
        at: T0 + 60_000,
        startAt: T0,
        value: 1500,
        attributes: { 'service.name': 'claude-code', 'session.id': 'sess-1', type: 'input' },
      },
      {
        name: 'claude_code.token.usage',
        kind: 'sum',
        temporality: 'delta',
        at: T0 + 60_000,
        startAt: T0,
        value: 42,
        // the point's own attribute wins over its resource's
        attributes: { 'service.name': 'claude-code', 'session.id': 'sess-override', type: 'cacheRead' },
      },
      {
        name: 'gen_ai.client.token.usage.total',
        kind: 'sum',
        temporality: 'cumulative',
        monotonic: true,
        at: T0 + 60_000,
        startAt: T0,
        value: 9000,
        attributes: { 'service.name': 'my-agent', 'gen_ai.token.type': 'input' },
      },
      {
        name: 'queue.depth',
        kind: 'gauge',
        temporality: 'gauge',
        at: T0,
        startAt: T0,
        value: 3,
        attributes: { 'service.name': 'my-agent', attempt: '2' },
      },
      {
        name: 'gen_ai.client.token.usage',
        kind: 'sum',
        temporality: 'cumulative',
        monotonic: true,
        at: T0 + 60_000,
        startAt: T0,
        value: 1500,
        attributes: { 'service.name': 'my-agent', 'gen_ai.token.type': 'input' },
      },
      {
        // an UpDownCounter: proto3 leaves its false isMonotonic out
        name: 'queue.size',
        kind: 'sum',
        temporality: 'cumulative',
        monotonic: false,
        at: T0 + 60_000,
        startAt: T0,
        value: 4,
        attributes: { 'service.name': 'my-agent' },
      },
    ]);
  });

  it('rejects histogram points without a sum, summaries and sums of unknown temporality, each counted as a data point', () => {
    const batch = parseMetrics(metricsExport, T0);
    expect(batch.rejected).toEqual([
      { index: 6, id: 'gen_ai.client.token.usage', error: 'data point 6 (gen_ai.client.token.usage): histogram point has no sum' },
      { index: 7, id: 'legacy.counter', error: 'data point 7 (legacy.counter): sum with unspecified aggregation temporality' },
      { index: 8, id: 'rpc.latency', error: 'data point 8 (rpc.latency): summary points are not supported (sums, gauges and histograms are kept)' },
    ]);
  });

  it('rejects a point without a time or a value on its own', () => {
    const batch = parseMetrics(
      {
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'm',
                    gauge: { dataPoints: [{ asDouble: 1 }, { timeUnixNano: ns(T0) }, { timeUnixNano: ns(T0), asDouble: 2, flags: 1 }, point({ asDouble: 0 }, {})] },
                  },
                ],
              },
            ],
          },
        ],
      },
      T0,
    );
    expect(batch.metrics).toHaveLength(1);
    expect(batch.metrics![0]!.value).toBe(0);
    expect(batch.rejected.map((r) => r.error)).toEqual([
      'data point 0 (m): missing timeUnixNano',
      'data point 1 (m): value (asDouble or asInt) must be a finite number',
      'data point 2 (m): point has no recorded value',
    ]);
  });
});
