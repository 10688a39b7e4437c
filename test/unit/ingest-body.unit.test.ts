import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../shared/errors.ts';
import { encodingOf, inflate, limitDepth, MAX_BODY_DEPTH, parseJson } from '../../shared/ingest/body.ts';

/** Request-body limits: what a hostile body gets instead of a crash or unbounded memory. */

const nested = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels)) as unknown;

describe('limitDepth', () => {
  it('accepts a body nested exactly to the limit, and a wide flat one', () => {
    // Act / Assess
    expect(() => limitDepth(nested(MAX_BODY_DEPTH))).not.toThrow();
    expect(() => limitDepth({ events: Array.from({ length: 10_000 }, (_, i) => ({ id: String(i), attributes: { a: [1, { b: 2 }] } })) })).not.toThrow();
    expect(() => limitDepth('just a string')).not.toThrow();
    expect(() => limitDepth(null)).not.toThrow();
  });

  it('refuses one level more with a readable bad request', () => {
    // Act
    const err = (() => {
      try {
        limitDepth({ events: [{ attributes: nested(MAX_BODY_DEPTH) }] });
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as Error).message).toBe(`body nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`);
  });

  it('refuses 100000 levels of nested arrays without overflowing the stack', () => {
    // Prepare: JSON.parse reads it, but recursive code after it (JSON.stringify, redaction) would overflow
    const body = parseJson(Buffer.from(`{"events":[{"attributes":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]}`));

    // Act / Assess
    expect(() => limitDepth(body)).toThrow(BadRequestError);
  });
});

describe('inflate', () => {
  it('stops a gzip bomb at the limit instead of inflating it', () => {
    // Prepare: 64 MB of spaces in a gzip of about 64 KB
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const started = Date.now();

    // Act / Assess
    expect(() => inflate(bomb, 'gzip', 5 * 1024 * 1024)).toThrow(PayloadTooLargeError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('tells bad gzip, unknown encodings and bodies over the limit apart', () => {
    // Act / Assess
    expect(() => inflate(Buffer.from('{"events":[]}'), 'gzip', 1024)).toThrow(BadRequestError);
    expect(() => inflate(Buffer.from('{}'), 'br', 1024)).toThrow(UnsupportedMediaTypeError);
    expect(() => inflate(Buffer.alloc(1025), undefined, 1024)).toThrow(PayloadTooLargeError);
    expect(inflate(gzipSync('{"events":[]}'), ' GZIP ', 1024).toString()).toBe('{"events":[]}');
  });
});

describe('encodingOf', () => {
  it('reads JSON with parameters, protobuf only on OTLP paths, and refuses anything else', () => {
    // Act / Assess
    expect(encodingOf('application/json; charset=utf-8', false)).toBe('json');
    expect(encodingOf('application/x-protobuf', true)).toBe('protobuf');
    expect(() => encodingOf('application/x-protobuf', false)).toThrow(UnsupportedMediaTypeError);
    expect(() => encodingOf('text/plain', true)).toThrow(UnsupportedMediaTypeError);
    expect(() => encodingOf(undefined, true)).toThrow(/\(none\) is not supported/);
  });
});
