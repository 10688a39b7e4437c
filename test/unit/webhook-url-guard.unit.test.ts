import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, classifyAddress } from '../../shared/alerts/webhook/url-guard.ts';

const resolvesTo =
  (...addresses: string[]) =>
  async (): Promise<string[]> =>
    addresses;

describe('webhook URL guard outside local mode', () => {
  const strict = { localMode: false, resolve: resolvesTo('93.184.216.34') };

  it.each([
    ['https://127.0.0.1/hook', /loopback address \(127\.0\.0\.1\)/],
    ['https://10.0.0.1/hook', /private address \(10\.0\.0\.1\)/],
    ['https://169.254.169.254/latest/meta-data', /metadata address \(169\.254\.169\.254\)/],
    ['https://[::1]/hook', /loopback address \(::1\)/],
    ['https://[::ffff:127.0.0.1]/hook', /loopback address \(127\.0\.0\.1\)/],
  ])('refuses %s', async (url, reason) => {
    const result = await checkWebhookUrl(url, strict);

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('refuses a hostname that resolves to a private address', async () => {
    const result = await checkWebhookUrl('https://hooks.example.com/x', {
      localMode: false,
      resolve: resolvesTo('10.1.2.3'),
    });

    expect(result).toEqual({ ok: false, reason: 'webhook host resolves to a private address (10.1.2.3)' });
  });

  it('refuses a hostname when any one of its addresses is private', async () => {
    const result = await checkWebhookUrl('https://hooks.example.com/x', {
      localMode: false,
      resolve: resolvesTo('93.184.216.34', 'fd12::1'),
    });

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('unique-local address (fd12::1)');
  });

  it('refuses a hostname resolving to an IPv4-mapped private address', async () => {
    const result = await checkWebhookUrl('https://hooks.example.com/x', {
      localMode: false,
      resolve: resolvesTo('::ffff:192.168.1.10'),
    });

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('192.168.1.10');
  });

  it('refuses a hostname that does not resolve in time, without waiting for it', async () => {
    const started = Date.now();
    const check = await checkWebhookUrl('https://slow.example/hook', { localMode: false, resolve: () => new Promise(() => undefined), resolveTimeoutMs: 50 });

    expect(check).toEqual({ ok: false, reason: 'webhook host slow.example did not resolve within 50 ms' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses http', async () => {
    const result = await checkWebhookUrl('http://hooks.example.com/x', strict);

    expect(result).toEqual({ ok: false, reason: 'webhook URL must use https' });
  });

  it('refuses credentials in the URL and URLs that are not absolute', async () => {
    expect((await checkWebhookUrl('https://user:pw@hooks.example.com/x', strict)).ok).toBe(false);
    expect((await checkWebhookUrl('/relative/hook', strict)).ok).toBe(false);
    expect((await checkWebhookUrl('ftp://hooks.example.com/x', strict)).ok).toBe(false);
  });

  it('refuses a hostname that does not resolve', async () => {
    const result = await checkWebhookUrl('https://nowhere.invalid/x', {
      localMode: false,
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    });

    expect(result).toEqual({ ok: false, reason: 'webhook host nowhere.invalid could not be resolved' });
  });

  it('accepts a public https URL and returns the checked addresses', async () => {
    const result = await checkWebhookUrl('https://hooks.example.com/x', {
      localMode: false,
      resolve: resolvesTo('93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'),
    });

    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.url.hostname).toBe('hooks.example.com');
      expect(result.addresses).toEqual(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
    }
  });
});

describe('webhook URL guard in local mode', () => {
  it('accepts http to loopback', async () => {
    const result = await checkWebhookUrl('http://127.0.0.1:8787/hook', { localMode: true });

    expect(result.ok).toBe(true);
    if (result.ok) expect(result.addresses).toEqual(['127.0.0.1']);
  });

  it('accepts a name resolving to a private address', async () => {
    const result = await checkWebhookUrl('http://devbox.lan/hook', { localMode: true, resolve: resolvesTo('192.168.1.5') });

    expect(result.ok).toBe(true);
  });

  it('still refuses other schemes and credentials', async () => {
    expect(await checkWebhookUrl('file:///etc/passwd', { localMode: true })).toEqual({
      ok: false,
      reason: 'webhook URL must use http or https',
    });
    expect((await checkWebhookUrl('http://a:b@127.0.0.1/', { localMode: true })).ok).toBe(false);
  });
});

describe('address classification', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['172.16.5.4', 'private'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['ff02::1', 'multicast'],
    ['::', 'unspecified'],
    ['::7f00:1', 'non-public'],
    ['64:ff9b::a00:1', 'non-public'],
  ])('%s is not public (%s)', (address, kind) => {
    expect(classifyAddress(address)).toMatchObject({ isPublic: false, kind });
  });

  it('treats ordinary internet addresses as public', () => {
    expect(classifyAddress('8.8.8.8')?.isPublic).toBe(true);
    expect(classifyAddress('2001:4860:4860::8888')?.isPublic).toBe(true);
    expect(classifyAddress('::ffff:8.8.8.8')).toEqual({ address: '8.8.8.8', kind: 'public', isPublic: true });
  });

  it('does not classify text that is not an address', () => {
    expect(classifyAddress('example.com')).toBeUndefined();
  });
});
