import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { handlerEnv, type StackInfo } from './backend.ts';

/**
 * Peak memory of the ingest path on the largest request it accepts (a batch of 1000 events just
 * under the 5 MB limit) and on a gzip bomb (about 1 MB of gzip that inflates to 1 GiB; deflate cannot
 * compress further than about 1000:1), each in a fresh process running the handler.
 */
export interface MemoryCase {
  status: number;
  baselineMb: number;
  peakMb: number;
  bodyBytes: number;
}

const LIMIT = 5 * 1024 * 1024;

/** 1000 step events of readable text, as large as fits under the limit. */
export function largeBatch(): Buffer {
  const words = 'the handler parses the batch and redacts every string before it is stored in the raw bucket'.split(' ');
  const text = (n: number, seed: number) => {
    const out: string[] = [];
    let len = 0;
    for (let i = seed; len < n; i++) {
      const w = words[(i * 7) % words.length]!;
      out.push(w);
      len += w.length + 1;
    }
    return out.join(' ').slice(0, n);
  };
  const now = Date.now();
  const event = (i: number, pad: number) => ({
    type: 'step', id: `big-${now}-${i}`, runId: `big-${now}-${i % 10}`, stepId: `s${i}`, kind: 'tool', name: 'bash',
    startedAt: now - 60_000 + i, endedAt: now - 59_000 + i, input: { command: 'npm test' }, output: text(pad, i),
  });
  const overhead = Buffer.byteLength(JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => event(i, 0)) }));
  const pad = Math.floor((LIMIT - 4096 - overhead) / 1000);
  return Buffer.from(JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => event(i, pad)) }));
}

/** Zeros through gzip, streamed: 1 GiB in, about 1 MB out, never held whole. */
export async function gzipBomb(inflatedBytes = 1024 ** 3): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  const chunk = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < inflatedBytes; written += chunk.length) {
    if (!gz.write(chunk)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

function runChild(info: StackInfo, key: string, file: string, encoding: 'json' | 'gzip'): Promise<Omit<MemoryCase, 'bodyBytes'>> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./memory-child.ts', import.meta.url)), [key, file, encoding], {
      env: { ...process.env, ...handlerEnv(info) },
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`memory probe exited ${code} without a result: ${out.slice(-500)}`));
      }
    });
  });
}

export async function measureMemory(info: StackInfo, key: string): Promise<{ batch: MemoryCase; bomb: MemoryCase }> {
  const dir = mkdtempSync(join(tmpdir(), 'lidless-bench-mem-'));
  try {
    const batch = largeBatch();
    const bomb = await gzipBomb();
    writeFileSync(join(dir, 'batch.json'), batch);
    writeFileSync(join(dir, 'bomb.gz'), bomb);
    const b = await runChild(info, key, join(dir, 'batch.json'), 'json');
    const g = await runChild(info, key, join(dir, 'bomb.gz'), 'gzip');
    return { batch: { ...b, bodyBytes: batch.length }, bomb: { ...g, bodyBytes: bomb.length } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
