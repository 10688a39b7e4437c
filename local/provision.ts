import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { TABLES, tableName } from '../shared/tables.ts';

/** Creates the tables (from the one definition in shared/tables.ts) and the bucket, when missing. */
export async function provisionTables(client: DynamoDBClient, prefix: string): Promise<void> {
  for (const def of TABLES) {
    const name = tableName(prefix, def.id);
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
      // a data dir from before the table had its stream: turn it on, the stream starts from now
      if (def.stream && !Table?.StreamSpecification?.StreamEnabled) {
        await client.send(new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: def.stream } }));
      }
      continue;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    const attrs = new Set<string>([def.partitionKey, def.sortKey, ...def.localIndexes.map((i) => i.sortKey)]);
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attrs].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: def.partitionKey, KeyType: 'HASH' },
          { AttributeName: def.sortKey, KeyType: 'RANGE' },
        ],
        ...(def.localIndexes.length
          ? {
              LocalSecondaryIndexes: def.localIndexes.map((i) => ({
                IndexName: i.name,
                KeySchema: [
                  { AttributeName: def.partitionKey, KeyType: 'HASH' },
                  { AttributeName: i.sortKey, KeyType: 'RANGE' },
                ],
                Projection: { ProjectionType: i.projection },
              })),
            }
          : {}),
        ...(def.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: def.stream } } : {}),
      }),
    );
    if (def.ttlAttribute) {
      // DynamoDB Local records the setting but never deletes; reads filter expired items themselves
      await client.send(
        new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }),
      );
    }
  }
}

export async function provisionBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}
