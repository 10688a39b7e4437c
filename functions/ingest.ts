import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { fromApiGatewayV2, toApiGatewayV2 } from '../shared/http/apigw.ts';
import { handleIngest } from '../shared/runtime.ts';
import { flushMetrics } from '../shared/observability/telemetry.ts';

/** POST /v1/ingest, /v1/traces, /v1/logs, /v1/metrics (API Gateway HTTP API, payload v2). */
export const handler = async (event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  // answer a retryable 503 before the function is stopped mid-request (which the gateway turns into a 500)
  const deadlineAt = context ? Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS : undefined;
  try {
    return toApiGatewayV2(await handleIngest(fromApiGatewayV2(event), deadlineAt));
  } finally {
    flushMetrics();
  }
};

/** Time kept back to answer and flush metrics once the request's work is given up. */
const ANSWER_MARGIN_MS = 1_500;
