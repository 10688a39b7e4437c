import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { api, ingest, newTenant, operator, stackInfo } from '../helpers/stack.ts';
import { int } from '../fixtures/agent-exports.ts';
import { kv, nanos, str } from '../fixtures/otlp-json.ts';
import { allItems, itemJson, rawObjects } from '../fixtures/stored.ts';

/**
 * Secrets planted in every field a client can fill, through every ingest endpoint, are found neither in
 * the raw objects (read back with an S3 client and gunzipped) nor in any DynamoDB item of the stack
 * (every table scanned), and each run counts the replacements it made.
 */

/** One secret of each kind CONTRACT.md lists; `needle` is the part that must never be stored. */
function secrets() {
  // a fresh tail per test run, so matches can only come from this test's own writes
  const tail = randomBytes(6).toString('hex').toUpperCase();
  const alnum = (n: number) => (tail + 'Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2J3k4L5z6X7c8V9b0N1m2').slice(0, n);
  const list = [
    { kind: 'aws_access_key_id', text: `AKIA${alnum(16).toUpperCase()}` },
    { kind: 'aws_secret_access_key', text: `aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/${tail}bPxRfiCY`, needle: `wJalrXUtnFEMI/K7MDENG/${tail}bPxRfiCY` },
    { kind: 'github_token', text: `ghp_${alnum(36)}` },
    { kind: 'gitlab_token', text: `glpat-${alnum(20)}` },
    { kind: 'slack_token', text: `xoxb-2048-${alnum(12)}` },
    { kind: 'openai_key', text: `sk-proj-${alnum(24)}` },
    { kind: 'anthropic_key', text: `sk-ant-api03-${alnum(24)}` },
    { kind: 'google_api_key', text: `AIza${alnum(35)}` },
    { kind: 'jwt', text: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${alnum(30)}` },
    { kind: 'bearer_token', text: `Bearer ${tail.toLowerCase()}9f8e7d6c5b`, needle: `${tail.toLowerCase()}9f8e7d6c5b` },
    { kind: 'url_password', text: `https://deploy:Pw${tail}x9@git.example.com/team/repo.git`, needle: `Pw${tail}x9` },
    {
      kind: 'private_key',
      text: `-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA${tail}q7BFUpkGp3LQmlQ\nZ2x0YmF0b3JzYXJlY29vbA==\n-----END RSA PRIVATE KEY-----`,
      needle: `MIIEowIBAAKCAQEA${tail}`,
    },
    { kind: 'email', text: `jane.doe.${tail.toLowerCase()}@example.com` },
  ];
  return list.map((s) => ({ ...s, needle: s.needle ?? s.text }));
}
type Secret = ReturnType<typeof secrets>[number];

/** Every secret in one string, the way they turn up in prompts, outputs and logs. */
const prose = (list: Secret[], what: string) => `${what}: ${list.map((s) => s.text).join(' ; ')} (end)`;
/** An attribute map whose keys and values both carry each secret. */
const attrs = (list: Secret[]) => Object.fromEntries(list.map((s, i) => [`k${i} ${s.text}`, `v${i} ${s.text}`]));

/** How many secrets a value holds, counting object keys and strings at any depth, as the server must. */
function countSecrets(value: unknown, list: Secret[]): number {
  if (typeof value === 'string') return list.filter((s) => value.includes(s.text)).length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countSecrets(v, list), 0);
  if (value && typeof value === 'object') {
    return Object.entries(value).reduce((n, [k, v]) => n + countSecrets(k, list) + countSecrets(v, list), 0);
  }
  return 0;
}

