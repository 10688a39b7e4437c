import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';

/**
 * A webhook receiver on 127.0.0.1 for tests and the bench: records every request and answers as
 * scripted (a status code, or `'hang'` to never answer, so the sender's timeout decides).
 */
export type Answer = number | 'hang';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** the raw body, exactly as received (signatures are computed over it) */
  body: string;
  /** Date.now() when the body was complete */
  receivedAt: number;
}

export interface Receiver {
  /** base URL, e.g. `http://127.0.0.1:40123`; any path under it is accepted */
  url: string;
  requests: ReceivedRequest[];
  /** answers for the next requests, in order; after them every request gets the default */
  script(...answers: Answer[]): void;
  /** resolves once `count` requests have arrived (matching `filter` if given); rejects after `timeoutMs` */
  waitFor(count: number, opts?: { timeoutMs?: number; filter?: (r: ReceivedRequest) => boolean }): Promise<ReceivedRequest[]>;
  /** resolves once `done` holds for the requests received so far; rejects after `timeoutMs` */
  waitUntil(done: (requests: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(opts: { answers?: Answer[]; otherwise?: Answer } = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let queued: Answer[] = [...(opts.answers ?? [])];
  const otherwise = opts.otherwise ?? 200;
  const waiters = new Set<() => void>();

  const respond = (res: ServerResponse, answer: Answer) => {
    if (answer === 'hang') return;
    res.writeHead(answer, { 'content-type': 'text/plain' });
    res.end(answer >= 200 && answer < 300 ? 'ok' : 'no');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      });
      respond(res, queued.shift() ?? otherwise);
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  const waitUntil: Receiver['waitUntil'] = (done, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (!done(requests)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve([...requests]);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`receiver: the expected requests did not arrive within ${timeoutMs} ms (got ${requests.length})`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(...answers) {
      queued = answers;
    },
    waitUntil,
    async waitFor(count, { timeoutMs = 10_000, filter = () => true } = {}) {
      const all = await waitUntil((rs) => rs.filter(filter).length >= count, timeoutMs);
      return all.filter(filter);
    },
    async close() {
      // hanging requests would keep the server open forever
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
