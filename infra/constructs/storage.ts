import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RAW_BUCKET, TABLES, tableName, type TableDef, type TableId } from '../../shared/tables.ts';

export interface StorageProps {
  /** physical table prefix, e.g. `lidless-prod` */
  tablePrefix: string;
  /** production stages keep data when the stack goes and refuse table deletion */
  production: boolean;
}

/** The tag the ingest function puts on every raw object; lifecycle rules match on it. */
export const RETENTION_TAG = 'retention-days';

/** DynamoDB tables and the raw bucket, built from the one definition in shared/tables.ts. */
export class Storage extends Construct {
  readonly tables: Record<TableId, dynamodb.Table>;
  readonly rawBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const removalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.tables = Object.fromEntries(
      TABLES.map((def) => [def.id, this.table(def, props, removalPolicy)]),
    ) as Record<TableId, dynamodb.Table>;
    this.rawBucket = this.bucket(removalPolicy);
  }

  private table(def: TableDef, props: StorageProps, removalPolicy: RemovalPolicy): dynamodb.Table {
    const table = new dynamodb.Table(this, `${def.id}Table`, {
      tableName: tableName(props.tablePrefix, def.id),
      partitionKey: { name: def.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: def.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: def.ttlAttribute,
      stream: def.stream === 'NEW_AND_OLD_IMAGES' ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
      deletionProtection: props.production,
      removalPolicy,
    });
    for (const index of def.localIndexes) {
      table.addLocalSecondaryIndex({
        indexName: index.name,
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: index.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
      });
    }
    return table;
  }

  private bucket(removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'RawBucket', {
      // the name is left to CloudFormation: bucket names are global, and functions get it from the env
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      lifecycleRules: [
        ...RAW_BUCKET.retentionTiers.map((days) => retentionRule(days)),
        // S3 rejects a multipart abort in a rule with a tag filter, so it gets its own rule
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the ingest (write) and API (read) functions touch this bucket, and both log every request with tenant and request id; server access logs would add a second bucket and a log line per object with no reader.',
    });
    return bucket;
  }
}

/** Expire objects tagged with this tier; long tiers move to cheaper classes once reads become rare. */
function retentionRule(days: number): s3.LifecycleRule {
  const transitions: s3.Transition[] = [];
  // Standard-IA bills at least 30 days and Glacier IR at least 90: only worth it when the object outlives that
  if (days >= 90) transitions.push({ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) });
  if (days >= 365) transitions.push({ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) });
  return {
    id: `retention-${days}d`,
    tagFilters: { [RETENTION_TAG]: String(days) },
    expiration: Duration.days(days),
    transitions: transitions.length > 0 ? transitions : undefined,
  };
}
