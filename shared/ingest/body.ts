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

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('body is not valid JSON');
  }
}
