import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadRequestError } from '../errors.ts';

/**
 * Opaque, tamper-evident paging cursors: the position, the tenant and the list it belongs to, signed
 * with a server-side key. A cursor from one tenant or one list cannot be replayed against another.
 */
export function encodeCursor(key: Buffer, scope: { tenantId: string; list: string }, position: unknown): string {
  const body = Buffer.from(JSON.stringify({ t: scope.tenantId, l: scope.list, p: position })).toString('base64url');
  const mac = createHmac('sha256', key).update(body).digest('base64url').slice(0, 22);
  return `${body}.${mac}`;
}

export function decodeCursor<T>(key: Buffer, scope: { tenantId: string; list: string }, cursor: string): T {
  const [body, mac] = cursor.split('.');
  const bad = new BadRequestError('cursor: not a cursor of this list (use nextCursor as returned)');
  if (!body || !mac) throw bad;
  const expected = createHmac('sha256', key).update(body).digest('base64url').slice(0, 22);
  if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) throw bad;
  let parsed: { t: string; l: string; p: T };
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  if (parsed.t !== scope.tenantId || parsed.l !== scope.list) throw bad;
  return parsed.p;
}

export function cursorKeyFrom(secret: string): Buffer {
  return createHmac('sha256', 'lidless-cursor-v1').update(secret).digest();
}
