import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, newTenant, operator, stackInfo } from '../helpers/stack.ts';
import { kv, nanos, str } from '../fixtures/otlp-json.ts';
import { rawKeys, tenantItems } from '../fixtures/stored.ts';
import { decodePartialSuccess, decodeStatus, protobufLogs } from '../fixtures/otlp-protobuf.ts';

/**
 * Malformed and hostile bodies get a 4xx with a readable message, never a 5xx, and store nothing: the
 * tenant has no runs, no raw objects and no items afterwards. OTLP failures answer with a `Status` in
 * the request's encoding; per-event problems of a native batch answer 207 naming the field.
 */

type Tenant = Awaited<ReturnType<typeof newTenant>>;

interface Sent {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  bytes: Buffer;
  json?: { error?: string; accepted?: number; duplicates?: number; rejected?: { index: number; id?: string; error: string }[]; code?: number; message?: string };
}

async function send(path: string, body: Buffer | string, headers: Record<string, string | undefined>, method = 'POST'): Promise<Sent> {
  const res = await fetch(`${stackInfo().url}${path}`, {
    method,
    headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)),
    body: method === 'GET' ? undefined : body,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: Sent['json'];
  if (res.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(bytes.toString('utf8')) as Sent['json'];
  return { status: res.status, contentType: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), bytes, json };
}

/** A readable message: a sentence for a person, no stack trace or internal error names. */
function expectReadable(message: string | undefined): void {
  expect(message).toEqual(expect.any(String));
  expect(message!.length).toBeGreaterThan(5);
  expect(message).not.toMatch(/\n\s+at |TypeError|RangeError|ReferenceError|undefined is not|Cannot read prop/);
}

const at = new Date(Date.now() - 60_000).toISOString();
const goodLog = { type: 'log', id: 'ok', runId: 'r', timestamp: at, level: 'info', message: 'hello' };
const goodStep = { type: 'step', id: 's', runId: 'r', stepId: 'st', kind: 'llm', name: 'chat', startedAt: at };
/** The id a rejection echoes: the event's own, when it is a string of a plausible length. */
const idOf = (event: unknown) => {
  const id = (event as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length <= 128 ? { id } : {};
};
const nest = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

/** A protobuf ExportLogsServiceRequest whose one attribute nests `levels` AnyValue arrays, built inside out. */
function deepProtobufLogs(levels: number): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  // each prefix is (tag, length of everything inside it); written outermost first
  const prefixes: number[][] = [];
  let inner = 0;
  const wrap = (field: number, extra: number[] = []) => {
    const len = inner + extra.length;
    prefixes.push([...extra.reverse(), ...varint(len).reverse(), (field << 3) | 2]);
    inner = len + varint(len).length + 1;
  };
  for (let i = 0; i < levels; i++) {
    wrap(1); // ArrayValue.values = AnyValue
    wrap(5); // AnyValue.array_value = ArrayValue
  }
  // KeyValue { key = 1 "k", value = 2 AnyValue }
  wrap(2);
  const key = [0x0a, 1, 0x6b];
  prefixes.push([...key].reverse());
  inner += key.length;
  wrap(6); // LogRecord.attributes
  const time = [0x09, ...Buffer.from(new BigUint64Array([BigInt(Date.now()) * 1_000_000n]).buffer)];
  prefixes.push([...time].reverse());
  inner += time.length;
  wrap(2); // ScopeLogs.log_records
  wrap(2); // ResourceLogs.scope_logs
  wrap(1); // ExportLogsServiceRequest.resource_logs
  return Buffer.from(prefixes.flat().reverse());
}

