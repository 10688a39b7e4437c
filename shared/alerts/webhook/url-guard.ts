/**
 * SSRF guard for webhook URLs. Outside local mode a webhook must be `https` and every address its host
 * resolves to must be public unicast: a user-supplied URL must not reach our loopback, VPC, cloud
 * metadata endpoint or anything else only the server can see. The check runs when the webhook is saved
 * and again at each delivery (the name may be re-pointed in between), and delivery connects to the
 * addresses checked here rather than resolving again.
 */
import { lookup, Resolver as DnsResolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Resolver = (host: string) => Promise<string[]>;

export interface UrlGuardOptions {
  /** under `npm start`: http, loopback and private addresses are allowed (a developer's machine) */
  localMode: boolean;
  /** how names become addresses; the system resolver by default, injectable for tests */
  resolve?: Resolver;
  /** how long a name may take to resolve (default RESOLVE_TIMEOUT_MS) */
  resolveTimeoutMs?: number;
}

/**
 * A name that takes longer is refused: a slow DNS server (a webhook owner's own) must not hold a
 * delivery batch, which other tenants' deliveries share, or the API, past their time.
 */
export const RESOLVE_TIMEOUT_MS = 5_000;

export type UrlCheck =
  /** `addresses` are the checked addresses delivery connects to (IPv4-mapped ones as plain IPv4) */
  | { ok: true; url: URL; addresses: string[] }
  | { ok: false; reason: string };

/**
 * The system's resolver (hosts file, then DNS), for a developer's machine (`localhost` and the like).
 * It runs on libuv's four threads and cannot be cancelled, so outside local mode names go to DNS
 * directly: c-ares times out by itself, and a slow name server holds no thread other lookups need.
 */
const systemResolve: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

const dnsResolve: Resolver = async (host) => {
  // loopback by definition (RFC 6761), though no name server answers for it
  if (host === 'localhost' || host.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  const resolver = new DnsResolver({ timeout: 2_000, tries: 2 });
  const answers = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const found = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
  if (found.length === 0) throw new Error(`${host} has no address`);
  return found;
};

// Named explicitly for a clearer refusal; both also fall in ranges refused anyway.
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254']);

// Only 2000::/3 is allocated for global unicast; ipaddr calls e.g. IPv4-compatible ::a.b.c.d "unicast".
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

const RANGE_WORDS: Record<string, string> = {
  private: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  carrierGradeNat: 'carrier-grade NAT',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'broadcast',
  reserved: 'reserved',
};

export interface ClassifiedAddress {
  /** normalised text of the address */
  address: string;
  /** 'public', or what kind of non-public address it is, in words */
  kind: string;
  isPublic: boolean;
}

/**
 * Normalises one address (IPv4-mapped IPv6 becomes IPv4, so `::ffff:127.0.0.1` is judged as loopback)
 * and says whether it is public unicast or which kind of non-public address it is; undefined when
 * the text is not an IP address.
 */
export function classifyAddress(raw: string): ClassifiedAddress | undefined {
  if (!ipaddr.isValid(raw)) return undefined;
  const parsed = ipaddr.process(raw);
  const address = parsed.toString();
  if (METADATA_ADDRESSES.has(address)) return { address, kind: 'cloud metadata', isPublic: false };
  const range = parsed.range();
  if (range !== 'unicast') return { address, kind: RANGE_WORDS[range] ?? 'non-public', isPublic: false };
  if (parsed.kind() === 'ipv6' && !parsed.match(GLOBAL_UNICAST_V6)) {
    return { address, kind: 'non-public', isPublic: false };
  }
  return { address, kind: 'public', isPublic: true };
}

function parseUrl(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

/** WHATWG URL keeps IPv6 hosts in brackets; resolvers and classifiers want them bare. */
function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export async function checkWebhookUrl(raw: string, opts: UrlGuardOptions): Promise<UrlCheck> {
  const url = parseUrl(raw);
  if (!url) return { ok: false, reason: 'webhook URL is not a valid absolute URL' };
  if (url.protocol !== 'https:' && !(opts.localMode && url.protocol === 'http:')) {
    return { ok: false, reason: opts.localMode ? 'webhook URL must use http or https' : 'webhook URL must use https' };
  }
  if (url.username || url.password) return { ok: false, reason: 'webhook URL must not contain credentials' };
  const host = bareHost(url);
  if (!host) return { ok: false, reason: 'webhook URL has no host' };

  const literal = isIP(host) !== 0;
  let resolved: string[];
  if (literal) {
    resolved = [host];
  } else {
    const timeoutMs = opts.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const answer = await Promise.race([(opts.resolve ?? (opts.localMode ? systemResolve : dnsResolve))(host), timedOut]);
      if (answer === 'timeout') return { ok: false, reason: `webhook host ${host} did not resolve within ${timeoutMs} ms` };
      resolved = answer;
    } catch {
      return { ok: false, reason: `webhook host ${host} could not be resolved` };
    } finally {
      clearTimeout(timer);
    }
    if (resolved.length === 0) return { ok: false, reason: `webhook host ${host} could not be resolved` };
  }

  const addresses: string[] = [];
  for (const candidate of resolved) {
    const result = classifyAddress(candidate);
    if (!result) return { ok: false, reason: `webhook host resolved to something that is not an IP address (${candidate})` };
    if (!result.isPublic && !opts.localMode) {
      const subject = literal ? 'webhook host is' : 'webhook host resolves to';
      // by sound, not letter: "an unspecified", but "a unique-local"
      const article = /^(?:[aeio]|un(?!i))/i.test(result.kind) ? 'an' : 'a';
      return { ok: false, reason: `${subject} ${article} ${result.kind} address (${result.address})` };
    }
    if (!addresses.includes(result.address)) addresses.push(result.address);
  }
  return { ok: true, url, addresses };
}
