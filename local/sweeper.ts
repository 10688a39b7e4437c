import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ControlTable } from '../shared/store/control-table.ts';

/**
 * Expires raw objects past their tenant's retention: what the bucket lifecycle rules do in AWS, which
 * no local S3 server runs. Object keys carry the hour they were received (`raw/<tenant>/<yyyy>/<mm>/<dd>/<hh>/`).
 */
export async function sweepRawObjects(s3: S3Client, bucket: string, control: ControlTable, now: number): Promise<number> {
  let deleted = 0;
  for (const tenant of await control.listTenants()) {
    const cutoff = now - tenant.retentionDays * 86_400_000;
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `raw/${tenant.tenantId}/`, ContinuationToken: token }));
      const expired = (page.Contents ?? []).filter((o) => {
        const m = /^raw\/[^/]+\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//.exec(o.Key ?? '');
        return m && Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]! + 1) < cutoff;
      });
      if (expired.length) {
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: expired.map((o) => ({ Key: o.Key! })) } }));
        deleted += expired.length;
      }
      token = page.NextContinuationToken;
    } while (token);
  }
  return deleted;
}
