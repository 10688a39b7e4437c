/**
 * The native events of `POST /v1/ingest` (CONTRACT.md), as a client writes them: the generator builds
 * these and sends them through the public ingest API like any other client would.
 */
export type Iso = string;

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
}

export interface RunEvent {
  type: 'run';
  id: string;
  runId: string;
  timestamp: Iso;
  agent?: string;
  repo?: string;
  branch?: string;
  commit?: string;
  traceId?: string;
  status?: 'running' | 'succeeded' | 'failed' | 'cancelled';
  outcome?: 'merged_change' | 'green_build' | 'fixed_incident' | 'rejected' | 'none';
  startedAt?: Iso;
  endedAt?: Iso;
  attributes?: Record<string, unknown>;
}

export interface StepEvent {
  type: 'step';
  id: string;
  runId: string;
  stepId: string;
  parentStepId?: string;
  kind: 'llm' | 'tool' | 'agent' | 'sandbox' | 'ci' | 'test' | 'lint' | 'http' | 'retry' | 'human' | 'policy' | 'other';
  name: string;
  startedAt: Iso;
  endedAt?: Iso;
  status?: 'ok' | 'error';
  model?: string;
  provider?: string;
  usage?: Usage;
  costUsd?: number;
  error?: string;
  attributes?: Record<string, unknown>;
}

export interface LogEvent {
  type: 'log';
  id: string;
  runId: string;
  timestamp: Iso;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  stepId?: string;
}

export interface AssertionEvent {
  type: 'assertion';
  id: string;
  runId: string;
  timestamp: Iso;
  name: string;
  passed: boolean;
  message?: string;
  stepId?: string;
}

export type NativeEvent = RunEvent | StepEvent | LogEvent | AssertionEvent;
