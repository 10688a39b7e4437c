import { z } from 'zod';

/**
 * The environment, parsed once with zod. Lambda handlers and the local stack read the same variables;
 * a missing or malformed one fails at start with its name.
 */
const schema = z.object({
  /** tables are `<prefix>-<id>` (see shared/tables.ts) */
  LIDLESS_TABLE_PREFIX: z.string().min(1).default('lidless'),
  LIDLESS_RAW_BUCKET: z.string().min(1).default('lidless-raw'),
  /** SQS queue of webhook deliveries (AWS); unset locally, where deliveries are dispatched in-process */
  LIDLESS_ALERT_QUEUE_URL: z.string().optional(),
  /** the operator token itself (local) or the ARN of the secret holding it (AWS) */
  LIDLESS_OPERATOR_TOKEN: z.string().min(16).optional(),
  LIDLESS_OPERATOR_TOKEN_SECRET_ARN: z.string().optional(),
  /** `1` under `npm start`: webhooks may target http, loopback and private addresses */
  LIDLESS_LOCAL_MODE: z.enum(['0', '1']).default('0'),
  LIDLESS_WEBHOOK_BASE_DELAY_MS: z.coerce.number().int().min(1).default(1000),
  LIDLESS_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  LIDLESS_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** how long a key look-up is cached; revocation takes effect within this bound */
  LIDLESS_AUTH_CACHE_MS: z.coerce.number().int().min(0).max(5000).default(2000),
  LIDLESS_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(5 * 1024 * 1024),
});

export type Config = z.infer<typeof schema>;

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

let cached: Config | undefined;
/** The process-wide config, parsed on first use. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}
/** Tests and the local stack change the environment before first use; this forgets the parsed copy. */
export function resetConfig(): void {
  cached = undefined;
}
