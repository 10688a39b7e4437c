import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

/** An S3-compatible server (s3rver) persisting objects under the data dir. */
export interface RunningS3 {
  endpoint: string;
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

export async function startS3(dataDir: string, port: number): Promise<RunningS3> {
  mkdirSync(dataDir, { recursive: true });
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;
  const server = new S3rver({ address: '127.0.0.1', port, directory: dataDir, silent: true, vhostBuckets: false });
  await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => server.close() };
}
