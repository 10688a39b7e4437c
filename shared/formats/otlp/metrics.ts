import type { MetricPoint, ParsedBatch, Rejection } from '../../model.ts';
import { attributesToObject, isRecord, stringifyValues } from './attributes.ts';
import { nanosToMs } from './time.ts';
import { walkRequest } from './walk.ts';

/**
 * OTLP metrics → tenant metric points. Sums (delta or cumulative, told apart so that the store never
 * double counts) and gauges are kept; histogram, exponential histogram and summary points are rejected
 * with a reason, and so is a sum whose temporality is unspecified, since it cannot be summed safely.
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
        points.push(toPoint(name, shape.temporality!, shape.kind!, point, resourceAttributes));
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
  /** why every point of this metric is rejected */
  unsupported?: string;
}

const UNSUPPORTED: Record<string, string> = {
  histogram: 'histogram points are not supported (only sums and gauges are kept)',
  exponentialHistogram: 'exponential histogram points are not supported (only sums and gauges are kept)',
  summary: 'summary points are not supported (only sums and gauges are kept)',
};

function shapeOf(metric: Record<string, unknown>): Shape {
  if (isRecord(metric.sum)) {
    const temporality = temporalityOf(metric.sum.aggregationTemporality);
    return {
      points: pointsOf(metric.sum),
      kind: 'sum',
      temporality,
      ...(temporality ? {} : { unsupported: 'sum with unspecified aggregation temporality' }),
    };
  }
  if (isRecord(metric.gauge)) return { points: pointsOf(metric.gauge), kind: 'gauge', temporality: 'gauge' };
  for (const [field, reason] of Object.entries(UNSUPPORTED)) {
    const data = metric[field];
    if (isRecord(data)) return { points: pointsOf(data), unsupported: reason };
  }
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

function toPoint(
  name: string,
  temporality: MetricPoint['temporality'],
  kind: MetricPoint['kind'],
  point: unknown,
  resourceAttributes: Record<string, unknown>,
): MetricPoint {
  if (!isRecord(point)) throw new Error('must be an object');
  const at = timeOf(point.timeUnixNano, 'timeUnixNano');
  if (at === undefined) throw new Error('missing timeUnixNano');
  const start = timeOf(point.startTimeUnixNano, 'startTimeUnixNano');
  if ((Number(point.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) throw new Error('point has no recorded value');
  const value = valueOf(point);
  return {
    name,
    kind,
    temporality,
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
function valueOf(point: Record<string, unknown>): number {
  const raw = point.asDouble ?? point.asInt;
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error('value (asDouble or asInt) must be a finite number');
  return value;
}
