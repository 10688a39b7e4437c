import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets are `<prefix>_<id>_<random>`: the id finds the stored record in one read, the random part
 * (192 bits) is only ever stored as a SHA-256 hash. A fast hash is right here: the secret is random and
 * long, so there is nothing to brute-force, unlike a password.
 */
export type SecretKind = 'tenantKey' | 'consultant';
const PREFIX: Record<SecretKind, string> = { tenantKey: 'ldl', consultant: 'ldc' };

export function newId(bytes = 9): string {
  return randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x');
}

export function issueSecret(kind: SecretKind): { id: string; secret: string; hash: string } {
  const id = newId(9);
  const secret = `${PREFIX[kind]}_${id}_${randomBytes(24).toString('base64url')}`;
  return { id, secret, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Splits a presented secret into its kind and id; undefined when it is not one of ours. */
export function parseSecret(secret: string): { kind: SecretKind; id: string } | undefined {
  const m = /^(ldl|ldc)_([A-Za-z0-9]{4,32})_[A-Za-z0-9_-]{16,}$/.exec(secret);
  if (!m) return undefined;
  return { kind: m[1] === 'ldl' ? 'tenantKey' : 'consultant', id: m[2]! };
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
