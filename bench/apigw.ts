import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * API Gateway HTTP API (payload v2) events, built as the gateway would deliver them, so the benchmark
 * calls the very handlers Lambda runs, in-process, and can time them.
 */
export type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface GatewayRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** HTTP APIs pass a text body as it is and base64-encode a binary one (e.g. gzip). */
function isText(headers: Record<string, string>): boolean {
  return !headers['content-encoding'] && /json|text/i.test(headers['content-type'] ?? '');
}

export function gatewayEvent(r: GatewayRequest): APIGatewayProxyEventV2 {
  const text = isText(r.headers);
  const routeKey = r.path.startsWith('/trpc/') ? 'ANY /trpc/{proxy+}' : 'ANY /v1/{proxy+}';
  const now = Date.now();
  const query = r.query ?? '';
  return {
    version: '2.0',
    routeKey,
    rawPath: r.path,
    rawQueryString: query,
    headers: { host: 'bench.local', 'user-agent': 'lidless-bench', ...r.headers },
    queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : undefined,
    pathParameters: { proxy: r.path.replace(/^\/(v1|trpc)\//, '') },
    requestContext: {
      accountId: 'bench',
      apiId: 'bench',
      domainName: 'bench.local',
      domainPrefix: 'bench',
      http: { method: r.method, path: r.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'lidless-bench' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: r.body && r.body.length ? r.body.toString(text ? 'utf8' : 'base64') : undefined,
    isBase64Encoded: Boolean(r.body && r.body.length) && !text,
  };
}

export function resultBody(res: APIGatewayProxyStructuredResultV2): string {
  if (res.body === undefined) return '';
  return res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString('utf8') : res.body;
}

/** One tRPC call through the API handler: a query (GET) or a mutation (POST); throws on an error answer. */
export async function callApi<T>(api: Handler, token: string, kind: 'query' | 'mutation', proc: string, input: unknown): Promise<T> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const res =
    kind === 'query'
      ? await api(gatewayEvent({ method: 'GET', path: `/trpc/${proc}`, query: input === undefined ? '' : `input=${encodeURIComponent(JSON.stringify(input))}`, headers }))
      : await api(gatewayEvent({ method: 'POST', path: `/trpc/${proc}`, headers, body: Buffer.from(JSON.stringify(input ?? {})) }));
  const parsed = JSON.parse(resultBody(res)) as { result?: { data: T }; error?: { message: string } };
  if (!parsed.result) throw new Error(`${proc} failed (${res.statusCode}): ${parsed.error?.message ?? resultBody(res)}`);
  return parsed.result.data;
}
