import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamo, type RunningDynamo } from './dynamodb.ts';
import { startS3, type RunningS3 } from './s3.ts';
import { freePort } from './ports.ts';
import { provisionBucket, provisionTables } from './provision.ts';
import { toEvent, writeResult } from './gateway.ts';
import { LocalDeliveryQueue } from './queue.ts';
import { StreamPoller } from './streams.ts';
import { sweepRawObjects } from './sweeper.ts';
import { parseConfig } from '../shared/config.ts';
import { tableName } from '../shared/tables.ts';
import { constantTimeEqual } from '../shared/auth/secrets.ts';

/**
 * The whole backend on one machine: DynamoDB Local and an S3 server as child parts, the same Lambda
 * handlers behind one HTTP server, the delivery queue, the runs table's stream and the schedules fired
 * in-process.
 */
export interface StackOptions {
  port: number;
  host: string;
  dataDir: string;
  operatorToken?: string;
  /** environment for the handlers (e.g. LIDLESS_WEBHOOK_BASE_DELAY_MS) */
  env?: Record<string, string>;
  /** run the windowed-alert evaluator every this many ms (60 s like AWS); 0 turns the schedule off */
  evaluateEveryMs?: number;
  /**
   * fold the runs table's stream into the day cells in this process (default true); a process that
   * runs the handlers itself (the benchmark) runs its own StreamPoller instead
   */
  streams?: boolean;
  log?: (line: string) => void;
}

/** Where a running stack's parts are: what another process needs to run the handlers against it. */
export interface StackEndpoints {
  url: string;
  operatorToken: string;
  dynamoEndpoint: string;
  s3Endpoint: string;
  tablePrefix: string;
  bucket: string;
}

/** The endpoints alone (plain data, to send to another process). */
export function endpointsOf(s: StackEndpoints): StackEndpoints {
  return { url: s.url, operatorToken: s.operatorToken, dynamoEndpoint: s.dynamoEndpoint, s3Endpoint: s.s3Endpoint, tablePrefix: s.tablePrefix, bucket: s.bucket };
}

