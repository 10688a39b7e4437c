/** OTLP/HTTP source adapters: decode a request body, then map it to Lidless's event model. */
import type { ParsedBatch } from '../../model.ts';
import { parseLogs } from './logs.ts';
import { parseMetrics } from './metrics.ts';
import type { OtlpSignal } from './proto.ts';
import { parseTraces } from './traces.ts';

export { decodeOtlp, encodeOtlpResponse, encodeOtlpStatus } from './codec.ts';
export type { OtlpEncoding } from './codec.ts';
export type { OtlpSignal } from './proto.ts';
export { parseTraces, parseLogs, parseMetrics };
export { toHexId } from './ids.ts';
export { anyValueToJs, attributesToObject, readBoolean, readNumber, readString } from './attributes.ts';

/** The adapter of each signal, for handlers that serve all three endpoints. */
export const OTLP_PARSERS: Record<OtlpSignal, (request: unknown, receivedAt: number) => ParsedBatch> = {
  traces: parseTraces,
  logs: parseLogs,
  metrics: parseMetrics,
};
