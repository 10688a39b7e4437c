import { createClient, type Client } from './client.ts';
import { CliError } from './errors.ts';
import type { Options, Parsed } from './args.ts';

/**
 * What a command runs with: the environment (LIDLESS_URL, LIDLESS_TOKEN, LIDLESS_TENANT), where output
 * goes, and whether the user asked for JSON.
 */
export const DEFAULT_URL = 'http://127.0.0.1:4318';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

export interface Command {
  /** the words that name it, e.g. ['runs', 'list'] */
  path: readonly string[];
  summary: string;
  /** the full help: usage line, arguments and options */
  usage: string;
  options: Options;
  run(ctx: Context, args: Parsed): Promise<void>;
}

export class Context {
  private cached: Client | undefined;

  constructor(
    readonly io: Io,
    readonly json: boolean,
  ) {}

  get url(): string {
    return (this.io.env.LIDLESS_URL || DEFAULT_URL).replace(/\/+$/, '');
  }

  get token(): string {
    const token = this.io.env.LIDLESS_TOKEN?.trim();
    if (!token) throw new CliError('LIDLESS_TOKEN is not set: export the operator token, a tenant key or a consultant token');
    return token;
  }

  /** Tenant keys and consultant tokens have a recognisable prefix; anything else is taken as the operator token. */
  get isOperator(): boolean {
    return !/^ld[lc]_/.test(this.token);
  }

  get client(): Client {
    this.cached ??= createClient(this.url, this.token);
    return this.cached;
  }

  /** Prints a human rendering, or the given value as JSON under --json. */
  print(human: () => string, value: unknown): void {
    this.io.stdout(this.json ? JSON.stringify(value, null, 2) : human());
  }

  /**
   * The tenant a reader command is about: `--tenant`, else LIDLESS_TENANT, else the only tenant the
   * token may read.
   */
  async tenant(explicit: string | undefined): Promise<string> {
    const given = explicit ?? this.io.env.LIDLESS_TENANT?.trim();
    if (given) return given;
    if (this.isOperator) throw new CliError('the operator token reads no tenant data: use a read key or a consultant token, with --tenant <id>');
    const { items } = await this.client.tenants.list.query();
    if (items.length === 1) return items[0]!.tenantId;
    if (items.length === 0) throw new CliError('this token may read no tenant');
    throw new CliError(`this token reads ${items.length} tenants (${items.map((t) => t.tenantId).join(', ')}): choose one with --tenant <id> or LIDLESS_TENANT`);
  }
}
