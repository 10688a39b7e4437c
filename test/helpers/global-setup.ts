import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { endpointsOf, startStack, type RunningStack, type StackEndpoints } from '../../local/stack.ts';

/**
 * One embedded stack (DynamoDB Local, S3 server, the handlers behind HTTP) per test run, on free ports
 * with a temporary data dir. Integration tests reach it through `inject('stack')`.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
  }
}

let stack: RunningStack | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), 'lidless-test-'));
  stack = await startStack({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    operatorToken: `ldo_test_${Date.now()}_operator_token`,
    evaluateEveryMs: 0,
    env: { LIDLESS_WEBHOOK_BASE_DELAY_MS: '50', LIDLESS_WEBHOOK_TIMEOUT_MS: '1000', LIDLESS_AUTH_CACHE_MS: '1000' },
  });
  project.provide('stack', endpointsOf(stack));
}

export async function teardown(): Promise<void> {
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
