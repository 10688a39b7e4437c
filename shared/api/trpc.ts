import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { z, ZodError } from 'zod';
import type { Stores } from '../store/clients.ts';
import type { ControlTable } from '../store/control-table.ts';
import type { Config } from '../config.ts';
import { assertCanRead, assertOperator, type Authenticator, type Principal } from '../auth/principal.ts';
import { LidlessError, type ErrorCode } from '../errors.ts';
import { logger } from '../observability/telemetry.ts';

/**
 * tRPC setup: the context, error mapping and the three kinds of procedure. Authorisation happens
 * here, once: `operatorProcedure` for admin.*, `readerProcedure` for everything that names a tenant.
 */
export interface ApiContext {
  /** undefined when the request carried no secret: procedures that need one answer UNAUTHORIZED */
  secret: string | undefined;
  auth: Authenticator;
  stores: Stores;
  control: ControlTable;
  cfg: Config;
  cursorKey: Buffer;
  requestId: string;
  now: () => number;
}

const CODES: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

function describeZod(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.join('.') || 'input';
      return i.code === 'unrecognized_keys' ? `${path === 'input' ? '' : path + ': '}unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` : `${path}: ${i.message}`;
    })
    .join('; ');
}

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    // internal errors are logged with their cause and answered without internals
    if (error.code === 'INTERNAL_SERVER_ERROR') return { ...shape, message: 'internal error', data: { ...shape.data, stack: undefined } };
    const message = error.cause instanceof ZodError ? describeZod(error.cause) : shape.message;
    return { ...shape, message, data: { ...shape.data, stack: undefined } };
  },
});

export const router = t.router;

/** Domain errors become tRPC errors with the same meaning; anything else is wrapped and logged. */
const mapErrors = t.middleware(async ({ next, ctx, path }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof LidlessError) {
      throw new TRPCError({ code: CODES[cause.code], message: cause.message, cause });
    }
    if (result.error.code === 'INTERNAL_SERVER_ERROR') logger.error('procedure failed', { path, requestId: ctx.requestId, error: result.error.cause ?? result.error });
  }
  return result;
});

const authenticated = t.middleware(async ({ ctx, next }) => {
  const principal: Principal = await ctx.auth.authenticate(ctx.secret);
  return next({ ctx: { ...ctx, principal } });
});

export const publicProcedure = t.procedure.use(mapErrors);
export const authedProcedure = publicProcedure.use(authenticated);

export const operatorProcedure = authedProcedure.use(async ({ ctx, next }) => {
  assertOperator(ctx.principal);
  return next();
});

export const tenantIdSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be a tenant id');

/**
 * Every procedure that names a tenant: the tenant in the input must be one the principal may read.
 * (The base input only picks `tenantId`; each procedure declares its full, strict input.)
 */
export const readerProcedure = authedProcedure
  .input(z.object({ tenantId: tenantIdSchema }))
  .use(async ({ ctx, input, next }) => {
    assertCanRead(ctx.principal, input.tenantId);
    return next();
  });

/** Times in: an ISO-8601 time with its offset (seconds optional), or a date alone (its midnight, UTC). */
const ISO_FORMS = [z.iso.datetime({ offset: true }), z.iso.datetime({ offset: true, precision: -1 }), z.iso.date()];
export const isoTime = z
  .string()
  .refine((s) => ISO_FORMS.some((form) => form.safeParse(s).success), 'must be an ISO-8601 time with an offset (2026-11-23T10:00:00Z) or a date (2026-11-23)')
  .transform((s) => Date.parse(s));
export const limitSchema = z.number().int().min(1).max(500).default(50);
