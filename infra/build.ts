import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LidlessStack } from './stack.ts';

/**
 * The app's one stack, configured from context: `-c stage=prod` (default `dev`) and optionally
 * `-c alarmEmail=ops@example.com`. No context look-ups: synthesis needs no AWS credentials.
 */
export function buildApp(app: App = new App()): { app: App; stack: LidlessStack } {
  const stage = String(app.node.tryGetContext('stage') ?? 'dev');
  const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
  const stack = new LidlessStack(app, `Lidless-${stage}`, {
    stage,
    alarmEmail,
    description: `Lidless observability backend (${stage})`,
  });
  // cdk-nag runs as a policy-validation plugin: an unacknowledged finding fails synthesis
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