export interface RunningStack extends StackEndpoints {
  operatorTokenFile?: string;
  /** runs the scheduled evaluator once, now (tests and the CLI use it instead of waiting a minute) */
  evaluateNow(): Promise<void>;
  /** resolves once every run change written so far is in the day cells (rollups lag ingest by the stream) */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

const TABLE_PREFIX = 'lidless';
const BUCKET = 'lidless-raw';
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

function operatorToken(dataDir: string, given: string | undefined): { token: string; file?: string; created: boolean } {
  if (given) return { token: given, created: false };
  const file = join(dataDir, 'operator-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file, created: false };
  const token = `ldo_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, created: true };
}

function streamPollMs(env: Record<string, string | undefined>): number {
  const raw = env.LIDLESS_STREAM_POLL_MS ?? '100';
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < 1 || ms > 60_000) throw new Error(`invalid environment variable LIDLESS_STREAM_POLL_MS: expected 1 to 60000 ms, got "${raw}"`);
  return ms;
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolvePromise(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const log = opts.log ?? (() => undefined);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const op = operatorToken(dataDir, opts.operatorToken);
  // a malformed setting is reported at once, not after the JVM has taken its time to start
  parseConfig({ ...process.env, LIDLESS_OPERATOR_TOKEN: op.token, ...(opts.env ?? {}) });
  const pollMs = streamPollMs({ ...process.env, ...(opts.env ?? {}) });

  const [dynamoPort, s3Port] = [await freePort(), await freePort()];
  // both are awaited before deciding, so a part that did start is stopped when the other failed
  const [dynamoStart, s3Start] = await Promise.allSettled([startDynamo(join(dataDir, 'dynamodb'), dynamoPort), startS3(join(dataDir, 's3'), s3Port)]);
  if (dynamoStart.status === 'rejected' || s3Start.status === 'rejected') {
    await Promise.allSettled([dynamoStart, s3Start].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw dynamoStart.status === 'rejected' ? dynamoStart.reason : (s3Start as PromiseRejectedResult).reason;
  }
  const dynamo: RunningDynamo = dynamoStart.value;
  const s3server: RunningS3 = s3Start.value;

  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    // the S3 server only accepts its own fixed dummy credentials; DynamoDB Local (-sharedDb) takes any
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    LIDLESS_TABLE_PREFIX: TABLE_PREFIX,
    LIDLESS_RAW_BUCKET: BUCKET,
    LIDLESS_OPERATOR_TOKEN: op.token,
    LIDLESS_LOCAL_MODE: '1',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    ...(opts.env ?? {}),
  });

  // the handlers read the environment on first use, so they are loaded after it is set
  const [{ stores, resetStores }, { resetConfig }, runtime, ingestFn, apiFn, dispatchFn, evaluateFn, aggregateFn, { ControlTable }] = await Promise.all([
    import('../shared/store/clients.ts'),
    import('../shared/config.ts'),
    import('../shared/runtime.ts'),
    import('../functions/ingest.ts'),
    import('../functions/api.ts'),
    import('../functions/dispatch.ts'),
    import('../functions/evaluate.ts'),
    import('../functions/aggregate.ts'),
    import('../shared/store/control-table.ts'),
  ]);
  resetConfig();
  resetStores();
  runtime.resetRuntime();
  const queue = new LocalDeliveryQueue(async () => dispatchFn.handler);
  runtime.useDeliveryQueue(queue);

  const ddbAdmin = new DynamoDBClient({});
  await provisionTables(ddbAdmin, TABLE_PREFIX);
  ddbAdmin.destroy();
  await provisionBucket(stores().s3, BUCKET);

  // what Lambda's event source mapping does in AWS: the runs table's changes, in order, to the aggregator
  let poller: StreamPoller | undefined;
  if (opts.streams ?? true) {
    poller = new StreamPoller({
      endpoint: dynamo.endpoint,
      tableName: tableName(TABLE_PREFIX, 'runs'),
      handler: aggregateFn.handler,
      checkpointFile: join(dataDir, 'streams.json'),
      pollMs,
      log,
    });
    await poller.start();
  }
  const settle = async () => {
    if (!poller) throw new Error('this stack runs no stream poller');
    await poller.drain();
  };

  let ready = false;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ready ? { ok: true } : { ok: false }));
      return;
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: `body is larger than ${MAX_REQUEST_BYTES} bytes` }));
      return;
    }
    if (path === '/_local/evaluate' && req.method === 'POST') {
      // local only: run the scheduled evaluator now, optionally as if at another time (tests, demos)
      if (!byOperator(req, res, op.token)) return;
      const at = localEvaluationTime(body);
      if (at === undefined) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'body must be empty or {"now": "<ISO-8601 time>"}' }));
        return;
      }
      const sent = await runtime.runEvaluation(at);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sent }));
      return;
    }
    if (path === '/_local/settle' && req.method === 'POST' && poller) {
      // local only: wait until the day cells hold every run change written so far (tests, the CLI)
      if (!byOperator(req, res, op.token)) return;
      await settle();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ settled: true }));
      return;
    }
    if (path.startsWith('/v1/')) {
      const result = await ingestFn.handler(toEvent(req, body, 'ANY /v1/{proxy+}'));
      // locally an ingest answer waits for the stream (a poll, ~0.1 s), so every query, rollups
      // included, sees what was answered 2xx, as the contract's consistency section says; in AWS the
      // rollups follow within the stream's batching window (README)
      if (poller && (result.statusCode ?? 200) < 300) await settle();
      writeResult(res, result);
    } else if (path.startsWith('/trpc/')) {
      writeResult(res, await apiFn.handler(toEvent(req, body, 'ANY /trpc/{proxy+}')));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `no such endpoint: ${req.method} ${path}` }));
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log(`request failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolvePromise());
  });
  const port = (server.address() as { port: number }).port;

  const evaluateNow = async () => {
    await evaluateFn.handler({ time: new Date().toISOString() } as never);
  };
  const timers: NodeJS.Timeout[] = [];
  const every = opts.evaluateEveryMs ?? 60_000;
  if (every > 0) {
    timers.push(setInterval(() => evaluateNow().catch((e) => log(`evaluator failed: ${(e as Error).message}`)), every));
  }
  const sweep = () =>
    sweepRawObjects(stores().s3, BUCKET, new ControlTable(stores()), Date.now()).catch((e) => log(`sweeper failed: ${(e as Error).message}`));
  timers.push(setInterval(sweep, 3_600_000));
  void sweep();
  // the delivery queue lives in this process: retries it had scheduled when the last one stopped are
  // pending in the alerts table, and go out now (an SQS queue would have kept them)
  void runtime.resumePendingDeliveries(Date.now()).catch((e) => log(`pending deliveries not resumed: ${(e as Error).message}`));
  ready = true;

  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    operatorToken: op.token,
    operatorTokenFile: op.file,
    dynamoEndpoint: dynamo.endpoint,
    s3Endpoint: s3server.endpoint,
    tablePrefix: TABLE_PREFIX,
    bucket: BUCKET,
    evaluateNow,
    settle,
    async stop() {
      ready = false;
      for (const t of timers) clearInterval(t);
      // stop accepting, let requests in flight finish; a keep-alive connection whose request finishes
      // later is closed as soon as it is idle, instead of holding the shutdown for the keep-alive timeout
      await new Promise<void>((r) => {
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearInterval(idle);
          r();
        });
        server.closeIdleConnections();
      });
      await queue.close();
      await poller?.close();
      await Promise.allSettled([s3server.stop(), dynamo.stop()]);
    },
  };
}

/** Whether a `/_local/*` request carries the operator token; answers 401 when it does not. */
function byOperator(req: IncomingMessage, res: ServerResponse, token: string): boolean {
  if (constantTimeEqual(req.headers.authorization ?? '', `Bearer ${token}`)) return true;
  res.writeHead(401, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'operator token required' }));
  return false;
}

/** The time `/_local/evaluate` evaluates at: now, or the body's `now`; undefined when the body is neither. */
function localEvaluationTime(body: Buffer): number | undefined {
  if (body.length === 0) return Date.now();
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { now?: unknown };
    if (parsed.now === undefined) return Date.now();
    const at = typeof parsed.now === 'string' ? Date.parse(parsed.now) : NaN;
    return Number.isFinite(at) ? at : undefined;
  } catch {
    return undefined;
  }
}
