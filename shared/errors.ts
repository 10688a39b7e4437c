/**
 * The error hierarchy. Domain code throws these; each entry point maps them once to its protocol
 * (HTTP status for ingest, tRPC code for the API). Anything else is an internal error and is never
 * shown to the caller with its internals.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'CONFLICT'
  | 'UNAVAILABLE';

export class LidlessError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LidlessError';
  }
}

export class BadRequestError extends LidlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_REQUEST', message, options);
    this.name = 'BadRequestError';
  }
}
export class UnauthorizedError extends LidlessError {
  constructor(message = 'missing or unknown credentials') {
    super('UNAUTHORIZED', message);
    this.name = 'UnauthorizedError';
  }
}
export class ForbiddenError extends LidlessError {
  constructor(message = 'not allowed') {
    super('FORBIDDEN', message);
    this.name = 'ForbiddenError';
  }
}
export class NotFoundError extends LidlessError {
  constructor(message = 'not found') {
    super('NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}
export class PayloadTooLargeError extends LidlessError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message);
    this.name = 'PayloadTooLargeError';
  }
}
export class UnsupportedMediaTypeError extends LidlessError {
  constructor(message: string) {
    super('UNSUPPORTED_MEDIA_TYPE', message);
    this.name = 'UnsupportedMediaTypeError';
  }
}
/** Storage is failing or contended: the client should retry (HTTP 503 with Retry-After). */
export class UnavailableError extends LidlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CONFLICT: 409,
  UNAVAILABLE: 503,
};
