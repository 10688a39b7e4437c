import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, DynamoDBStreamEvent } from 'aws-lambda';
import { marshall } from '@aws-sdk/util-dynamodb';
import { buildApp } from '../../infra/build.ts';
import { stackInfo } from '../helpers/stack.ts';
import { useStackEnvironment } from '../fixtures/in-process.ts';
import { lambdaRecord } from '../../local/streams.ts';
import { applyEvents, type PricedEvent } from '../../shared/aggregate/run-state.ts';
import { encodeRun } from '../../shared/store/runs-table.ts';
import { EventHashes } from '../../shared/store/run-item.ts';

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
  let aggregate: (event: DynamoDBStreamEvent) => Promise<void>;

  beforeAll(async () => {
    useStackEnvironment();
    Object.assign(process.env, {
      LIDLESS_OPERATOR_TOKEN: stackInfo().operatorToken,
      LIDLESS_ALERT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/unused',
    });
    const { app, stack } = buildApp(new App({ context: { stage: 'bundletest' } }));
    app.synth({ validateOnSynthesis: false });
    const load = async <H = Handler>(name: 'ingest' | 'api' | 'aggregate') => {
      const code = stack.functions[name].fn.node.findChild('Code') as Asset;
      return ((await import(pathToFileURL(join(app.outdir, code.assetPath, 'index.mjs')).href)) as { handler: H }).handler;
    };
    [ingest, api, aggregate] = await Promise.all([load('ingest'), load('api'), load<typeof aggregate>('aggregate')]);
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

  it('folds a run change of the runs stream into the day cells through the bundled aggregator, once however often it is delivered', async () => {
    const op = stackInfo().operatorToken;
    const tenant = data(await api(event('POST', '/trpc/admin.tenants.create', { name: 'bundled-stream' }, op)));
    const { key } = data(await api(event('POST', '/trpc/admin.keys.create', { tenantId: tenant.tenantId, scopes: ['read'] }, op)));
    // a run item as ingest writes it, delivered as Lambda delivers the stream (images in JSON, bytes in base64)
    const at = Date.parse('2026-11-20T10:00:00Z');
    const state = applyEvents(undefined, 'streamed', [
      { type: 'run', eventId: 'r', runId: 'streamed', at, run: { repo: 'web', status: 'succeeded' }, redactions: 0 },
      { type: 'step', eventId: 's', runId: 'streamed', redactions: 0, costNanos: 250_000_000, step: { stepId: 's1', kind: 'llm', name: 'chat', startedAt: at, status: 'ok', model: 'gpt-5' } },
    ] as PricedEvent[]);
    const item = encodeRun(tenant.tenantId, { state, ver: 1, ttl: 0, ev: EventHashes.none, chunks: [], inline: [], pages: [], retentionDays: 3650 });
    const record = lambdaRecord(
      {
        eventID: `bundle-${Date.now()}`,
        eventName: 'INSERT',
        dynamodb: { ApproximateCreationDateTime: new Date(), Keys: marshall({ pk: item.pk, sk: item.sk }), NewImage: marshall(item), SequenceNumber: '1', StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
      'arn:aws:dynamodb:us-east-1:000000000000:table/lidless-runs/stream/bundle',
    );

    await aggregate({ Records: [record] });
    await aggregate({ Records: [record] });

    const input = encodeURIComponent(JSON.stringify({ tenantId: tenant.tenantId, from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z', groupBy: 'repo' }));
    const rollup = data(await api(event('GET', '/trpc/costs.rollup', undefined, key, `input=${input}`)));
    expect(rollup.rows).toEqual([expect.objectContaining({ key: 'web', runs: 1, costUsd: 0.25 })]);
  });

  it('answers 401 from the bundled ingest for an unknown key', async () => {
    const res = await ingest(event('POST', '/v1/ingest', { events: [] }, 'ldl_nosuchkey_0123456789abcdefghijklmnop'));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body as string).error).toMatch(/unknown|revoked/);
  });
});
