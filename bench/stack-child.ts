import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpointsOf, startStack } from '../local/stack.ts';

/**
 * The embedded stack in a process of its own. The S3 server runs inside the stack's process, so the
 * benchmark keeps the stack apart: the CPU it measures around handler calls is then the handler's
 * alone (what Lambda would bill), not the storage servers'. Reports its endpoints over IPC and stops
 * when asked or when the parent goes away.
 */
// RAM-backed when the machine has it: the local servers' disk syncs are not what AWS would cost
const dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'lidless-bench-'));
const stack = await startStack({
  port: 0,
  host: '127.0.0.1',
  dataDir,
  evaluateEveryMs: 0,
  // the benchmark runs the stream's handler itself, metered, in its own process
  streams: false,
  env: { LIDLESS_WEBHOOK_BASE_DELAY_MS: '50', LIDLESS_WEBHOOK_TIMEOUT_MS: '1000', POWERTOOLS_LOG_LEVEL: 'ERROR' },
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('message', (m) => {
  if (m === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());

process.send!(endpointsOf(stack));
