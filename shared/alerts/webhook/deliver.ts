/**
 * One webhook delivery attempt: check the URL again, sign the body afresh, POST it to the checked
 * address, and report what happened. Retrying and recording attempts belong to the caller.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { signPayload } from './signing.ts';
import { checkWebhookUrl, type Resolver } from './url-guard.ts';

export const USER_AGENT = 'lidless-webhooks/1';
/** Receivers' answers are not used; reading a little lets a short reply finish cleanly. */
const MAX_RESPONSE_BYTES = 4096;

export interface DeliveryInput {
  url: string;
  secret: string;
  eventId: string;
  /** the exact JSON text sent and signed */
  body: string;
  /** time allowed for the receiver to answer with a status */
  timeoutMs: number;
  localMode: boolean;
  /** clock in milliseconds; Date.now by default */
  now?: () => number;
  resolve?: Resolver;
}

export interface DeliveryAttempt {
  ok: boolean;
  statusCode?: number;
  error?: string;
  /** ISO time the attempt started */
  attemptedAt: string;
}

type Outcome = Omit<DeliveryAttempt, 'attemptedAt'>;

export async function deliverOnce(input: DeliveryInput): Promise<DeliveryAttempt> {
  const now = input.now ?? Date.now;
  const attemptedAt = new Date(now()).toISOString();
  // Checked at every attempt: the name may point somewhere else than when the webhook was saved.
  const check = await checkWebhookUrl(input.url, { localMode: input.localMode, resolve: input.resolve });
  if (!check.ok) return { ok: false, error: check.reason, attemptedAt };

  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(input.body, 'utf8')),
    'user-agent': USER_AGENT,
    'x-lidless-event-id': input.eventId,
    'x-lidless-signature': signPayload(input.secret, input.body, Math.floor(now() / 1000)),
  };
  const outcome = await post(check.url, check.addresses, headers, input.body, input.timeoutMs);
  return { ...outcome, attemptedAt };
}

/**
 * Answers the socket's name lookup with the addresses the guard approved, so a second DNS answer
 * cannot send the request elsewhere. The URL keeps the name, so Host and TLS SNI are unchanged.
 */
function pinnedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    const first = entries[0];
    if (options.all) callback(null, entries);
    else if (first) callback(null, first.address, first.family);
    else callback(Object.assign(new Error('no checked address to connect to'), { code: 'ENOTFOUND' }), '');
  };
}

function outcomeForStatus(statusCode: number): Outcome {
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode };
  // Following a redirect would let a receiver point us at an address the guard never saw.
  if (statusCode >= 300 && statusCode < 400) return { ok: false, statusCode, error: `redirect not followed (HTTP ${statusCode})` };
  return { ok: false, statusCode, error: `receiver answered HTTP ${statusCode}` };
}

function post(
  url: URL,
  addresses: string[],
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    let statusCode: number | undefined;
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };

    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, {
      method: 'POST',
      headers,
      // A private agent: no pooled socket from an earlier lookup is reused, none lingers after.
      agent: false,
      lookup: pinnedLookup(addresses),
    });

    const timer = setTimeout(() => {
      finish(statusCode === undefined ? { ok: false, error: `timeout after ${timeoutMs} ms` } : outcomeForStatus(statusCode));
      request.destroy();
    }, timeoutMs);

    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      statusCode = status;
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) {
          finish(outcomeForStatus(status));
          response.destroy();
        }
      });
      response.on('end', () => finish(outcomeForStatus(status)));
      response.on('close', () => finish(outcomeForStatus(status)));
      response.on('error', () => finish(outcomeForStatus(status)));
    });
    request.on('error', (err) => finish({ ok: false, error: err.message }));
    request.end(body);
  });
}
