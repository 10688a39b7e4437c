import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Meter } from './meter.ts';
import type { StackEndpoints } from '../local/stack.ts';
import { TABLES, tableName } from '../shared/tables.ts';
import { callApi, type Handler } from './apigw.ts';
import { cpuSince } from './stats.ts';

/**
 * The system under test: the embedded stack's storage (DynamoDB Local and the S3 server, in a child
 * process) and, in this process, the Lambda handlers pointed at it, as a warm Lambda would be, with a
 * meter on the AWS clients they use. Webhook deliveries go through the local in-process queue.
 */
export type StackInfo = StackEndpoints;

export interface Backend {
  info: StackInfo;
  meter: Meter;
  ingest: Handler;
  api: Handler;
  /**
   * Folds every run change written so far into the day cells: the stream's Lambda, in this process,
   * fed batches as its event source would be (full ones while records wait, the last one short).
   */
  settle(): Promise<void>;
  /** the stream handler's invocations since the last call: wall ms of each, and their CPU (µs, less the meter's) */
  takeAggregate(): { ms: number[]; cpuUs: number };
  /** creates a tenant with an ingest+read key */
  tenant(name: string, retentionDays?: number): Promise<{ tenantId: string; key: string }>;
  stop(): Promise<void>;
}

/** The environment the handlers read, pointing at a running stack (the same variables local/stack.ts sets). */
export function handlerEnv(info: StackInfo): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_DYNAMODB: info.dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: info.s3Endpoint,
    LIDLESS_TABLE_PREFIX: info.tablePrefix,
    LIDLESS_RAW_BUCKET: info.bucket,
    LIDLESS_OPERATOR_TOKEN: info.operatorToken,
    LIDLESS_LOCAL_MODE: '1',
    LIDLESS_WEBHOOK_BASE_DELAY_MS: '50',
    LIDLESS_WEBHOOK_TIMEOUT_MS: '1000',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** The stream event source's batching window and batch size in the CDK stack (infra/), mirrored here. */
export const AGGREGATE_WINDOW_MS = 60_000;
export const AGGREGATE_BATCH = 2000;

function startStackProcess(): Promise<{ info: StackInfo; stop: () => Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./stack-child.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('message', (info) =>
      resolve({
        info: info as StackInfo,
        stop: async () => {
          if (child.connected) child.send('stop');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        },
      }),
    );
    child.once('exit', (code) => reject(new Error(`the stack process exited (${code}) before it was ready`)));
  });
}

export async function startBackend(): Promise<Backend> {
  const stack = await startStackProcess();
  Object.assign(process.env, handlerEnv(stack.info));
  const [{ stores, resetStores }, { resetConfig }, runtime, ingestFn, apiFn, dispatchFn, aggregateFn, { LocalDeliveryQueue }, { StreamPoller }] = await Promise.all([
    import('../shared/store/clients.ts'),
    import('../shared/config.ts'),
    import('../shared/runtime.ts'),
    import('../functions/ingest.ts'),
    import('../functions/api.ts'),
    import('../functions/dispatch.ts'),
    import('../functions/aggregate.ts'),
    import('../local/queue.ts'),
    import('../local/streams.ts'),
  ]);
  resetConfig();
  resetStores();
  runtime.resetRuntime();
  const queue = new LocalDeliveryQueue(async () => dispatchFn.handler);
  runtime.useDeliveryQueue(queue);

  const prefix = `${stack.info.tablePrefix}-`;
  const indexKeys = Object.fromEntries(TABLES.map((t) => [t.id, t.localIndexes.map((i) => ({ name: i.name, sortKey: i.sortKey }))]));
  const meter = new Meter((t) => (t.startsWith(prefix) ? t.slice(prefix.length) : t), indexKeys);
  meter.instrumentDynamo(stores().ddb);
  meter.instrumentS3(stores().s3);

  // the stream's event source as the CDK stack configures it: batches of up to AGGREGATE_BATCH records
  // (gathered for up to AGGREGATE_WINDOW_MS, which ingest at the bench's rate fills well within), so the
  // cells' writes are amortised as they would be in AWS. It reads only while settling: its own polling
  // is the event source's work (AWS's, not billed as the function's), and the handler's CPU is measured
  // around each invocation with nothing else running.
  let aggregate = { ms: [] as number[], cpuUs: 0 };
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lidless-bench-stream-'));
  const settle = async () => {
    const poller = new StreamPoller({
      endpoint: stack.info.dynamoEndpoint,
      tableName: tableName(stack.info.tablePrefix, 'runs'),
      checkpointFile: join(checkpointDir, 'checkpoint.json'),
      batchWindowMs: AGGREGATE_WINDOW_MS,
      batchSize: AGGREGATE_BATCH,
      handler: async (event) => {
        const started = performance.now();
        const cpu0 = process.cpuUsage();
        const meter0 = meter.accountingUs();
        try {
          return await aggregateFn.handler(event);
        } finally {
          aggregate.cpuUs += cpuSince(cpu0) - (meter.accountingUs() - meter0);
          aggregate.ms.push(performance.now() - started);
        }
      },
    });
    await poller.start();
    try {
      await poller.drain();
    } finally {
      await poller.close();
    }
  };

  const api = apiFn.handler as unknown as Handler;
  return {
    info: stack.info,
    meter,
    ingest: ingestFn.handler as unknown as Handler,
    api,
    settle,
    takeAggregate() {
      const out = aggregate;
      aggregate = { ms: [], cpuUs: 0 };
      return out;
    },
    async tenant(name, retentionDays = 30) {
      const op = stack.info.operatorToken;
      const t = await callApi<{ tenantId: string }>(api, op, 'mutation', 'admin.tenants.create', { name, retentionDays });
      const k = await callApi<{ key: string }>(api, op, 'mutation', 'admin.keys.create', { tenantId: t.tenantId, scopes: ['ingest', 'read'] });
      return { tenantId: t.tenantId, key: k.key };
    },
    async stop() {
      rmSync(checkpointDir, { recursive: true, force: true });
      await queue.close();
      stores().ddb.destroy();
      stores().s3.destroy();
      await stack.stop();
    },
  };
}