describe('hostile bodies on /v1/ingest', () => {
  let t: Tenant;
  let json: (body: string | Buffer, extra?: Record<string, string | undefined>) => Promise<Sent>;
  beforeAll(async () => {
    t = await newTenant('hostile');
    json = (body, extra = {}) => send('/v1/ingest', body, { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', ...extra });
  });

  // whole-body failures: nothing of the body is read as events
  const bodies: { name: string; body: () => string | Buffer; headers?: Record<string, string | undefined>; status: number; error: RegExp }[] = [
    { name: 'not JSON', body: () => '{"events": [', status: 400, error: /not valid JSON/ },
    { name: 'an empty body', body: () => '', status: 400, error: /not valid JSON/ },
    { name: 'a JSON array', body: () => '[]', status: 400, error: /JSON object/ },
    { name: 'JSON null', body: () => 'null', status: 400, error: /JSON object/ },
    { name: 'a JSON string', body: () => '"events"', status: 400, error: /JSON object/ },
    { name: '{}', body: () => '{}', status: 400, error: /^events: must be an array/ },
    { name: 'events as an object', body: () => '{"events":{"0":{}}}', status: 400, error: /^events: must be an array/ },
    { name: 'events as a string', body: () => '{"events":"[]"}', status: 400, error: /^events: must be an array/ },
    { name: 'an unknown top-level field', body: () => JSON.stringify({ events: [goodLog], evnets: [] }), status: 400, error: /unknown field "evnets"/ },
    { name: '1001 events', body: () => JSON.stringify({ events: Array.from({ length: 1001 }, (_, i) => ({ ...goodLog, id: `e${i}` })) }), status: 413, error: /1001.*at most 1000/ },
    { name: 'a body over 5 MB', body: () => `{"events":[${JSON.stringify(goodLog)}]}${' '.repeat(5 * 1024 * 1024)}`, status: 413, error: /limit is 5242880/ },
    { name: 'a body over 6 MB', body: () => `{"events":[]}${' '.repeat(6 * 1024 * 1024 + 10)}`, status: 413, error: /larger than/ },
    { name: 'bad gzip', body: () => JSON.stringify({ events: [goodLog] }), headers: { 'content-encoding': 'gzip' }, status: 400, error: /not valid gzip/ },
    { name: 'a truncated gzip', body: () => gzipSync(JSON.stringify({ events: [goodLog] })).subarray(0, 20), headers: { 'content-encoding': 'gzip' }, status: 400, error: /not valid gzip/ },
    { name: 'an unknown content encoding', body: () => JSON.stringify({ events: [goodLog] }), headers: { 'content-encoding': 'br' }, status: 415, error: /Content-Encoding br/ },
    { name: 'text/plain', body: () => JSON.stringify({ events: [goodLog] }), headers: { 'content-type': 'text/plain' }, status: 415, error: /text\/plain is not supported; use application\/json/ },
    { name: 'protobuf on the native endpoint', body: () => JSON.stringify({ events: [goodLog] }), headers: { 'content-type': 'application/x-protobuf' }, status: 415, error: /use application\/json/ },
    // a Buffer, so that fetch does not add a text/plain type of its own
    { name: 'no content type', body: () => Buffer.from(JSON.stringify({ events: [goodLog] })), headers: { 'content-type': undefined }, status: 415, error: /\(none\)/ },
  ];

  it('rejects an event nested past the bound on its own (207), and takes the rest of the batch', async () => {
    // Act: 100000 levels in an attribute, and 200000 in a step's input, gzipped
    const deepLog = `{"type":"log","id":"deep","runId":"r","timestamp":"${at}","level":"info","message":"m","attributes":{"deep":${nest(100_000)}}}`;
    const deepStep = JSON.stringify({ ...goodStep, id: 'deep-step', input: '$' }).replace('"$"', nest(200_000));
    // a tenant of its own: the rest of this group checks that its tenant stored nothing
    const own = await newTenant('hostile-deep');
    const res = await send('/v1/ingest', gzipSync(`{"events":[${deepLog},${JSON.stringify({ ...goodLog, id: 'fine' })},${deepStep}]}`), {
      authorization: `Bearer ${own.key}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });

    // Assess
    expect(res.status).toBe(207);
    expect(res.json).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [0, 2].map((index) => ({ index, error: 'event nests deeper than 126 levels of objects and arrays' })),
    });
  });

  for (const c of bodies) {
    it(`answers ${c.status} to ${c.name}, with a readable message`, async () => {
      // Act
      const res = await json(c.body(), c.headers);

      // Assess
      expect(res.status).toBe(c.status);
      expect(res.contentType).toBe('application/json');
      expectReadable(res.json?.error);
      expect(res.json?.error).toMatch(c.error);
    });
  }

  it('stops a gzip bomb at 5 MB with 413, quickly', async () => {
    // Prepare: 100 MB of spaces after a valid start, in a gzip of about 100 KB
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"events":[]'), Buffer.alloc(100 * 1024 * 1024, 0x20), Buffer.from('}')]));
    expect(bomb.length).toBeLessThan(200 * 1024);
    const started = Date.now();

    // Act
    const res = await json(bomb, { 'content-encoding': 'gzip' });

    // Assess
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(413);
    expect(res.json?.error).toMatch(/inflates to more than 5242880 bytes/);
  });

  // per-event failures: the batch is read, each bad event is rejected on its own, naming its field
  const events: { name: string; event: unknown; error: RegExp }[] = [
    { name: 'an unknown event field', event: { ...goodLog, mesage: 'typo' }, error: /^mesage: unknown field$/ },
    { name: 'an unknown field in usage', event: { ...goodStep, usage: { inputTokens: 1, promptTokens: 2 } }, error: /^usage\.promptTokens: unknown field$/ },
    { name: 'an unknown type', event: { ...goodLog, type: 'span' }, error: /^type: must be one of run, step, log, assertion$/ },
    { name: 'no type', event: { id: 'x', runId: 'r' }, error: /^type: must be one of run, step, log, assertion$/ },
    { name: 'a type named after an object key', event: { ...goodLog, type: 'toString' }, error: /^type: must be one of run, step, log, assertion$/ },
    { name: 'a type of __proto__', event: { ...goodLog, type: '__proto__' }, error: /^type: must be one of run, step, log, assertion$/ },
    { name: 'a type that is not a string', event: { ...goodLog, type: ['log'] }, error: /^type: must be one of run, step, log, assertion$/ },
    { name: 'an event that is an array', event: [goodLog], error: /^event: .*expected object, received array$/ },
    { name: 'an event that is not an object', event: 'log: hello', error: /^event: .*expected object/ },
    { name: 'a null event', event: null, error: /^event: .*expected object/ },
    { name: 'a timestamp in words', event: { ...goodLog, timestamp: 'yesterday' }, error: /^timestamp: must be an ISO-8601 string or epoch milliseconds/ },
    { name: 'an impossible date', event: { ...goodLog, timestamp: '2026-02-31T25:61:00Z' }, error: /^timestamp: / },
    { name: 'epoch seconds (1970)', event: { ...goodLog, timestamp: 1_763_000_000 }, error: /^timestamp: .*between 2000 and 2200/ },
    { name: 'a timestamp in year 275760', event: { ...goodLog, timestamp: 8.64e15 }, error: /^timestamp: / },
    { name: 'a boolean timestamp', event: { ...goodLog, timestamp: true }, error: /^timestamp: / },
    { name: 'a bad endedAt', event: { ...goodStep, endedAt: 'soon' }, error: /^endedAt: / },
    { name: 'negative tokens', event: { ...goodStep, usage: { inputTokens: -5 } }, error: /^usage\.inputTokens: must be a non-negative integer$/ },
    { name: 'non-integer tokens', event: { ...goodStep, usage: { outputTokens: 1.5 } }, error: /^usage\.outputTokens: must be a non-negative integer$/ },
    { name: 'tokens as a string', event: { ...goodStep, usage: { cacheReadTokens: '100' } }, error: /^usage\.cacheReadTokens: / },
    { name: 'absurd tokens', event: { ...goodStep, usage: { cacheWriteTokens: 1e300 } }, error: /^usage\.cacheWriteTokens: / },
    { name: 'a "NaN" cost', event: { ...goodStep, costUsd: 'NaN' }, error: /^costUsd: / },
    { name: 'an "Infinity" cost', event: { ...goodStep, costUsd: 'Infinity' }, error: /^costUsd: / },
    { name: 'a cost as a numeric string', event: { ...goodStep, costUsd: '0.01' }, error: /^costUsd: / },
    { name: 'a cost of 1e999 (Infinity once parsed)', event: { ...goodStep, costUsd: '$' }, error: /^costUsd: / },
    { name: 'a negative cost', event: { ...goodStep, costUsd: -0.01 }, error: /^costUsd: must be >= 0$/ },
    { name: 'an id of 129 characters', event: { ...goodLog, id: 'x'.repeat(129) }, error: /^id: must be 1 to 128 characters$/ },
    { name: 'an empty id', event: { ...goodLog, id: '' }, error: /^id: must be 1 to 128 characters$/ },
    { name: 'a runId of 129 characters', event: { ...goodLog, runId: 'r'.repeat(129) }, error: /^runId: must be 1 to 128 characters$/ },
    { name: 'a stepId of 129 characters', event: { ...goodStep, stepId: 's'.repeat(129) }, error: /^stepId: must be 1 to 128 characters$/ },
    { name: 'an id with a NUL byte', event: { ...goodLog, id: 'a\u0000b' }, error: /^id: must be printable characters$/ },
    { name: 'a runId with a newline', event: { ...goodLog, runId: 'run\nforged log line' }, error: /^runId: must be printable characters$/ },
    { name: 'a stepId with escape codes', event: { ...goodStep, stepId: '\u001b[31mred' }, error: /^stepId: must be printable characters$/ },
    { name: 'a parentStepId with a tab', event: { ...goodStep, parentStepId: 'a\tb' }, error: /^parentStepId: must be printable characters$/ },
    { name: 'a numeric id', event: { ...goodLog, id: 42 }, error: /^id: / },
    { name: 'an unknown step kind', event: { ...goodStep, kind: 'llm_call' }, error: /^kind: / },
    { name: 'an unknown log level', event: { ...goodLog, level: 'fatal' }, error: /^level: / },
    { name: 'an unknown run status', event: { type: 'run', id: 'run', runId: 'r', timestamp: at, status: 'done' }, error: /^status: / },
    { name: 'a step without startedAt', event: { ...goodStep, startedAt: undefined }, error: /^startedAt: / },
    { name: 'an assertion with passed as a string', event: { type: 'assertion', id: 'a', runId: 'r', timestamp: at, name: 't', passed: 'true' }, error: /^passed: / },
    { name: 'attributes as an array', event: { ...goodLog, attributes: ['a'] }, error: /^attributes: / },
    { name: 'an attribute key of 300 characters', event: { ...goodLog, attributes: { ['k'.repeat(300)]: 1 } }, error: /^attributes/ },
    { name: 'a 70 KB log message', event: { ...goodLog, message: 'm'.repeat(70_000) }, error: /^message: / },
    { name: 'run attributes of 500 KB', event: { type: 'run', id: 'fat', runId: 'r', timestamp: at, attributes: { blob: 'x'.repeat(500_000) } }, error: /^attributes: must be at most 16384 characters as JSON/ },
    { name: 'a model name of 257 characters', event: { ...goodStep, model: 'm'.repeat(257) }, error: /^model: / },
    { name: 'a repo of 1025 characters', event: { type: 'run', id: 'repo', runId: 'r', timestamp: at, repo: 'r'.repeat(1025) }, error: /^repo: / },
  ];

  for (const c of events) {
    it(`rejects ${c.name} with 207 naming the field`, async () => {
      // Prepare
      const body = JSON.stringify({ events: [c.event] }).replace('"$"', '1e999');

      // Act
      const res = await json(body);

      // Assess: 207 even when everything was rejected
      expect(res.status).toBe(207);
      expect(res.json).toEqual({ accepted: 0, duplicates: 0, rejected: [{ index: 0, ...idOf(c.event), error: expect.stringMatching(c.error) }] });
      expectReadable(res.json!.rejected![0]!.error);
    });
  }

  it('answers one batch of all the bad events with one rejection each, in order, and a valid event beside them is kept', async () => {
    // Prepare: a separate tenant, as this batch stores its one good event
    const other = await newTenant('hostile-mixed');
    const batch = [...events.map((c) => c.event), { ...goodLog, id: 'the-good-one', runId: 'kept' }];

    // Act
    const res = await send('/v1/ingest', JSON.stringify({ events: batch }).replace('"$"', '1e999'), { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' });

    // Assess
    expect(res.status).toBe(207);
    expect(res.json?.accepted).toBe(1);
    expect(res.json?.rejected?.map((r) => r.index)).toEqual(events.map((_, i) => i));
    res.json?.rejected?.forEach((r, i) => expect(r.error, events[i]!.name).toMatch(events[i]!.error));
    expect((await other.client.runs.list.query({ tenantId: other.tenantId })).items.map((r) => r.runId)).toEqual(['kept']);
  });

  it('answers 401 to a missing, unknown or malformed key and 403 to credentials that may not ingest', async () => {
    // Prepare
    const readOnly = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['read'] });
    const consultant = await operator().admin.consultants.create.mutate({ name: 'c', tenantIds: [t.tenantId] });
    const body = JSON.stringify({ events: [goodLog] });
    const asKey = (authorization: string | undefined, extra: Record<string, string> = {}) =>
      send('/v1/ingest', body, { authorization, 'content-type': 'application/json', ...extra });

    // Act
    const answers = {
      missing: await asKey(undefined),
      unknown: await asKey(`Bearer ldl_${'x'.repeat(40)}`),
      garbage: await asKey('Bearer not-a-key-at-all'),
      basic: await asKey(`Basic ${Buffer.from('user:pass').toString('base64')}`),
      emptyBearer: await asKey('Bearer '),
      unknownApiKey: await asKey(undefined, { 'x-api-key': 'ldl_nope' }),
      readOnly: await asKey(`Bearer ${readOnly.key}`),
      operator: await asKey(`Bearer ${stackInfo().operatorToken}`),
      consultant: await asKey(`Bearer ${consultant.token}`),
    };

    // Assess
    for (const [name, res] of Object.entries(answers)) {
      expect(res.status, name).toBe(['readOnly', 'operator', 'consultant'].includes(name) ? 403 : 401);
      expectReadable(res.json?.error);
    }
    expect(answers.missing.json?.error).toMatch(/Authorization: Bearer/);
    expect(answers.readOnly.json?.error).toMatch(/scope "ingest"/);
  });

  it('answers 401 to a revoked key within 5 s', async () => {
    // Prepare
    const { key, keyId } = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['ingest'] });
    const body = JSON.stringify({ events: [] });
    const post = () => send('/v1/ingest', body, { authorization: `Bearer ${key}`, 'content-type': 'application/json' });
    expect((await post()).status).toBe(200);

    // Act
    await operator().admin.keys.revoke.mutate({ keyId });
    const revokedAt = Date.now();
    let res = await post();
    while (res.status !== 401 && Date.now() - revokedAt < 5_000) {
      await new Promise((r) => setTimeout(r, 100));
      res = await post();
    }

    // Assess
    expect(res.status).toBe(401);
    expect(res.json?.error).toMatch(/unknown or revoked/);
  });

  it('answers 405 to another method and 404 to an unknown path', async () => {
    // Act
    const get = await send('/v1/ingest', '', { authorization: `Bearer ${t.key}` }, 'GET');
    const elsewhere = await send('/v1/spans', '{}', { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' });

    // Assess
    expect(get.status).toBe(405);
    expectReadable(get.json?.error);
    expect(elsewhere.status).toBe(404);
    expectReadable(elsewhere.json?.error);
  });

  it('answers 405 on an OTLP path with an OTLP Status, as its other failures', async () => {
    const get = await send('/v1/traces', '', { authorization: `Bearer ${t.key}` }, 'GET');

    expect(get.status).toBe(405);
    expect(get.json).toEqual({ code: 12, message: 'use POST for /v1/traces' });
  });

  describe('on the OTLP endpoints', () => {
    const otlp = (path: string, body: string | Buffer, contentType: string | undefined, extra: Record<string, string | undefined> = {}) =>
      send(path, body, { authorization: `Bearer ${t.key}`, 'content-type': contentType, ...extra });

    /** One span (field 2 of ScopeSpans, in field 2 of ResourceSpans, in field 1 of the request) holding `n` empty attributes (field 9). */
    const lenPrefixedField = (field: number, payload: Buffer) => {
      const len: number[] = [];
      for (let v = payload.length; ; v = Math.floor(v / 128)) {
        if (v < 128) {
          len.push(v);
          break;
        }
        len.push((v % 128) | 0x80);
      }
      return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), payload]);
    };
    const emptyAttributes = (n: number): Buffer => {
      const span = Buffer.alloc(n * 2, Buffer.from([(9 << 3) | 2, 0x00]));
      return lenPrefixedField(1, lenPrefixedField(2, lenPrefixedField(2, span)));
    };
    /** `n` empty messages at the bottom of `levels` nested field-1 messages. */
    const deepEmptyMessages = (levels: number, n: number): Buffer => {
      let body = Buffer.alloc(n * 2, Buffer.from([0x0a, 0x00]));
      for (let i = 0; i < levels; i++) body = lenPrefixedField(1, body);
      return body;
    };
    const protobufCases: { name: string; path: string; body: () => Buffer; headers?: Record<string, string>; status: number; error: RegExp }[] = [
      { name: 'junk protobuf', path: '/v1/traces', body: () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]), status: 400, error: /not a valid protobuf ExportTraceServiceRequest/ },
      { name: 'JSON sent as protobuf', path: '/v1/logs', body: () => Buffer.from('{"resourceLogs":[]}'), status: 400, error: /not a valid protobuf ExportLogsServiceRequest/ },
      { name: 'a truncated message', path: '/v1/metrics', body: () => Buffer.from([0x0a, 0x50, 0x0a, 0x02]), status: 400, error: /not a valid protobuf ExportMetricsServiceRequest/ },
      { name: 'AnyValues nested 100000 deep', path: '/v1/logs', body: () => deepProtobufLogs(100_000), status: 400, error: /nests deeper|not a valid protobuf/ },
      { name: 'AnyValues nested 200 deep', path: '/v1/logs', body: () => deepProtobufLogs(200), status: 400, error: /nests deeper than \d+ levels/ },
      { name: 'a body over 5 MB', path: '/v1/traces', body: () => Buffer.alloc(5 * 1024 * 1024 + 1), status: 413, error: /limit is 5242880/ },
      { name: 'a gzip bomb', path: '/v1/logs', body: () => gzipSync(Buffer.alloc(50 * 1024 * 1024)), headers: { 'content-encoding': 'gzip' }, status: 413, error: /inflates to more than/ },
      { name: 'bad gzip', path: '/v1/traces', body: () => Buffer.from([1, 2, 3]), headers: { 'content-encoding': 'gzip' }, status: 400, error: /not valid gzip/ },
      // 5 KB gzipped, 5 MB of empty messages: decoded, over 600 MB
      { name: 'a gzip bomb of empty resources', path: '/v1/traces', body: () => gzipSync(Buffer.alloc(5_000_000, Buffer.from([0x0a, 0x00]))), headers: { 'content-encoding': 'gzip' }, status: 413, error: /more than 600000 protobuf messages/ },
      { name: 'a span of empty attributes', path: '/v1/traces', body: () => emptyAttributes(1_000_000), status: 413, error: /more than 600000 protobuf messages/ },
      { name: 'empty messages nested past the depth counted', path: '/v1/traces', body: () => deepEmptyMessages(20, 1_000_000), status: 413, error: /more than 600000 protobuf messages/ },
    ];

    for (const c of protobufCases) {
      it(`answers ${c.status} with a protobuf Status to ${c.name}`, async () => {
        // Act
        const res = await otlp(c.path, c.body(), 'application/x-protobuf', c.headers);

        // Assess
        expect(res.status).toBe(c.status);
        expect(res.contentType).toBe('application/x-protobuf');
        const status = decodeStatus(res.bytes);
        expect(status.code).toBe(3); // INVALID_ARGUMENT
        expectReadable(status.message);
        expect(status.message).toMatch(c.error);
      });
    }

    const deepKvlist = (levels: number): unknown => {
      let value: unknown = { stringValue: 'bottom' };
      for (let i = 0; i < levels; i++) value = { kvlistValue: { values: [{ key: 'k', value }] } };
      return value;
    };
    const jsonCases: { name: string; path: string; body: () => string; status: number; error: RegExp }[] = [
      { name: 'not JSON', path: '/v1/traces', body: () => '{"resourceSpans": [', status: 400, error: /not valid JSON/ },
      { name: 'a JSON array', path: '/v1/logs', body: () => '[{"resourceLogs":[]}]', status: 400, error: /JSON object/ },
      { name: 'resourceSpans as an object', path: '/v1/traces', body: () => '{"resourceSpans":{"spans":[]}}', status: 400, error: /^resourceSpans must be an array$/ },
      { name: 'a resource that is a number', path: '/v1/logs', body: () => '{"resourceLogs":[7]}', status: 400, error: /resourceLogs\[0\] must be an object/ },
      { name: 'scopeLogs as a string', path: '/v1/logs', body: () => '{"resourceLogs":[{"scopeLogs":"all"}]}', status: 400, error: /resourceLogs\[0\]\.scopeLogs must be an array/ },
      { name: 'logRecords as an object', path: '/v1/logs', body: () => '{"resourceLogs":[{"scopeLogs":[{"logRecords":{}}]}]}', status: 400, error: /logRecords must be an array/ },
      { name: 'metrics as a number', path: '/v1/metrics', body: () => '{"resourceMetrics":[{"scopeMetrics":[{"metrics":1}]}]}', status: 400, error: /metrics must be an array/ },
      { name: 'a million empty spans', path: '/v1/traces', body: () => `{"resourceSpans":[{"scopeSpans":[{"spans":[${'{},'.repeat(999_999)}{}]}]}]}`, status: 413, error: /more than 200000 items/ },
      { name: 'a million empty data points', path: '/v1/metrics', body: () => `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[${'{},'.repeat(999_999)}{}]}}]}]}]}`, status: 413, error: /more than 200000 items/ },
      {
        name: 'kvlist attributes nested 100000 deep',
        path: '/v1/logs',
        body: () => `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"${nanos(Date.now())}","attributes":[{"key":"deep","value":${'{"arrayValue":{"values":['.repeat(100_000)}${']}}'.repeat(100_000)}}]}]}]}]}`,
        status: 400,
        error: /nests deeper than \d+ levels/,
      },
      {
        name: 'kvlist attributes nested 40 deep',
        path: '/v1/traces',
        body: () => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', startTimeUnixNano: nanos(Date.now()), endTimeUnixNano: nanos(Date.now()), attributes: [{ key: 'deep', value: deepKvlist(40) }] }] }] }] }),
        status: 400,
        error: /nests deeper than \d+ levels/,
      },
    ];

    for (const c of jsonCases) {
      it(`answers ${c.status} with a JSON Status to ${c.name}`, async () => {
        // Act
        const res = await otlp(c.path, c.body(), 'application/json');

        // Assess
        expect(res.status).toBe(c.status);
        expect(res.contentType).toBe('application/json');
        expect(res.json).toEqual({ code: 3, message: expect.stringMatching(c.error) });
        expectReadable(res.json?.message);
      });
    }

    it('answers 415 with a JSON Status to another content type', async () => {
      // Act
      const res = await otlp('/v1/traces', '{}', 'text/plain');

      // Assess
      expect(res.status).toBe(415);
      expect(res.json).toEqual({ code: 3, message: expect.stringMatching(/use application\/json or application\/x-protobuf/) });
    });

    it('answers 401 and 403 with a Status in the request encoding', async () => {
      // Prepare
      const readOnly = await operator().admin.keys.create.mutate({ tenantId: t.tenantId, scopes: ['read'] });

      // Act
      const missing = await send('/v1/logs', Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
      const forbidden = await send('/v1/traces', '{}', { authorization: `Bearer ${readOnly.key}`, 'content-type': 'application/json' });

      // Assess
      expect(missing.status).toBe(401);
      expect(missing.contentType).toBe('application/x-protobuf');
      expect(decodeStatus(missing.bytes)).toEqual({ code: 16, message: expect.stringMatching(/missing credentials/) });
      expect(forbidden.status).toBe(403);
      expect(forbidden.json).toEqual({ code: 7, message: expect.stringMatching(/scope "ingest"/) });
    });

    it('answers 200 with partialSuccess counting spans and records it could not read, and stores none of them', async () => {
      // Prepare
      const badSpans = {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  { traceId: 'not-hex', spanId: 'b7ad6b7169203331', startTimeUnixNano: nanos(Date.now()), endTimeUnixNano: nanos(Date.now()) },
                  { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', startTimeUnixNano: 'yesterday', endTimeUnixNano: nanos(Date.now()) },
                  { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', startTimeUnixNano: nanos(Date.now()), endTimeUnixNano: nanos(Date.now() - 60_000) },
                  'a span',
                  { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', startTimeUnixNano: nanos(Date.now()), endTimeUnixNano: nanos(Date.now()), attributes: kv({ 'gen_ai.request.model': str('m'.repeat(70_000)) }) },
                ],
              },
            ],
          },
        ],
      };
      const badLogs = {
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  { attributes: kv({ 'session.id': str('s') }) },
                  { timeUnixNano: nanos(Date.now()), attributes: kv({ 'event.name': str('api_request') }) },
                  { timeUnixNano: nanos(Date.now()), attributes: kv({ 'session.id': str('x'.repeat(200)) }) },
                ],
              },
            ],
          },
        ],
      };

      // Act
      const spans = await otlp('/v1/traces', JSON.stringify(badSpans), 'application/json');
      const logs = await otlp('/v1/logs', JSON.stringify(badLogs), 'application/json');

      // Assess
      expect(spans.status).toBe(200);
      expect(spans.json).toEqual({ partialSuccess: { rejectedSpans: 5, errorMessage: expect.stringMatching(/span 0: traceId must be 16 bytes as hex or base64/) } });
      expect(logs.status).toBe(200);
      expect(logs.json).toEqual({ partialSuccess: { rejectedLogRecords: 3, errorMessage: expect.stringMatching(/log record 0: missing timeUnixNano and observedTimeUnixNano/) } });
    });

    it('answers 200 with partialSuccess in protobuf when records of a protobuf export cannot be read', async () => {
      // Prepare: a record without any time, and one without a run identity
      const body = protobufLogs({ 'service.name': 'claude-code' }, [
        { body: 'claude_code.api_request', attributes: { 'session.id': 's', 'event.name': 'api_request' } },
        { timeMs: Date.now(), body: 'claude_code.api_request', attributes: { 'event.name': 'api_request' } },
      ]);

      // Act
      const res = await otlp('/v1/logs', body, 'application/x-protobuf');

      // Assess
      expect(res.status).toBe(200);
      expect(res.contentType).toBe('application/x-protobuf');
      expect(decodePartialSuccess(res.bytes)).toEqual({ rejected: 2, errorMessage: expect.stringMatching(/log record 0: missing timeUnixNano and observedTimeUnixNano; log record 1: no run identity/) });
    });

    it('answers a valid empty export with an empty Export*ServiceResponse in both encodings', async () => {
      // Act
      const jsonAnswer = await otlp('/v1/metrics', '{}', 'application/json');
      const protobufAnswer = await otlp('/v1/traces', Buffer.alloc(0), 'application/x-protobuf');

      // Assess
      expect(jsonAnswer).toMatchObject({ status: 200, contentType: 'application/json', json: {} });
      expect(protobufAnswer).toMatchObject({ status: 200, contentType: 'application/x-protobuf' });
      expect(protobufAnswer.bytes.length).toBe(0);
    });
  });

  it('stores long values that are within the limits, and finds them again, never answering 503', async () => {
    // Prepare: the longest repo the contract allows, in three-byte characters; run attributes added up by many events
    const other = await newTenant('hostile-long');
    const repo = '€'.repeat(1024);
    const events = [
      { type: 'run', id: 'long-repo', runId: 'long', timestamp: at, repo, branch: 'b'.repeat(1024), agent: 'a'.repeat(1024), traceId: 'f'.repeat(128) },
      ...Array.from({ length: 30 }, (_, i) => ({ type: 'run', id: `attrs-${i}`, runId: 'long', timestamp: at, attributes: { [`k${i}`]: 'v'.repeat(15_000) } })),
      { ...goodStep, id: 'long-model', runId: 'long', model: 'm'.repeat(256), usage: { inputTokens: 7 } },
    ];

    // Act
    const res = await send('/v1/ingest', JSON.stringify({ events }), { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' });

    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: events.length, rejected: [] });
    const listed = await other.client.runs.list.query({ tenantId: other.tenantId, repo });
    expect(listed.items.map((r) => r.runId)).toEqual(['long']);
    expect((await other.client.runs.list.query({ tenantId: other.tenantId, repo: '€'.repeat(1023) })).items).toEqual([]);
    const { run } = await other.client.runs.get.query({ tenantId: other.tenantId, runId: 'long' });
    expect(run).toMatchObject({ repo, inputTokens: 7, models: ['m'.repeat(256)] });
    expect(JSON.stringify(run.attributes).length).toBeLessThanOrEqual(65_536);
  });

  it('none of it stored anything: no runs, no raw objects, no items of the tenant', async () => {
    // Act / Assess (runs after the corpus above: tests of a file run in order)
    const reader = api(t.key);
    expect((await reader.runs.list.query({ tenantId: t.tenantId, limit: 500 })).items).toEqual([]);
    expect(await rawKeys(t.tenantId)).toEqual([]);
    expect(await tenantItems(t.tenantId)).toEqual([]);
  });
});
