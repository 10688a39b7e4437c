// static imports, so that bundlers (esbuild for Lambda) include them; both are CommonJS
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import protobufMinimal from 'protobufjs/minimal.js';
import { BadRequestError, PayloadTooLargeError } from '../../errors.ts';

/**
 * The one place that touches the generated OTLP protobuf code. Current `@opentelemetry/otlp-transformer`
 * releases only encode requests; 0.57.2 (pinned in package.json) still ships the project's generated
 * protobufjs root with decoders, reached by a deep import of a CommonJS file. Everything else in Lidless
 * sees the OTLP JSON object form this module returns.
 */

interface DecodedMessage {
  readonly __decoded?: never;
}
interface ToObjectOptions {
  longs?: StringConstructor;
  bytes?: StringConstructor;
  defaults?: boolean;
  arrays?: boolean;
}
interface MessageType {
  decode(reader: Uint8Array): DecodedMessage;
  toObject(message: DecodedMessage, options: ToObjectOptions): Record<string, unknown>;
  fromObject(object: Record<string, unknown>): DecodedMessage;
  encode(message: DecodedMessage): { finish(): Uint8Array };
}
interface ProtoReader {
  pos: number;
  len: number;
  uint32(): number;
  string(): string;
  skipType(wireType: number): ProtoReader;
}
interface ProtoWriter {
  uint32(value: number): ProtoWriter;
  int32(value: number): ProtoWriter;
  string(value: string): ProtoWriter;
  finish(): Uint8Array;
}
interface ProtobufMinimal {
  Reader: { create(buffer: Uint8Array): ProtoReader };
  Writer: { create(): ProtoWriter };
}

// protobufjs is a direct dependency pinned to the version the generated root resolves, so both use
// the same runtime instance
const protobuf = protobufMinimal as unknown as ProtobufMinimal;
const root = generatedRoot as unknown as {
  opentelemetry: { proto: { collector: Record<'trace' | 'logs' | 'metrics', { v1: Record<string, MessageType> }> } };
};
const collector = root.opentelemetry.proto.collector;

export type OtlpSignal = 'traces' | 'logs' | 'metrics';

const TYPES: Record<OtlpSignal, { request: MessageType; response: MessageType; rejectedField: string; name: string }> = {
  traces: {
    request: collector.trace.v1.ExportTraceServiceRequest!,
    response: collector.trace.v1.ExportTraceServiceResponse!,
    rejectedField: 'rejectedSpans',
    name: 'ExportTraceServiceRequest',
  },
  logs: {
    request: collector.logs.v1.ExportLogsServiceRequest!,
    response: collector.logs.v1.ExportLogsServiceResponse!,
    rejectedField: 'rejectedLogRecords',
    name: 'ExportLogsServiceRequest',
  },
  metrics: {
    request: collector.metrics.v1.ExportMetricsServiceRequest!,
    response: collector.metrics.v1.ExportMetricsServiceResponse!,
    rejectedField: 'rejectedDataPoints',
    name: 'ExportMetricsServiceRequest',
  },
};

/** The field of the partial-success message that counts rejected items of a signal. */
export function rejectedFieldOf(signal: OtlpSignal): string {
  return TYPES[signal].rejectedField;
}

/**
 * Decodes a protobuf export request into the OTLP JSON object form: camelCase fields, 64-bit integers
 * as decimal strings, bytes (trace and span ids) as base64 strings, enums as numbers.
 */
export function decodeProtobufRequest(signal: OtlpSignal, body: Uint8Array): Record<string, unknown> {
  const type = TYPES[signal];
  assertFewMessages(body);
  let object: Record<string, unknown>;
  try {
    // both walk nested values recursively: a body nested past the stack's depth fails here, as a bad request
    const message = type.request.decode(body);
    object = type.request.toObject(message, { longs: String, bytes: String, defaults: false, arrays: false });
  } catch (err) {
    throw new BadRequestError(`body is not a valid protobuf ${type.name}: ${(err as Error).message}`, { cause: err });
  }
  if (signal === 'logs') attachEventNames(object, body);
  return object;
}

/** Encodes an `Export*ServiceResponse`, empty or with a partial success. */
export function encodeProtobufResponse(
  signal: OtlpSignal,
  partial?: { rejected: number; errorMessage: string },
): Uint8Array {
  const type = TYPES[signal];
  const object = partial
    ? { partialSuccess: { [type.rejectedField]: partial.rejected, errorMessage: partial.errorMessage } }
    : {};
  return type.response.encode(type.response.fromObject(object)).finish();
}

/**
 * Encodes a `google.rpc.Status` { code = 1, message = 2 }. The generated root has no such type, so its two
 * fields are written by hand with the same protobuf runtime.
 */
export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  const writer = protobuf.Writer.create();
  if (code !== 0) writer.uint32((1 << 3) | 0).int32(code);
  if (message !== '') writer.uint32((2 << 3) | 2).string(message);
  return writer.finish();
}

const LEN = 2;

/**
 * `LogRecord.event_name` (field 12) is newer than the pinned generated code, which skips it. It is read
 * here from the same bytes, walking request → resource_logs (1) → scope_logs (2) → log_records (2),
 * and set as `eventName` on the decoded records, which keep the wire order.
 */
