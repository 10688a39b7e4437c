/**
 * OTLP times are uint64 nanoseconds since the epoch, as decimal strings (protobuf object form, and
 * JSON senders that follow the protobuf JSON mapping) or JSON numbers. Nanoseconds are past 2^53, so a
 * string is converted with BigInt, never through a float; milliseconds are all Lidless keeps.
 */
const NANOS_PER_MS = 1_000_000n;
const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(2200, 0, 1);

/**
 * Epoch milliseconds, or undefined when the time is absent or 0 (OTLP's "unset"). Throws a plain Error
 * with a readable reason for a malformed value or one outside the years 2000 to 2200.
 */
export function nanosToMs(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '' || value === 0 || (typeof value === 'string' && /^0+$/.test(value))) {
    return undefined;
  }
  let ms: number;
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    ms = Number(BigInt(value) / NANOS_PER_MS);
  } else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    ms = Math.floor(value / 1e6);
  } else {
    throw new Error('must be unsigned nanoseconds since the epoch');
  }
  if (ms < MIN_MS || ms > MAX_MS) throw new Error('must be nanoseconds since the epoch between the years 2000 and 2200');
  return ms;
}
