import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../shared/alerts/webhook/deliver.ts';
import { verifySignature } from '../../shared/alerts/webhook/signing.ts';

interface Received {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local receiver on an ephemeral port that records what it gets and answers with `respond`. */
async function startReceiver(respond: RequestListener = (_req, res) => res.end('ok')) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      respond(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { received, port, url: `http://127.0.0.1:${port}/hook` };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const secret = 'whsec_deliver-test';
const body = JSON.stringify({ id: 'evt_123', type: 'alert.firing', value: 4.2 });
const base = { secret, eventId: 'evt_123', body, timeoutMs: 2000, localMode: true };

describe('deliverOnce', () => {
  it('POSTs the body with event id, signature, content type and user agent', async () => {
    // Prepare
    const receiver = await startReceiver();
    const fixedNow = Date.UTC(2024, 0, 2, 3, 4, 5);

    // Act
    const attempt = await deliverOnce({ ...base, url: receiver.url, now: () => fixedNow });

    // Assess
    expect(attempt).toEqual({ ok: true, statusCode: 200, attemptedAt: '2024-01-02T03:04:05.000Z' });
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got?.method).toBe('POST');
    expect(got?.url).toBe('/hook');
    expect(got?.body).toBe(body);
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers['x-lidless-event-id']).toBe('evt_123');
    expect(got?.headers['user-agent']).toBe('lidless-webhooks/1');
    const signature = String(got?.headers['x-lidless-signature']);
    expect(signature).toMatch(new RegExp(`^t=${Math.floor(fixedNow / 1000)},v1=[0-9a-f]{64}$`));
    expect(verifySignature(secret, got?.body ?? '', signature, { now: () => fixedNow })).toBe(true);
  });

  it('signs afresh at each attempt', async () => {
    const receiver = await startReceiver();

    await deliverOnce({ ...base, url: receiver.url, now: () => 1_700_000_000_000 });
    await deliverOnce({ ...base, url: receiver.url, now: () => 1_700_000_060_000 });

    const [first, second] = receiver.received.map((r) => String(r.headers['x-lidless-signature']));
    expect(first).toMatch(/^t=1700000000,/);
    expect(second).toMatch(/^t=1700000060,/);
  });

  it('reports a 500 answer as a failure with its status code', async () => {
    const receiver = await startReceiver((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });

    const attempt = await deliverOnce({ ...base, url: receiver.url });

    expect(attempt.ok).toBe(false);
    expect(attempt.statusCode).toBe(500);
    expect(attempt.error).toContain('500');
  });

  it('does not follow a redirect', async () => {
    // Prepare: the first receiver redirects to the second
    const target = await startReceiver();
    const redirecting = await startReceiver((_req, res) => {
      res.writeHead(302, { location: target.url });
      res.end();
    });

    // Act
    const attempt = await deliverOnce({ ...base, url: redirecting.url });

    // Assess
    expect(attempt).toMatchObject({ ok: false, statusCode: 302 });
    expect(attempt.error).toContain('redirect');
    expect(redirecting.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
  });

  it('gives up on a receiver that never answers, within the timeout', async () => {
    const silent = await startReceiver(() => {
      // never answers
    });
    const started = Date.now();

    const attempt = await deliverOnce({ ...base, url: silent.url, timeoutMs: 300 });

    const elapsed = Date.now() - started;
    expect(attempt.ok).toBe(false);
    expect(attempt.statusCode).toBeUndefined();
    expect(attempt.error).toBe('timeout after 300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
  });

  it('does not wait for a receiver that streams an endless answer', async () => {
    const streaming = await startReceiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'.repeat(8192)), 5);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();

    const attempt = await deliverOnce({ ...base, url: streaming.url, timeoutMs: 5000 });

    expect(attempt).toMatchObject({ ok: true, statusCode: 200 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a refused connection as an error', async () => {
    const receiver = await startReceiver();
    const url = receiver.url;
    servers.splice(0).forEach((server) => server.close());
    await new Promise((resolve) => setTimeout(resolve, 50));

    const attempt = await deliverOnce({ ...base, url });

    expect(attempt.ok).toBe(false);
    expect(attempt.error).toMatch(/ECONNREFUSED/);
  });

  it('connects to the address the guard checked, keeping the hostname in Host', async () => {
    const receiver = await startReceiver();
    const resolved: string[] = [];

    const attempt = await deliverOnce({
      ...base,
      url: `http://hooks.example.test:${receiver.port}/hook`,
      resolve: async (host) => {
        resolved.push(host);
        return ['127.0.0.1'];
      },
    });

    expect(attempt.ok).toBe(true);
    expect(resolved).toEqual(['hooks.example.test']);
    expect(receiver.received[0]?.headers.host).toBe(`hooks.example.test:${receiver.port}`);
  });

  it('outside local mode refuses 127.0.0.1 without connecting', async () => {
    const receiver = await startReceiver();

    const attempt = await deliverOnce({
      ...base,
      localMode: false,
      url: `https://127.0.0.1:${receiver.port}/hook`,
    });

    expect(attempt.ok).toBe(false);
    expect(attempt.statusCode).toBeUndefined();
    expect(attempt.error).toContain('loopback address (127.0.0.1)');
    expect(receiver.received).toHaveLength(0);
  });

  it('outside local mode refuses a name that now resolves to a private address (rebinding)', async () => {
    const receiver = await startReceiver();

    const attempt = await deliverOnce({
      ...base,
      localMode: false,
      url: `https://hooks.example.test:${receiver.port}/hook`,
      resolve: async () => ['127.0.0.1'],
    });

    expect(attempt).toMatchObject({ ok: false, error: 'webhook host resolves to a loopback address (127.0.0.1)' });
    expect(receiver.received).toHaveLength(0);
  });
});
