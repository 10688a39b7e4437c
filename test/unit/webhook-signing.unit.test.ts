import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signPayload, verifySignature } from '../../shared/alerts/webhook/signing.ts';

const secret = 'whsec_test-secret';
const body = '{"id":"evt_1","type":"alert.firing","value":12.5}';
const t = 1_700_000_000;
const atT = () => t * 1000;

describe('webhook signing', () => {
  it('signs "<t>.<raw body>" with HMAC-SHA256 as lowercase hex', () => {
    // Prepare: the expected value computed independently, as a receiver would
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

    // Act
    const header = signPayload(secret, body, t);

    // Assess
    expect(header).toBe(`t=${t},v1=${expected}`);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('verifies a good signature', () => {
    expect(verifySignature(secret, body, signPayload(secret, body, t), { now: atT })).toBe(true);
  });

  it('rejects a tampered body, a wrong secret and a stale timestamp', () => {
    const header = signPayload(secret, body, t);

    expect(verifySignature(secret, body.replace('12.5', '13.5'), header, { now: atT })).toBe(false);
    expect(verifySignature('whsec_other', body, header, { now: atT })).toBe(false);
    expect(verifySignature(secret, body, header, { now: () => (t + 301) * 1000 })).toBe(false);
    expect(verifySignature(secret, body, header, { now: () => (t + 301) * 1000, toleranceSeconds: 600 })).toBe(true);
  });

  it('rejects a header whose timestamp was changed after signing', () => {
    const header = signPayload(secret, body, t).replace(`t=${t}`, `t=${t + 1}`);

    expect(verifySignature(secret, body, header, { now: atT })).toBe(false);
  });

  it('rejects malformed headers', () => {
    for (const header of ['', 'garbage', `t=${t}`, 'v1=abcd', `t=${t},v1=short`]) {
      expect(verifySignature(secret, body, header, { now: atT })).toBe(false);
    }
  });

  it('accepts a header carrying several v1 values when one matches (secret rotation)', () => {
    const good = signPayload(secret, body, t);
    const old = signPayload('whsec_old', body, t).split(',')[1];

    expect(verifySignature(secret, body, `${good},${old}`, { now: atT })).toBe(true);
  });

  it('makes distinct secrets with the whsec_ prefix and 32 random bytes', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();

    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});
