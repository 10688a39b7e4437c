import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../shared/observability/metrics.ts';

export type HandlerName = 'ingest' | 'api' | 'dispatch' | 'evaluate' | 'aggregate';

export interface LidlessFunctionProps {
  /** the handler module `functions/<name>.ts` */
  handler: HandlerName;
  description: string;
  memoryMb: number;
  timeout: Duration;
  environment: Record<string, string>;
  production: boolean;
}

/** Lets CommonJS dependencies call `require` inside an ESM bundle. */
const ESM_REQUIRE_BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * One Lambda handler: an ESM bundle built locally by esbuild (no Docker), its own role that starts with
 * no permissions at all (callers add exactly what it needs), and its own log group with a retention.
 */
export class LidlessFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LidlessFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // an explicit role instead of the default one, which carries the managed AWSLambdaBasicExecutionRole
    // (log writes to every log group of the account)
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Lidless ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: fileURLToPath(new URL(`../../functions/${props.handler}.ts`, import.meta.url)),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'lidless',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        LIDLESS_LOCAL_MODE: '0',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        logLevel: LogLevel.WARNING,
        // ship the SDK versions the code was tested with rather than whatever the runtime carries
        bundleAwsSDK: true,
      },
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose: it is the runtime the code and its dependencies are tested against, and it is supported by Lambda; moving to a newer runtime is a tested change, not an automatic one.',
    });
  }
}
