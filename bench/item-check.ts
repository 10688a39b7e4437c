import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { itemSize } from './item-size.ts';

/**
 * The largest item stored in a table (bytes, as AWS sizes items), read with a client of its own so
 * that the meter does not count it: how close the rollup cells are to the 1 KB that doubles a write.
 */
export async function largestItemBytes(table: string): Promise<number> {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  try {
    let largest = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) largest = Math.max(largest, itemSize(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return largest;
  } finally {
    ddb.destroy();
  }
}

/** The size of the largest of these items, as DynamoDB counts it (a plain client: not metered). */
export async function largestOf(table: string, keys: readonly Record<string, unknown>[]): Promise<number> {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  try {
    let largest = 0;
    for (let i = 0; i < keys.length; i += 100) {
      const res = await ddb.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys.slice(i, i + 100) as Record<string, unknown>[] } } }));
      for (const item of res.Responses?.[table] ?? []) largest = Math.max(largest, itemSize(item));
      if (res.UnprocessedKeys?.[table]?.Keys?.length) throw new Error('BatchGetItem left keys unprocessed');
    }
    return largest;
  } finally {
    ddb.destroy();
  }
}
