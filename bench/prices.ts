import type { Tally } from './meter.ts';

/**
 * AWS list prices, us-east-1, as DESIGN.md states them, and what a measured workload costs at them.
 */
export const PRICES = {
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** PUT, COPY, POST, LIST requests */
  s3Put: 0.005 / 1000,
  /** GET and every other request */
  s3Get: 0.0004 / 1000,
  s3GbMonth: 0.023,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000166667,
  /** HTTP API, per request of up to 512 KB (a larger one counts once per 512 KB) */
  apiGatewayRequest: 1.0 / 1e6,
} as const;

/** The ingest function's configured memory (infra/): Lambda bills duration at this size. */
export const INGEST_MEMORY_GB = 0.5;
/** How long the raw objects are kept, for the storage line: the default tenant retention. */
export const RETENTION_DAYS = 14;

const S3_PUT_CLASS = new Set(['PutObject', 'CopyObject', 'PostObject', 'ListObjects', 'ListObjectsV2', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']);

export interface CostInput {
  /** the events the cost is spread over */
  events: number;
  tally: Tally;
  /** wall time of each invocation, ms */
  invocationMs: readonly number[];
  /** request body size of each invocation, bytes */
  requestBytes: readonly number[];
  memoryGb?: number;
}

export interface CostBreakdown {
  /** US dollars per million events, by line */
  dynamoWrites: number;
  dynamoReads: number;
  s3Requests: number;
  s3Storage: number;
  lambdaRequests: number;
  lambdaDuration: number;
  apiGateway: number;
  total: number;
  /** what the lines are made of, per million events */
  perMillionEvents: {
    writeUnits: number;
    readUnits: number;
    s3PutRequests: number;
    s3OtherRequests: number;
    storedGb: number;
    invocations: number;
    gbSeconds: number;
    apiRequests: number;
  };
}

export function costOf(c: CostInput): CostBreakdown {
  const scale = 1e6 / c.events;
  let writeUnits = 0;
  let readUnits = 0;
  let s3Put = 0;
  let s3Other = 0;
  let storedBytes = 0;
  for (const [key, t] of Object.entries(c.tally.byCommand)) {
    writeUnits += t.writeUnits;
    readUnits += t.readUnits;
    const [service, command] = key.split(':') as [string, string];
    if (service === 's3') {
      if (S3_PUT_CLASS.has(command)) s3Put += t.requests;
      else s3Other += t.requests;
      if (command === 'PutObject') storedBytes += t.bytes ?? 0;
    }
  }
  const memory = c.memoryGb ?? INGEST_MEMORY_GB;
  // Lambda bills each invocation's duration rounded up to the millisecond
  const gbSeconds = c.invocationMs.reduce((n, ms) => n + (Math.ceil(ms) / 1000) * memory, 0);
  const apiRequests = c.requestBytes.reduce((n, b) => n + Math.max(1, Math.ceil(b / (512 * 1024))), 0);
  const storedGb = storedBytes / 1024 ** 3;
  const lines = {
    dynamoWrites: writeUnits * PRICES.dynamoWriteUnit * scale,
    dynamoReads: readUnits * PRICES.dynamoReadUnit * scale,
    s3Requests: (s3Put * PRICES.s3Put + s3Other * PRICES.s3Get) * scale,
    s3Storage: storedGb * PRICES.s3GbMonth * (RETENTION_DAYS / 30) * scale,
    lambdaRequests: c.invocationMs.length * PRICES.lambdaRequest * scale,
    lambdaDuration: gbSeconds * PRICES.lambdaGbSecond * scale,
    apiGateway: apiRequests * PRICES.apiGatewayRequest * scale,
  };
  return {
    ...lines,
    total: Object.values(lines).reduce((a, b) => a + b, 0),
    perMillionEvents: {
      writeUnits: writeUnits * scale,
      readUnits: readUnits * scale,
      s3PutRequests: s3Put * scale,
      s3OtherRequests: s3Other * scale,
      storedGb: storedGb * scale,
      invocations: c.invocationMs.length * scale,
      gbSeconds: gbSeconds * scale,
      apiRequests: apiRequests * scale,
    },
  };
}
