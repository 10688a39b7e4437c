import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogField, AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface HttpEntryProps {
  ingest: lambda.IFunction;
  api: lambda.IFunction;
  production: boolean;
  /** steady-state requests per second across all routes, and the burst above it */
  throttle: { rateLimit: number; burstLimit: number };
}

/** One HTTP API: `/v1/*` to ingest, `/trpc/*` and `/healthz` to the API function. */
export class HttpEntry extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HttpEntryProps) {
    super(scope, id);
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Lidless ingest (OTLP and native) and tRPC query API',
      createDefaultStage: false,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            ip: AccessLogField.contextIdentitySourceIp(),
            method: AccessLogField.contextHttpMethod(),
            path: AccessLogField.contextPath(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            latencyMs: AccessLogField.contextResponseLatency(),
            integrationLatencyMs: AccessLogField.contextIntegrationLatency(),
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const ingest = new HttpLambdaIntegration('Ingest', props.ingest);
    const api = new HttpLambdaIntegration('Api', props.api);
    const routes = [
      ...this.httpApi.addRoutes({ path: '/v1/{proxy+}', methods: [apigw.HttpMethod.ANY], integration: ingest }),
      ...this.httpApi.addRoutes({ path: '/trpc/{proxy+}', methods: [apigw.HttpMethod.ANY], integration: api }),
      ...this.httpApi.addRoutes({ path: '/healthz', methods: [apigw.HttpMethod.GET], integration: api }),
    ];
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Callers present tenant keys, consultant tokens or the operator token, whose hashes live in DynamoDB; the handlers verify them on every request (401/403 per the contract). A Lambda authorizer would add an invocation per request for the same look-up. /healthz is public by contract.',
      });
    }
  }

  get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