function nativeEvents(list: Secret[], runId: string, t0: number) {
  const at = (s: number) => new Date(t0 + s * 1_000).toISOString();
  return [
    { type: 'run', id: 'run', runId, timestamp: at(0), agent: prose(list, 'agent'), repo: prose(list, 'repo'), branch: prose(list, 'branch'), commit: prose(list, 'commit'), attributes: { ...attrs(list), nested: [{ deep: { deeper: prose(list, 'nested') } }] } },
    {
      type: 'step',
      id: 'llm',
      runId,
      stepId: 'llm-1',
      kind: 'llm',
      name: prose(list, 'name'),
      startedAt: at(1),
      endedAt: at(2),
      status: 'error',
      model: 'claude-sonnet-4-5',
      provider: prose(list, 'provider'),
      usage: { inputTokens: 10, outputTokens: 5 },
      error: prose(list, 'error'),
      input: { messages: [{ role: 'user', content: prose(list, 'prompt') }], [`header ${list[9]!.text}`]: list[0]!.text },
      output: [prose(list, 'output'), { tool_calls: [{ arguments: prose(list, 'arguments') }] }],
      attributes: attrs(list),
    },
    { type: 'log', id: 'log', runId, timestamp: at(3), level: 'error', message: prose(list, 'log'), stepId: 'llm-1', attributes: attrs(list) },
    { type: 'assertion', id: 'assert', runId, timestamp: at(4), name: prose(list, 'assertion'), passed: false, message: prose(list, 'why') },
  ];
}

function tracesRequest(list: Secret[], t0: number) {
  const traceId = randomBytes(16).toString('hex');
  const otlpAttrs = (o: Record<string, string>) => kv(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, str(v)])));
  const span = (spanId: string, parentSpanId: string | undefined, offset: number) => ({
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: prose(list, 'span'),
    kind: 3,
    startTimeUnixNano: nanos(t0 + offset),
    endTimeUnixNano: nanos(t0 + offset + 500),
    attributes: [
      ...otlpAttrs({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.prompt': prose(list, 'prompt'), 'gen_ai.completion': prose(list, 'completion') }),
      ...otlpAttrs(attrs(list)),
      { key: 'gen_ai.usage.input_tokens', value: int(100) },
      { key: 'list', value: { arrayValue: { values: [str(prose(list, 'array'))] } } },
    ],
    events: [{ timeUnixNano: nanos(t0 + offset + 100), name: 'exception', attributes: otlpAttrs({ 'exception.message': prose(list, 'exception') }) }],
    status: { code: 2, message: prose(list, 'status') },
  });
  const spans = [span('1111111111111111', undefined, 0), span('2222222222222222', '1111111111111111', 100)];
  const resource = { attributes: otlpAttrs({ 'service.name': 'agent', 'deployment.token': list[3]!.text }) };
  return { traceId, spans, resource, body: { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'genai' }, spans }] }] } };
}

function logsRequest(list: Secret[], sessionId: string, t0: number) {
  const records = [
    { timeUnixNano: nanos(t0), body: str('claude_code.user_prompt'), attributes: kv({ 'event.name': str('user_prompt'), 'session.id': str(sessionId), prompt: str(prose(list, 'prompt')), prompt_length: str('900') }) },
    { timeUnixNano: nanos(t0 + 1_000), body: str('claude_code.api_error'), attributes: kv({ 'event.name': str('api_error'), 'session.id': str(sessionId), error: str(prose(list, 'api error')) }) },
    { timeUnixNano: nanos(t0 + 2_000), severityNumber: 17, body: str(prose(list, 'body')), attributes: kv({ 'session.id': str(sessionId), ...Object.fromEntries(Object.entries(attrs(list)).map(([k, v]) => [k, str(v)])) }) },
  ];
  const resource = { attributes: kv({ 'service.name': str('claude-code'), 'user.email': str(list[12]!.text) }) };
  return { records, resource, body: { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'com.anthropic.claude_code.events' }, logRecords: records }] }] } };
}

function metricsRequest(list: Secret[], t0: number) {
  const point = { startTimeUnixNano: nanos(t0), timeUnixNano: nanos(t0 + 60_000), asDouble: 0.25, attributes: kv(Object.fromEntries(Object.entries(attrs(list)).map(([k, v]) => [k, str(v)]))) };
  return {
    resourceMetrics: [
      {
        resource: { attributes: kv({ 'service.name': str('claude-code'), 'user.email': str(list[12]!.text), 'session.id': str(prose(list, 'session')) }) },
        scopeMetrics: [{ scope: { name: 'com.anthropic.claude_code' }, metrics: [{ name: 'claude_code.cost.usage', unit: 'USD', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [point] } }] }],
      },
    ],
  };
}

