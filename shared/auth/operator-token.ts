import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config.ts';

/**
 * The operator token: plain in the environment locally, in Secrets Manager in AWS (read once per warm
 * process; rotating it means a new deployment or cold starts).
 */
export function operatorTokenSource(cfg: Config): () => Promise<string | undefined> {
  if (cfg.LIDLESS_OPERATOR_TOKEN) {
    const token = cfg.LIDLESS_OPERATOR_TOKEN;
    return async () => token;
  }
  const arn = cfg.LIDLESS_OPERATOR_TOKEN_SECRET_ARN;
  if (!arn) return async () => undefined;
  let pending: Promise<string | undefined> | undefined;
  return () => {
    pending ??= new SecretsManagerClient({})
      .send(new GetSecretValueCommand({ SecretId: arn }))
      .then((r) => r.SecretString?.trim())
      .catch((err) => {
        pending = undefined;
        throw err;
      });
    return pending;
  };
}
