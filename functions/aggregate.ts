import type { AttributeValue as LambdaValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { handleRunChanges } from '../shared/runtime.ts';
import type { StreamImageRecord } from '../shared/aggregate/stream.ts';
import { flushMetrics, logger } from '../shared/observability/telemetry.ts';

/**
 * The runs table's stream (Lambda event source mapping): folds run changes into the day cells. An
 * error fails the whole batch, which Lambda retries unchanged; each retry is exactly-once.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<void> => {
  const records = event.Records.map(imagesOf);
  try {
    const applied = await handleRunChanges(records);
    logger.info('aggregated', { records: records.length, ...applied });
  } catch (err) {
    logger.error('aggregation failed', { records: records.length, firstEventId: records[0]?.eventId, error: err as Error });
    throw err;
  } finally {
    flushMetrics();
  }
};

function imagesOf(r: DynamoDBRecord): StreamImageRecord {
  const d = r.dynamodb ?? {};
  return {
    eventId: r.eventID ?? '',
    oldImage: d.OldImage && unmarshall(sdkImage(d.OldImage)),
    newImage: d.NewImage && unmarshall(sdkImage(d.NewImage)),
    createdAtMs: (d.ApproximateCreationDateTime ?? 0) * 1000,
  };
}

/** Lambda's JSON event carries binary values as base64 strings; the SDK's unmarshall wants bytes. */
function sdkImage(image: Record<string, LambdaValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, sdkValue(v)]));
}
function sdkValue(v: LambdaValue): AttributeValue {
  if (v.B !== undefined) return { B: Buffer.from(v.B, 'base64') };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b, 'base64')) };
  if (v.M !== undefined) return { M: sdkImage(v.M) };
  if (v.L !== undefined) return { L: v.L.map(sdkValue) };
  return v as AttributeValue;
}
