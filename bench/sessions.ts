import { gzipSync } from 'node:zlib';
import type { PreparedBatch } from './dataset.ts';

/**
 * Long agent sessions, each exported on its own a few events at a time: what an agent's OpenTelemetry
 * exporter sends every few seconds when no Collector batches many sessions together. Each session is a
 * run of model calls and tool calls with a log line now and then; each request holds the next `batch`
 * events of one session, and a session's requests go one after the other.
 */
export interface SessionSpec {
  prefix: string;
  sessions: number;
  eventsPerSession: number;
  batch: number;
  /** epoch ms where the sessions end */
  end: number;
}

const MODELS = ['claude-sonnet-4-5', 'gpt-5-codex'];
const TOOLS = ['read_file', 'edit_file', 'run_tests', 'grep', 'bash'];

function sessionEvents(prefix: string, n: number, count: number, end: number): Record<string, unknown>[] {
  const runId = `${prefix}-session-${n}`;
  const start = end - count * 4_000 - n * 60_000;
  const at = (i: number) => new Date(start + i * 4_000).toISOString();
  const events: Record<string, unknown>[] = [
    { type: 'run', id: `${runId}.run`, runId, timestamp: at(0), agent: 'claude-code', repo: `repo-${n % 5}`, branch: 'main', status: 'running' },
  ];
  for (let i = 1; events.length < count; i++) {
    if (i % 10 === 0) {
      events.push({ type: 'log', id: `${runId}.l${i}`, runId, timestamp: at(i), level: 'info', message: `checkpoint ${i}: tests passing` });
    } else if (i % 2 === 1) {
      events.push({
        type: 'step', id: `${runId}.s${i}`, runId, stepId: `s${i}`, kind: 'llm', name: 'chat', startedAt: at(i), endedAt: at(i + 0.5),
        model: MODELS[n % MODELS.length], usage: { inputTokens: 20_000 + i * 37, outputTokens: 300 + (i % 400), cacheReadTokens: 18_000 },
      });
    } else {
      events.push({ type: 'step', id: `${runId}.s${i}`, runId, stepId: `s${i}`, parentStepId: `s${i - 1}`, kind: 'tool', name: TOOLS[i % TOOLS.length], startedAt: at(i), endedAt: at(i + 0.3) });
    }
  }
  return events;
}

export function longSessions(spec: SessionSpec): { requests: PreparedBatch[]; events: number; runIds: string[] } {
  const requests: PreparedBatch[] = [];
  const runIds: string[] = [];
  for (let n = 0; n < spec.sessions; n++) {
    const events = sessionEvents(spec.prefix, n, spec.eventsPerSession, spec.end);
    runIds.push(String(events[0]!.runId));
    for (let i = 0; i < events.length; i += spec.batch) {
      const json = JSON.stringify({ events: events.slice(i, i + spec.batch) });
      requests.push({ client: n, events: Math.min(spec.batch, events.length - i), body: gzipSync(json), jsonBytes: Buffer.byteLength(json) });
    }
  }
  return { requests, events: spec.sessions * spec.eventsPerSession, runIds };
}
