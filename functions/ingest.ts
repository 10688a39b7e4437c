import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fromApiGatewayV2, toApiGatewayV2 } from '../shared/http/apigw.ts';
import { handleIngest } from '../shared/runtime.ts';
import { flushMetrics } from '../shared/observability/telemetry.ts';

/** POST /v1/ingest, /v1/traces, /v1/logs, /v1/metrics (API Gateway HTTP API, payload v2). */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    return toApiGatewayV2(await handleIngest(fromApiGatewayV2(event)));
  } finally {
    flushMetrics();
  }
};
