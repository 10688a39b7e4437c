import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildApp } from '../../infra/build.ts';
import { stackInfo } from '../helpers/stack.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';

/**
 * The bundles `cdk synth` produces (not the TypeScript) run against the embedded stack through the
 * SDK's AWS_ENDPOINT_URL_* variables, as they would against DynamoDB and S3 in AWS.
 */
type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function event(method: string, path: string, body: unknown, token: string, query = ''): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: path.startsWith('/v1/') ? 'ANY /v1/{proxy+}' : 'ANY /trpc/{proxy+}',
    rawPath: path,
    rawQueryString: query,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    pathParameters: { proxy: path.replace(/^\/(v1|trpc)\//, '') },
    requestContext: {
      accountId: '1', apiId: 'api', domainName: 'example.com', domainPrefix: 'example', requestId: `req-${now}`, routeKey: '$default', stage: '$default',
      time: new Date(now).toUTCString(), timeEpoch: now,
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'test' },
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const data = (res: APIGatewayProxyStructuredResultV2) => JSON.parse(res.body as string).result.data;

describe('the synthesized Lambda bundles', () => {
  let ingest: Handler;
  let api: Handler;

  beforeAll(async () => {
    useStackEnvironment();
    Object.assign(process.env, {
      LIDLESS_OPERATOR_TOKEN: stackInfo().operatorToken,
      LIDLESS_ALERT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/unused',
    });
    const { app, stack } = buildApp(new App({ context: { stage: 'bundletest' } }));
    app.synth({ validateOnSynthesis: false });
    const load = async (name: 'ingest' | 'api') => {
      const code = stack.functions[name].fn.node.findChild('Code') as Asset;
      return ((await import(pathToFileURL(join(app.outdir, code.assetPath, 'index.mjs')).href)) as { handler: Handler }).handler;
    };
    [ingest, api] = await Promise.all([load('ingest'), load('api')]);
  }, 180_000);

  it('creates a tenant and key, ingests a run and reads it back, all through the bundles', async () => {
    const op = stackInfo().operatorToken;
    const tenant = data(await api(event('POST', '/trpc/admin.tenants.create', { name: 'bundled' }, op)));
    const { key } = data(await api(event('POST', '/trpc/admin.keys.create', { tenantId: tenant.tenantId, scopes: ['ingest', 'read'] }, op)));

    const res = await ingest(event('POST', '/v1/ingest', {
      events: [
        { type: 'run', id: 'b1', runId: 'bundle-run', timestamp: '2026-11-20T10:00:00Z', repo: 'web', status: 'succeeded', endedAt: '2026-11-20T10:01:00Z' },
        { type: 'step', id: 'b2', runId: 'bundle-run', stepId: 's1', kind: 'llm', name: 'chat', startedAt: '2026-11-20T10:00:01Z', model: 'claude-sonnet-4-5', usage: { inputTokens: 1_000_000 } },
      ],
    }, key));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });

    const input = encodeURIComponent(JSON.stringify({ tenantId: tenant.tenantId, runId: 'bundle-run' }));
    const got = data(await api(event('GET', '/trpc/runs.get', undefined, key, `input=${input}`)));
    expect(got.run).toMatchObject({ runId: 'bundle-run', repo: 'web', status: 'succeeded', inputTokens: 1_000_000, durationMs: 60_000 });
    expect(got.run.costUsd).toBeGreaterThan(0);
    expect(got.steps).toHaveLength(1);
  });

  it('answers 401 from the bundled ingest for an unknown key', async () => {
    const res = await ingest(event('POST', '/v1/ingest', { events: [] }, 'ldl_nosuchkey_0123456789abcdefghijklmnop'));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body as string).error).toMatch(/unknown|revoked/);
  });
});
