import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { itemSize } from './item-size.ts';

/**
 * The largest item stored in a table, read with a client of its own (not metered). The meter prices
 * a transaction's updates by the item they leave; an item under 1 KB costs the same either way, so a
 * largest item under 1 KB shows that those figures are exact.
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
