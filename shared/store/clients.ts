import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { config } from '../config.ts';
import { tableName, type TableId } from '../tables.ts';

/**
 * AWS clients and physical names, built once per process and passed to the adapters (which accept
 * their own in tests, so unit tests can inject faults with aws-sdk-client-mock).
 * Endpoints come from the SDK's own `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_S3`.
 */
export interface Stores {
  ddb: DynamoDBDocumentClient;
  s3: S3Client;
  tables: Record<TableId, string>;
  bucket: string;
}

export function createStores(overrides: Partial<Stores> = {}): Stores {
  const cfg = config();
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3);
  const ddb =
    overrides.ddb ??
    DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 4 }), {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    });
  const s3 =
    overrides.s3 ??
    new S3Client(
      local
        ? {
            // the local S3 server needs path-style addressing, and stores streamed bodies corrupted
            // unless checksums are only computed when an operation requires them
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }
        : {},
    );
  if (!overrides.ddb) withoutSdkLogging(ddb);
  if (!overrides.s3) withoutSdkLogging(s3);
  const ids: TableId[] = ['control', 'runs', 'rollups', 'metrics', 'alerts'];
  const tables = overrides.tables ??
    (Object.fromEntries(ids.map((id) => [id, tableName(cfg.LIDLESS_TABLE_PREFIX, id)])) as Record<TableId, string>);
  return { ddb, s3, tables, bucket: overrides.bucket ?? cfg.LIDLESS_RAW_BUCKET };
}

/**
 * Takes the SDK's logger middleware off a client. With no logger configured it still copies every
 * request and response through their schemas to mask sensitive fields for a log line nobody writes:
 * on a 100-item transaction that is a sixth of the stream handler's CPU. Lidless logs its own calls.
 */
function withoutSdkLogging(client: { middlewareStack: { remove(name: string): boolean } }): void {
  client.middlewareStack.remove('loggerMiddleware');
}

let shared: Stores | undefined;
/** The process-wide stores, for Lambda handlers (kept warm across invocations). */
export function stores(): Stores {
  shared ??= createStores();
  return shared;
}
export function resetStores(): void {
  shared = undefined;
}
