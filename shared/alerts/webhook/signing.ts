/**
 * Webhook signatures: `x-lidless-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * The timestamp is inside the signed text so a captured request cannot be replayed later with a new `t`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

function hmacHex(secret: string, rawBody: string, unixSeconds: number): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`, 'utf8').digest('hex');
}

export function signPayload(secret: string, rawBody: string, unixSeconds: number): string {
  if (!Number.isInteger(unixSeconds)) throw new RangeError('signature timestamp must be whole seconds');
  return `t=${unixSeconds},v1=${hmacHex(secret, rawBody, unixSeconds)}`;
}

export interface VerifyOptions {
  /** how far the signed time may be from now, either way */
  toleranceSeconds?: number;
  /** clock in milliseconds; Date.now by default */
  now?: () => number;
}

/**
 * True when one of the header's `v1` values is the signature of this body at its `t`, and `t` is
 * within the tolerance. Several `v1` entries are accepted so a secret can be rotated without a gap.
 */
export function verifySignature(
  secret: string,
  rawBody: string,
  header: string,
  { toleranceSeconds = 300, now = Date.now }: VerifyOptions = {},
): boolean {
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === 'v1') candidates.push(value);
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  if (Math.abs(Math.floor(now() / 1000) - timestamp) > toleranceSeconds) return false;

  const expected = Buffer.from(hmacHex(secret, rawBody, timestamp), 'utf8');
  let matched = false;
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, 'utf8');
    // Lengths are public (always 64 hex chars); only the content comparison must be constant-time.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

/** A fresh signing secret, shown once to the user who creates the webhook. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}
