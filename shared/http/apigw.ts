import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** The request and response the entry points work with, independent of API Gateway's event shape. */
export interface HttpRequest {
  method: string;
  path: string;
  /** the raw query string, without `?` */
  query: string;
  /** lower-case names */
  headers: Record<string, string | undefined>;
  body: Buffer;
  requestId: string;
}
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export function fromApiGatewayV2(event: APIGatewayProxyEventV2): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const body = event.body === undefined || event.body === null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  return { method: event.requestContext.http.method, path: event.rawPath, query: event.rawQueryString ?? '', headers, body, requestId: event.requestContext.requestId };
}

export function toApiGatewayV2(res: HttpResponse): APIGatewayProxyStructuredResultV2 {
  if (Buffer.isBuffer(res.body)) {
    return { statusCode: res.statusCode, headers: res.headers, body: res.body.toString('base64'), isBase64Encoded: true };
  }
  return { statusCode: res.statusCode, headers: res.headers, body: res.body };
}

export function json(statusCode: number, value: unknown, extra: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(value) };
}
