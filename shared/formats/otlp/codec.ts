import { BadRequestError } from '../../errors.ts';
import { isRecord } from './attributes.ts';
import { decodeProtobufRequest, encodeProtobufResponse, encodeProtobufStatus, rejectedFieldOf } from './proto.ts';
import type { OtlpSignal } from './proto.ts';

/**
 * Bodies in and out of the OTLP/HTTP endpoints, in either encoding. Requests become the OTLP JSON
 * object form the adapters read; responses and failure statuses are written in the request's encoding.
 */
export type OtlpEncoding = 'json' | 'protobuf';

const CONTENT_TYPES: Record<OtlpEncoding, string> = {
  json: 'application/json',
  protobuf: 'application/x-protobuf',
};

/** The export request in OTLP JSON object form; BadRequestError when the body cannot be read. */
export function decodeOtlp(signal: OtlpSignal, body: Buffer, contentType: OtlpEncoding): unknown {
  if (contentType === 'protobuf') return decodeProtobufRequest(signal, body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isRecord(parsed)) throw new BadRequestError('body must be a JSON object (an OTLP export request)');
  return parsed;
}

/**
 * An `Export*ServiceResponse`: empty, or with `partialSuccess` counting what was rejected and why. In
 * JSON the count is written as a number (OTLP receivers accept int64 as a number or a string).
 */
export function encodeOtlpResponse(
  signal: OtlpSignal,
  encoding: OtlpEncoding,
  partial?: { rejected: number; errorMessage: string },
): { body: Buffer | string; contentType: string } {
  const contentType = CONTENT_TYPES[encoding];
  if (encoding === 'protobuf') return { body: Buffer.from(encodeProtobufResponse(signal, partial)), contentType };
  const body = partial
    ? { partialSuccess: { [rejectedFieldOf(signal)]: partial.rejected, errorMessage: partial.errorMessage } }
    : {};
  return { body: JSON.stringify(body), contentType };
}

/** A `google.rpc.Status` { code, message } for a failed request, in the request's encoding. */
export function encodeOtlpStatus(
  encoding: OtlpEncoding,
  code: number,
  message: string,
): { body: Buffer | string; contentType: string } {
  const contentType = CONTENT_TYPES[encoding];
  if (encoding === 'protobuf') return { body: Buffer.from(encodeProtobufStatus(code, message)), contentType };
  return { body: JSON.stringify({ code, message }), contentType };
}
