/**
 * The one definition of every table, index and bucket. The CDK stack (infra/) and the local stack
 * (local/) both build their resources from this list, so the two cannot drift.
 *
 * Every partition key of tenant data starts with the tenant id (see the key builders in shared/store/),
 * so an IAM `dynamodb:LeadingKeys` condition could confine a principal to its tenant.
 */

export interface IndexDef {
  name: string;
  sortKey: string;
  /** attributes projected beyond the keys; reads of others fetch from the table (LSIs allow that) */
  projection: 'KEYS_ONLY' | 'ALL';
}

export interface TableDef {
  /** logical id, also the suffix of the physical table name */
  id: 'control' | 'runs' | 'rollups' | 'metrics' | 'alerts';
  partitionKey: 'pk';
  sortKey: 'sk';
  /** TTL attribute (epoch seconds); reads filter expired items themselves, since TTL deletion lags */
  ttlAttribute?: 'ttl';
  /**
   * Local secondary indexes: the only kind that supports strongly consistent reads, which the
   * read-your-writes promise of the contract needs on the run list.
   */
  localIndexes: IndexDef[];
  /**
   * A DynamoDB stream of every change with both images: the day cells are folded from the runs table's
   * stream (shared/aggregate/stream.ts) instead of being written by each ingest request.
   */
  stream?: 'NEW_AND_OLD_IMAGES';
}

export const TABLES: readonly TableDef[] = [
  // tenants, tenant keys, consultants and grants, webhooks, alert rules
  { id: 'control', partitionKey: 'pk', sortKey: 'sk', localIndexes: [] },
  // run summaries (one partition per tenant) and step chunks (one partition per run)
  {
    id: 'runs',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'ttl',
    stream: 'NEW_AND_OLD_IMAGES',
    localIndexes: [
      // the only index: each one costs a write unit per new run, which at a million events a day is
      // more than the reads a filtered list saves; repo, agent and other filters read the time range
      { name: 'byStart', sortKey: 'byStart', projection: 'KEYS_ONLY' },
    ],
  },
  // pre-aggregated cost cells per tenant and day, and the slot counters of windowed alert rules
  { id: 'rollups', partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl', localIndexes: [] },
  // tenant metrics from /v1/metrics: series state and per-hour points
  { id: 'metrics', partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl', localIndexes: [] },
  // alert events with their webhook deliveries, and the once-per-run firing markers
  { id: 'alerts', partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl', localIndexes: [] },
];

export type TableId = TableDef['id'];

export interface BucketDef {
  id: 'raw';
  /** retention tiers in days, matched by the object tag `retention-days` in lifecycle rules */
  retentionTiers: readonly number[];
}

export const RAW_BUCKET: BucketDef = { id: 'raw', retentionTiers: [7, 14, 30, 90, 365] };

/** Physical names: `<prefix>-<id>`; the prefix is the stage (`lidless-prod`) in AWS and `lidless` locally. */
export function tableName(prefix: string, id: TableId): string {
  return `${prefix}-${id}`;
}
export function bucketName(prefix: string): string {
  return `${prefix}-raw`;
}

/** The smallest retention tier that keeps an object at least `retentionDays`. */
export function retentionTier(retentionDays: number): number {
  const tiers = RAW_BUCKET.retentionTiers;
  return tiers.find((t) => t >= retentionDays) ?? tiers[tiers.length - 1]!;
}
