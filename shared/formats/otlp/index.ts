/** OTLP/HTTP source adapters: decode a request body, then map it to Lidless's event model. */
export { decodeOtlp, encodeOtlpResponse, encodeOtlpStatus } from './codec.ts';
export type { OtlpEncoding } from './codec.ts';
export type { OtlpSignal } from './proto.ts';
export { parseTraces } from './traces.ts';
export { parseLogs } from './logs.ts';
export { parseMetrics } from './metrics.ts';
export { toHexId } from './ids.ts';
export { anyValueToJs, attributesToObject, readBoolean, readNumber, readString } from './attributes.ts';

import type { ParsedBatch } from '../../model.ts';
import type { OtlpSignal } from './proto.ts';
import { parseLogs } from './logs.ts';
import { parseMetrics } from './metrics.ts';
import { parseTraces } from './traces.ts';

/** The adapter of each signal, for handlers that serve all three endpoints. */
export const OTLP_PARSERS: Record<OtlpSignal, (request: unknown, receivedAt: number) => ParsedBatch> = {
  traces: parseTraces,
  logs: parseLogs,
  metrics: parseMetrics,
};
