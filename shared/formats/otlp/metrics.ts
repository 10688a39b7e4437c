import type { MetricPoint, ParsedBatch, Rejection } from '../../model.ts';
import { attributesToObject, isRecord, stringifyValues } from './attributes.ts';
import { nanosToMs } from './time.ts';
import { assertItemCount, walkRequest } from './walk.ts';

/**
 * OTLP metrics → tenant metric points. Sums (delta or cumulative, told apart so that the store never
 * double counts) and gauges are kept. A histogram (or exponential histogram) is kept as the sum of what
 * it recorded: `gen_ai.client.token.usage` is a histogram of tokens per call, and its sum is the tokens
 * used. Summary points are rejected with a reason, and so is a sum whose temporality is unspecified,
 * since it cannot be summed safely.
 * Each point's attributes are its resource's merged with its own (the point's win), as strings.
 * `request` is an `ExportMetricsServiceRequest` in OTLP JSON object form (see proto.ts for protobuf).
 */
export function parseMetrics(request: unknown, _receivedAt: number): ParsedBatch {
  const metrics = walkRequest(request, { resources: 'resourceMetrics', scopes: 'scopeMetrics', items: 'metrics' });
  const points: MetricPoint[] = [];
  const rejected: Rejection[] = [];
  let index = 0;
  for (const { item: metric, resourceAttributes } of metrics) {
    if (!isRecord(metric)) {
      rejected.push({ index: index++, error: 'metric must be an object' });
      continue;
    }
    const name = typeof metric.name === 'string' ? metric.name : '';
    const shape = shapeOf(metric);
    assertItemCount(index + shape.points.length);
    for (const point of shape.points) {
      const at = index++;
      const reject = (reason: string) => {
        const rejection: Rejection = { index: at, error: `data point ${at}${name ? ` (${name})` : ''}: ${reason}` };
        if (name) rejection.id = name;
        rejected.push(rejection);
      };
      if (shape.unsupported) {
        reject(shape.unsupported);
        continue;
      }
      try {
        if (!name) throw new Error('metric has no name');
        points.push(toPoint(name, shape, point, resourceAttributes));
      } catch (err) {
        reject((err as Error).message);
      }
    }
  }
  return { source: 'otlp.metrics', total: index, items: [], rejected, metrics: points };
}

interface Shape {
  points: unknown[];
  kind?: MetricPoint['kind'];
  temporality?: MetricPoint['temporality'];
  /** a cumulative series that only grows: a drop is a reset (an UpDownCounter's drop is a change) */
  monotonic?: boolean;
  /** the point's value: a number point's, or a histogram's sum */
  value?: (point: Record<string, unknown>) => number;
  /** why every point of this metric is rejected */
  unsupported?: string;
}

const UNSPECIFIED = 'with unspecified aggregation temporality';

function shapeOf(metric: Record<string, unknown>): Shape {
  if (isRecord(metric.sum)) {
    const temporality = temporalityOf(metric.sum.aggregationTemporality);
    return {
      points: pointsOf(metric.sum),
      kind: 'sum',
      temporality,
      // proto3 leaves a false `isMonotonic` out, as an UpDownCounter's
      monotonic: metric.sum.isMonotonic === true || metric.sum.isMonotonic === 'true',
      value: numberValue,
      ...(temporality ? {} : { unsupported: `sum ${UNSPECIFIED}` }),
    };
  }
  if (isRecord(metric.gauge)) return { points: pointsOf(metric.gauge), kind: 'gauge', temporality: 'gauge', value: numberValue };
  for (const field of ['histogram', 'exponentialHistogram'] as const) {
    const data = metric[field];
    if (!isRecord(data)) continue;
    const temporality = temporalityOf(data.aggregationTemporality);
    // a histogram's sum only grows: it is recorded only for instruments that take no negative values
    return { points: pointsOf(data), kind: 'sum', temporality, monotonic: true, value: histogramSum, ...(temporality ? {} : { unsupported: `histogram ${UNSPECIFIED}` }) };
  }
  if (isRecord(metric.summary)) return { points: pointsOf(metric.summary), unsupported: 'summary points are not supported (sums, gauges and histograms are kept)' };
  return { points: [] };
}

function pointsOf(data: Record<string, unknown>): unknown[] {
  return Array.isArray(data.dataPoints) ? data.dataPoints : [];
}

/** 1 / AGGREGATION_TEMPORALITY_DELTA, 2 / AGGREGATION_TEMPORALITY_CUMULATIVE; anything else is unspecified. */
function temporalityOf(value: unknown): 'delta' | 'cumulative' | undefined {
  if (value === 1 || value === '1' || value === 'AGGREGATION_TEMPORALITY_DELTA') return 'delta';
  if (value === 2 || value === '2' || value === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 'cumulative';
  return undefined;
}

function toPoint(name: string, shape: Shape, point: unknown, resourceAttributes: Record<string, unknown>): MetricPoint {
  if (!isRecord(point)) throw new Error('must be an object');
  const { kind, temporality } = shape as Required<Shape>;
  const at = timeOf(point.timeUnixNano, 'timeUnixNano');
  if (at === undefined) throw new Error('missing timeUnixNano');
  const start = timeOf(point.startTimeUnixNano, 'startTimeUnixNano');
  if ((Number(point.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) throw new Error('point has no recorded value');
  const value = shape.value!(point);
  return {
    name,
    kind,
    temporality,
    ...(temporality === 'cumulative' ? { monotonic: shape.monotonic === true } : {}),
    at,
    // A cumulative series without a start time is one series from an unknown start (0), so that a new
    // start is never invented; a delta or gauge point without one covers only its own instant.
    startAt: start ?? (temporality === 'cumulative' ? 0 : at),
    value,
    attributes: stringifyValues({ ...resourceAttributes, ...attributesToObject(point.attributes) }),
  };
}

/** DataPointFlags.NO_RECORDED_VALUE: the point only marks a gap in the series. */
const FLAG_NO_RECORDED_VALUE = 1;

function timeOf(value: unknown, field: string): number | undefined {
  try {
    return nanosToMs(value);
  } catch (err) {
    throw new Error(`${field} ${(err as Error).message}`);
  }
}

/** `asDouble` or `asInt` (int64: a string or a number). */
function numberValue(point: Record<string, unknown>): number {
  return finite(point.asDouble ?? point.asInt, 'value (asDouble or asInt)');
}

/** What a histogram point recorded in all: its `sum` (optional in OTLP, so required here). */
function histogramSum(point: Record<string, unknown>): number {
  if (point.sum === undefined || point.sum === null) throw new Error('histogram point has no sum');
  return finite(point.sum, 'sum');
}

function finite(raw: unknown, what: string): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${what} must be a finite number`);
  return value;
}
