import { gzipSync, gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Stores } from './clients.ts';
import { retentionTier } from '../tables.ts';
import type { Source } from '../model.ts';

/**
 * The raw bucket: one gzip NDJSON object per ingest request, written before the request is
 * acknowledged, and enough to rebuild the index. This module owns the key layout:
 *
 *   raw/<tenant>/<yyyy>/<mm>/<dd>/<hh>/<batch-id>.ndjson.gz     tagged retention-days=<tier>
 */
export interface RawLine {
  source: Source;
  receivedAt: string;
  runId?: string;
  event: unknown;
}

export function rawKey(tenantId: string, receivedAt: number, batchId: string): string {
  const iso = new Date(receivedAt).toISOString();
  return `raw/${tenantId}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/${batchId}.ndjson.gz`;
}

export function encodeLines(lines: readonly RawLine[]): Buffer {
  return gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n', { level: 6 });
}

export async function putRawBatch(s: Stores, key: string, body: Buffer, retentionDays: number): Promise<void> {
  await s.s3.send(
    new PutObjectCommand({
      Bucket: s.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/x-ndjson',
      ContentEncoding: 'gzip',
      // lifecycle rules expire objects by this tag (see infra/); the local sweeper reads the tenant's retention
      Tagging: `retention-days=${retentionTier(retentionDays)}`,
    }),
  );
}

export async function getRawLines(s: Stores, key: string): Promise<RawLine[]> {
  const res = await s.s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
  const bytes = Buffer.from(await res.Body!.transformToByteArray());
  // some S3 servers hand back the stored bytes already decoded when ContentEncoding is gzip
  const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as RawLine);
}