function attachEventNames(request: Record<string, unknown>, body: Uint8Array): void {
  const names = readEventNames(body);
  const resourceLogs = Array.isArray(request.resourceLogs) ? request.resourceLogs : [];
  resourceLogs.forEach((resource: Record<string, unknown>, r) => {
    const scopeLogs = Array.isArray(resource.scopeLogs) ? resource.scopeLogs : [];
    scopeLogs.forEach((scope: Record<string, unknown>, s) => {
      const records = Array.isArray(scope.logRecords) ? scope.logRecords : [];
      records.forEach((record: Record<string, unknown>, l) => {
        const name = names[r]?.[s]?.[l];
        if (name) record.eventName = name;
      });
    });
  });
}

function readEventNames(body: Uint8Array): (string | undefined)[][][] {
  return readRepeated(body, 1, (resource) =>
    readRepeated(resource, 2, (scope) => readRepeated(scope, 2, (record) => readString(record, 12))),
  );
}

/** Reads every occurrence of a length-delimited field of a message, in order. */
function readRepeated<T>(message: Uint8Array, field: number, read: (bytes: Uint8Array) => T): T[] {
  const out: T[] = [];
  forEachField(message, (number, wireType, reader) => {
    if (number === field && wireType === LEN) {
      const length = reader.uint32();
      out.push(read(message.subarray(reader.pos, reader.pos + length)));
      reader.pos += length;
      return true;
    }
    return false;
  });
  return out;
}

function readString(message: Uint8Array, field: number): string | undefined {
  let value: string | undefined;
  forEachField(message, (number, wireType, reader) => {
    if (number === field && wireType === LEN) {
      value = reader.string();
      return true;
    }
    return false;
  });
  return value;
}

/** Calls `visit` for each field; when it returns false the field is skipped by its wire type. */
function forEachField(
  message: Uint8Array,
  visit: (number: number, wireType: number, reader: ProtoReader) => boolean,
): void {
  const reader = protobuf.Reader.create(message);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (!visit(tag >>> 3, tag & 7, reader)) reader.skipType(tag & 7);
  }
}

/**
 * Decoding makes two objects of every message, about 250 bytes, and an empty message takes 2 bytes on
 * the wire: 5 MB of them would need over 600 MB. A body past SCAN_FROM_BYTES (a smaller one cannot hold
 * enough to matter) is first counted on the wire, and refused past MAX_MESSAGES: a real export holds a
 * message per 10 bytes or more (spans, attributes, data points), so 5 MB of it stays under the bound.
 */
export const MAX_MESSAGES = 600_000;
const SCAN_FROM_BYTES = 512 * 1024;
const MAX_SCAN_DEPTH = 16;

function assertFewMessages(body: Uint8Array): void {
  if (body.length < SCAN_FROM_BYTES) return;
  const counted = { messages: 0 };
  countMessages(body, 0, body.length, 0, counted);
  if (counted.messages > MAX_MESSAGES) {
    throw new PayloadTooLargeError(`the export holds more than ${MAX_MESSAGES} protobuf messages; send it in smaller requests`);
  }
}

/**
 * Counts the messages nested in `[start, end)` if it reads as a sequence of protobuf fields (a string
 * or bytes field that happens to read as one is counted too: the bound errs on the safe side). Stops
 * once past the bound. Answers false when the range is not a sequence of fields.
 */
function countMessages(buf: Uint8Array, start: number, end: number, depth: number, counted: { messages: number }): boolean {
  const at = { p: start };
  while (at.p < end) {
    if (counted.messages > MAX_MESSAGES) return true;
    const tag = readVarint(buf, at, end);
    if (tag < 8) return false;
    switch (tag & 7) {
      case 0:
        if (readVarint(buf, at, end, 10) < 0) return false;
        break;
      case 1:
        at.p += 8;
        break;
      case 5:
        at.p += 4;
        break;
      case 2: {
        const len = readVarint(buf, at, end);
        if (len < 0 || at.p + len > end) return false;
        const before = counted.messages;
        if (depth >= MAX_SCAN_DEPTH) {
          // too deep to look inside cheaply: charge what the field could hold at most (a message takes 2 bytes or more)
          counted.messages += 1 + (len >> 1);
        } else if (countMessages(buf, at.p, at.p + len, depth + 1, counted)) {
          counted.messages += 1;
        } else {
          counted.messages = before;
        }
        at.p += len;
        break;
      }
      default:
        return false;
    }
  }
  return at.p === end;
}

/**
 * The varint at `at.p`, moving past it; -1 when it runs past `end` or over `maxBytes` (5 by default: no
 * tag or length is wider; a scalar value may take 10, and its value is then only approximate).
 */
function readVarint(buf: Uint8Array, at: { p: number }, end: number, maxBytes = 5): number {
  let value = 0;
  for (let shift = 0; shift < maxBytes * 7; shift += 7) {
    if (at.p >= end) return -1;
    const b = buf[at.p++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return value;
  }
  return -1;
}