async function postOtlp(key: string, path: string, body: unknown) {
  const res = await fetch(`${stackInfo().url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.text() };
}

/** Needles found anywhere in the tenant's raw objects, and anywhere in the stack's tables. */
async function leaks(tenantId: string, list: Secret[]) {
  const objects = await rawObjects(tenantId);
  const items = (await allItems()).map(({ table, item }) => ({ table, json: itemJson(item) }));
  return {
    objects: objects.size,
    inS3: list.filter((s) => [...objects.values()].some((text) => text.includes(s.needle))).map((s) => s.kind),
    inDynamo: list
      .flatMap((s) => items.filter((i) => i.json.includes(s.needle)).map((i) => `${s.kind} in ${i.table}: ${i.json.slice(0, 120)}`)),
  };
}

describe('secrets in every field are redacted before anything is stored', () => {
  it('native, OTLP trace, OTLP log and OTLP metric data keep no secret in S3 or DynamoDB, and runs count the replacements', async () => {
    // Prepare
    const list = secrets();
    const t = await newTenant('redaction');
    const t0 = Date.now() - 10 * 60_000;
    const events = nativeEvents(list, 'native-run', t0);
    const traces = tracesRequest(list, t0);
    const logs = logsRequest(list, 'claude-secret-session', t0);

    // Act
    const answers = [
      await ingest(t.key, events),
      await postOtlp(t.key, '/v1/traces', traces.body),
      await postOtlp(t.key, '/v1/logs', logs.body),
      await postOtlp(t.key, '/v1/metrics', metricsRequest(list, t0)),
    ];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const found = await leaks(t.tenantId, list);
    expect(found.objects).toBe(4);
    expect(found.inS3).toEqual([]);
    expect(found.inDynamo).toEqual([]);

    // every planted secret was counted, per run: the native events as sent, and each OTLP span or
    // record together with its resource (both are kept with it)
    const native = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'native-run' });
    expect(native.run.redactions).toBe(countSecrets(events, list));
    const traced = await t.client.runs.get.query({ tenantId: t.tenantId, runId: traces.traceId });
    expect(traced.run.redactions).toBe(traces.spans.reduce((n, span) => n + countSecrets(span, list) + countSecrets(traces.resource, list), 0));
    const logged = await t.client.runs.get.query({ tenantId: t.tenantId, runId: 'claude-secret-session' });
    expect(logged.run.redactions).toBe(logs.records.reduce((n, record) => n + countSecrets(record, list) + countSecrets(logs.resource, list), 0));

    // what a reader sees instead: the markers, each naming its kind
    const raw = JSON.stringify((await t.client.runs.raw.query({ tenantId: t.tenantId, runId: 'native-run' })).items);
    for (const s of list) expect(raw, s.kind).toContain(`[REDACTED:${s.kind}]`);
    expect(native.steps[0]!.error).toContain('[REDACTED:private_key]');
    expect(native.run.repo).toContain('[REDACTED:github_token]');
    const metric = await t.client.metrics.query.query({ tenantId: t.tenantId, name: 'claude_code.cost.usage', from: new Date(t0 - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() });
    expect(metric.points).toHaveLength(1);
    expect(JSON.stringify(metric.points[0]!.attributes)).toContain('[REDACTED:anthropic_key]');
  });

  it('takes the whole value of an OTLP attribute named like an AWS secret key as the secret, however plain it looks', async () => {
    // Prepare: values no pattern would know, under names that say what they are
    const tail = randomBytes(6).toString('hex');
    const secret = (where: string) => ({ kind: 'aws_secret_access_key', text: `${where}-${tail}`, needle: `${where}-${tail}` });
    const list = [secret('span'), secret('resource'), secret('nested'), secret('record')];
    const t = await newTenant('redaction-otlp-names');
    const t0 = Date.now() - 60_000;
    const traceId = randomBytes(16).toString('hex');
    const span = {
      traceId,
      spanId: '1111111111111111',
      name: 'deploy',
      startTimeUnixNano: nanos(t0),
      endTimeUnixNano: nanos(t0 + 500),
      attributes: [
        { key: 'aws_secret_access_key', value: str(list[0]!.text) },
        { key: 'credentials', value: { kvlistValue: { values: [{ key: 'SecretAccessKey', value: str(list[2]!.text) }] } } },
      ],
    };
    const traces = { resourceSpans: [{ resource: { attributes: [{ key: 'AWS_SECRET_ACCESS_KEY', value: str(list[1]!.text) }] }, scopeSpans: [{ spans: [span] }] }] };
    const record = { timeUnixNano: nanos(t0), body: str('deploying'), attributes: kv({ 'session.id': str('otlp-names'), 'aws-secret-access-key': str(list[3]!.text) }) };
    const logs = { resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: [record] }] }] };

    // Act
    const answers = [await postOtlp(t.key, '/v1/traces', traces), await postOtlp(t.key, '/v1/logs', logs)];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const found = await leaks(t.tenantId, list);
    expect(found.objects).toBe(2);
    expect(found.inS3).toEqual([]);
    expect(found.inDynamo).toEqual([]);
    const { run } = await t.client.runs.get.query({ tenantId: t.tenantId, runId: traceId });
    expect(run.redactions).toBe(3);
    const raw = JSON.stringify((await t.client.runs.raw.query({ tenantId: t.tenantId, runId: traceId })).items);
    expect(raw).toContain('{"key":"aws_secret_access_key","value":{"stringValue":"[REDACTED:aws_secret_access_key]"}}');
  });

  it('rejects an event whose id, run id or step id holds a secret, storing none of it, rather than merging runs under a redacted id', async () => {
    // Prepare: two runs whose ids differ only in the address they hold, and a step id holding a token
    const list = secrets();
    const email = list.find((s) => s.kind === 'email')!.text;
    const token = list.find((s) => s.kind === 'github_token')!.text;
    const t = await newTenant('redaction-ids');
    const at = new Date(Date.now() - 60_000).toISOString();
    const step = (id: string, runId: string, stepId = 's1') => ({ type: 'step', id, runId, stepId, kind: 'llm', name: 'chat', startedAt: at, costUsd: 1 });
    const events = [step('e1', `${email}/1`), step('e2', `other.${email}/1`), step(`e3-${token}`, 'clean'), step('e4', 'clean', `s-${token}`), step('e5', 'clean')];

    // Act
    const answer = await ingest(t.key, events);

    // Assess
    expect(answer.status).toBe(207);
    expect(answer.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(answer.body.rejected.map((r: { index: number; error: string }) => [r.index, r.error.split(':')[0]])).toEqual([[0, 'runId'], [1, 'runId'], [2, 'id'], [3, 'stepId']]);
    expect(JSON.stringify(answer.body)).not.toContain(token);
    const found = await leaks(t.tenantId, list);
    expect(found.inS3).toEqual([]);
    expect(found.inDynamo).toEqual([]);
    const runs = await t.client.runs.list.query({ tenantId: t.tenantId });
    expect(runs.items.map((r) => [r.runId, r.costUsd])).toEqual([['clean', 1]]);
  });

  it('keeps e-mail addresses for a tenant that turned their redaction off, and still redacts every other secret', async () => {
    // Prepare
    const list = secrets();
    const email = list.find((s) => s.kind === 'email')!;
    const others = list.filter((s) => s !== email);
    const tenant = await operator().admin.tenants.create.mutate({ name: 'emails-kept', redactEmails: false });
    const { key } = await operator().admin.keys.create.mutate({ tenantId: tenant.tenantId, scopes: ['ingest', 'read'] });
    const events = nativeEvents(list, 'emails-run', Date.now() - 60_000);

    // Act
    const answer = await ingest(key, events);

    // Assess
    expect(answer.status).toBe(200);
    const objects = [...(await rawObjects(tenant.tenantId)).values()].join('\n');
    expect(objects).toContain(email.needle);
    for (const s of others) expect(objects, s.kind).not.toContain(s.needle);
    const { run } = await api(key).runs.get.query({ tenantId: tenant.tenantId, runId: 'emails-run' });
    expect(run.redactions).toBe(countSecrets(events, others));
  });
});
