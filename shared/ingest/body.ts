import { gunzipSync } from 'node:zlib';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.ts';

/**
 * Request bodies: size limit before and after inflating (a gzip bomb stops at the limit, memory stays
 * bounded), and the content type that decides the decoder.
 */
export type BodyEncoding = 'json' | 'protobuf';

export function inflate(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Buffer {
  if (body.length > maxBytes) throw new PayloadTooLargeError(`body is ${body.length} bytes; the limit is ${maxBytes}`);
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc !== 'gzip') throw new UnsupportedMediaTypeError(`Content-Encoding ${enc} is not supported (use gzip or none)`);
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new PayloadTooLargeError(`body inflates to more than ${maxBytes} bytes`);
    }
    throw new BadRequestError('body is not valid gzip', { cause: err });
  }
}

export function encodingOf(contentType: string | undefined, allowProtobuf: boolean): BodyEncoding {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (allowProtobuf && type === 'application/x-protobuf') return 'protobuf';
  throw new UnsupportedMediaTypeError(
    `Content-Type ${type || '(none)'} is not supported; use application/json${allowProtobuf ? ' or application/x-protobuf' : ''}`,
  );
}

/**
 * How deep a decoded body may nest (objects and arrays). Far beyond any real batch or export, and low
 * enough that the recursive code after decoding (redaction, serialisation, storage marshalling) cannot
 * overflow the stack: a 5 MB body of nested brackets would otherwise crash the request.
 */
export const MAX_BODY_DEPTH = 128;

/** Throws BadRequestError when `value` nests deeper than `max`. */
export function limitDepth(value: unknown, max = MAX_BODY_DEPTH): void {
  if (nestsDeeper(value, max)) throw new BadRequestError(`body nests deeper than ${max} levels of objects and arrays`);
}

/** Whether `value` nests deeper than `max` levels of objects and arrays; walks with an explicit stack, never recursion. */
export function nestsDeeper(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node as object)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('body is not valid JSON');
  }
}
