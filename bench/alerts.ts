import type { Backend } from './backend.ts';
import { callApi, gatewayEvent } from './apigw.ts';
import { startReceiver } from '../test/helpers/receiver.ts';

/**
 * Ingest-to-webhook latency: a rule `run.cost_usd > 0.5` and a local receiver; each sample is one
 * ingest request holding a new run whose cost crosses the threshold, timed from just before the
 * handler is called to the webhook's arrival (delivery goes through the local queue and the dispatch
 * handler, as SQS would trigger it in AWS). One sample at a time.
 */
export async function measureAlertLatency(backend: Backend, samples: number): Promise<number[]> {
  const receiver = await startReceiver();
  try {
    const { tenantId, key } = await backend.tenant('bench-alerts');
    const hook = await callApi<{ webhookId: string }>(backend.api, key, 'mutation', 'alerts.webhooks.create', { tenantId, url: `${receiver.url}/hook` });
    await callApi(backend.api, key, 'mutation', 'alerts.rules.create', { tenantId, name: 'expensive run', metric: 'run.cost_usd', op: '>', threshold: 0.5, webhookId: hook.webhookId });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const latencies: number[] = [];
    for (let i = -3; i < samples; i++) {
      const runId = `alert-run-${i + 3}`;
      const now = Date.now();
      const events = [
        { type: 'run', id: `${runId}-0`, runId, timestamp: now - 60_000, agent: 'claude-code', repo: 'acme/web', branch: 'main', status: 'running' },
        ...Array.from({ length: 9 }, (_, k) => ({
          type: 'step', id: `${runId}-${k + 1}`, runId, stepId: `s${k}`, kind: 'llm', name: 'chat', model: 'claude-sonnet-4-5',
          startedAt: now - 50_000 + k * 5000, endedAt: now - 46_000 + k * 5000, usage: { inputTokens: 12_000, outputTokens: 900 }, costUsd: 0.1,
        })),
      ];
      const event = gatewayEvent({ method: 'POST', path: '/v1/ingest', headers, body: Buffer.from(JSON.stringify({ events })) });
      const arrived = receiver.waitFor(1, { timeoutMs: 10_000, filter: (r) => r.body.includes(`"runId":"${runId}"`) });
      const started = Date.now();
      const res = await backend.ingest(event);
      if (res.statusCode !== 200) throw new Error(`alert ingest answered ${res.statusCode}`);
      const [hit] = await arrived;
      // the first few warm the code paths and connections
      if (i >= 0) latencies.push(hit!.receivedAt - started);
    }
    return latencies;
  } finally {
    await receiver.close();
  }
}
