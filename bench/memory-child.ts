import { readFileSync } from 'node:fs';

/**
 * One oversized request through the ingest handler in a fresh process, so that its peak memory is
 * the request's and not the benchmark's: prints `{ status, baselineMb, peakMb }` as its last line.
 * The handler's environment comes from the parent; argv: <key> <body file> <json|gzip>.
 */
const [key, file, encoding] = process.argv.slice(2) as [string, string, 'json' | 'gzip'];
const { handler } = await import('../functions/ingest.ts');
const { gatewayEvent } = await import('./apigw.ts');
const { useDeliveryQueue } = await import('../shared/runtime.ts');
const { LocalDeliveryQueue } = await import('../local/queue.ts');
const dispatch = await import('../functions/dispatch.ts');
useDeliveryQueue(new LocalDeliveryQueue(async () => dispatch.handler));

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * The process's high-water RSS, which sampling could miss. Linux's VmHWM is this program's own;
 * getrusage's maxRSS (the fallback elsewhere) also counts the parent's memory, copied at fork before
 * this program replaced it, so a large parent would show as this process's peak.
 */
function highWaterRss(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
const headers = (gzip: boolean): Record<string, string> => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
  ...(gzip ? { 'content-encoding': 'gzip' } : {}),
});

// warm: modules loaded, key looked up, connections open, as in a warm Lambda
const small = { events: [{ type: 'log', id: `warm-${process.pid}`, runId: `warm-${process.pid}`, timestamp: Date.now(), level: 'info', message: 'warm' }] };
await handler(gatewayEvent({ method: 'POST', path: '/v1/ingest', headers: headers(false), body: Buffer.from(JSON.stringify(small)) }));
(globalThis as { gc?: () => void }).gc?.();
const baseline = process.memoryUsage().rss;

const event = gatewayEvent({ method: 'POST', path: '/v1/ingest', headers: headers(encoding === 'gzip'), body: readFileSync(file) });
let sampled = 0;
const timer = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage().rss)), 2);
const res = await handler(event);
clearInterval(timer);
const peak = Math.max(sampled, highWaterRss());
console.log(JSON.stringify({ status: res.statusCode, baselineMb: mb(baseline), peakMb: mb(peak) }));
process.exit(0);
