import { createTRPCClient, httpLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '../shared/api/router.ts';
import { CliError } from './errors.ts';

/** The tRPC client of a running Lidless, and the one-line description of anything it throws. */
export type Client = TRPCClient<AppRouter>;

export function createClient(url: string, token: string): Client {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url.replace(/\/+$/, '')}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}

const HINTS: Record<string, string> = {
  UNAUTHORIZED: ' (check LIDLESS_TOKEN)',
};

/** The first system error code (ECONNREFUSED, ENOTFOUND...) along the cause chain. */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code ?? (e as { errors?: { code?: unknown }[] }).errors?.[0]?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/** fetch reports every transport failure as "fetch failed"; the reason is the last cause. */
function transportFailure(err: unknown): string | undefined {
  let reason: string | undefined;
  let failed = false;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e.message === 'fetch failed') failed = true;
    else if (failed) reason = e.message;
  }
  return failed ? (reason ?? 'fetch failed') : undefined;
}

/** Whatever a call threw, as a CliError whose message fits on one line. */
export function describeFailure(err: unknown, url: string): CliError {
  if (err instanceof CliError) return err;
  const code = err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;
  if (code) return new CliError(`${oneLine((err as Error).message)}${HINTS[code] ?? ''}`, { cause: err });
  const net = networkCode(err);
  if (net) return new CliError(`cannot reach Lidless at ${url} (${net}); is it running? LIDLESS_URL sets the address`, { cause: err });
  const transport = transportFailure(err);
  if (transport) return new CliError(`cannot reach Lidless at ${url}: ${oneLine(transport)}`, { cause: err });
  if (err instanceof TRPCClientError) return new CliError(`unexpected answer from ${url}: ${oneLine(err.message)}`, { cause: err });
  return new CliError(oneLine((err as Error)?.message ?? String(err)), { cause: err });
}

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
