import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fromApiGatewayV2, json, toApiGatewayV2 } from '../shared/http/apigw.ts';
import { handleApi } from '../shared/runtime.ts';
import { flushMetrics } from '../shared/observability/telemetry.ts';

/** /trpc/* (tRPC, plain JSON) and GET /healthz (API Gateway HTTP API, payload v2). */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    const req = fromApiGatewayV2(event);
    if (req.path === '/healthz') return toApiGatewayV2(json(200, { ok: true }));
    return toApiGatewayV2(await handleApi(req));
  } finally {
    flushMetrics();
  }
};
