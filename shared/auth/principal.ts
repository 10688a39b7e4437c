import { ForbiddenError, UnauthorizedError } from '../errors.ts';
import type { ControlTable, Scope } from '../store/control-table.ts';
import { constantTimeEqual, hashSecret, hashesEqual, parseSecret } from './secrets.ts';

/** Who is calling, as verified from the presented secret. Tenancy is decided from this, never from a payload. */
export type Principal =
  | { kind: 'operator' }
  | { kind: 'tenantKey'; keyId: string; tenantId: string; scopes: Scope[] }
  | { kind: 'consultant'; consultantId: string; tenantIds: string[] };

interface CacheEntry {
  principal: Principal | undefined;
  expires: number;
}

/**
 * Resolves `Authorization: Bearer <secret>` to a principal. Look-ups are cached for `cacheMs` (at most
 * 5 s, default 2 s) per warm process, so a revoked key, token or grant stops working within that bound.
 */
export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly control: ControlTable,
    private readonly operatorToken: () => Promise<string | undefined>,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret) throw new UnauthorizedError('missing credentials: send Authorization: Bearer <secret>');
    const cacheKey = hashSecret(secret);
    const hit = this.cache.get(cacheKey);
    let principal: Principal | undefined;
    if (hit && hit.expires > this.now()) {
      principal = hit.principal;
    } else {
      principal = await this.lookUp(secret);
      if (this.cacheMs > 0) {
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(cacheKey, { principal, expires: this.now() + this.cacheMs });
      }
    }
    if (!principal) throw new UnauthorizedError('unknown or revoked credentials');
    return principal;
  }

  private async lookUp(secret: string): Promise<Principal | undefined> {
    const parsed = parseSecret(secret);
    if (!parsed) {
      const op = await this.operatorToken();
      return op && constantTimeEqual(op, secret) ? { kind: 'operator' } : undefined;
    }
    const hash = hashSecret(secret);
    if (parsed.kind === 'tenantKey') {
      const key = await this.control.getKey(parsed.id);
      if (!key || key.revokedAt || !hashesEqual(key.hash, hash)) return undefined;
      return { kind: 'tenantKey', keyId: key.keyId, tenantId: key.tenantId, scopes: key.scopes };
    }
    const c = await this.control.getConsultant(parsed.id);
    if (!c || c.revokedAt || !hashesEqual(c.hash, hash)) return undefined;
    return { kind: 'consultant', consultantId: c.consultantId, tenantIds: c.tenantIds ?? [] };
  }
}

export function canRead(p: Principal, tenantId: string): boolean {
  if (p.kind === 'tenantKey') return p.tenantId === tenantId && p.scopes.includes('read');
  if (p.kind === 'consultant') return p.tenantIds.includes(tenantId);
  return false;
}

/** Readers may also manage the tenant's alert webhooks and rules (CONTRACT: whoever may read a tenant). */
export function assertCanRead(p: Principal, tenantId: string): void {
  if (!canRead(p, tenantId)) throw new ForbiddenError(`not allowed to read tenant ${tenantId}`);
}

export function assertOperator(p: Principal): void {
  if (p.kind !== 'operator') throw new ForbiddenError('only the operator may call admin procedures');
}

/** The tenant an ingest request writes to: the key's own, never one named in the payload. */
export function ingestTenant(p: Principal): string {
  if (p.kind === 'tenantKey' && p.scopes.includes('ingest')) return p.tenantId;
  throw new ForbiddenError('this credential may not ingest: a tenant key with scope "ingest" is needed');
}

/** Extracts the secret from `Authorization: Bearer` (or `x-api-key`, accepted on ingest). */
export function presentedSecret(headers: Record<string, string | undefined>, allowApiKey: boolean): string | undefined {
  const auth = headers['authorization'];
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return allowApiKey ? headers['x-api-key']?.trim() || undefined : undefined;
}
