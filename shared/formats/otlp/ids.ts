/**
 * Trace and span ids arrive as hex (OTLP JSON encoding) or base64 (protobuf bytes in object form, and
 * some JSON senders). Lidless always uses lowercase hex. An empty or all-zero id is "absent", as the
 * OTLP spec says.
 */
export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * The id as lowercase hex, or undefined when absent. Throws a plain Error naming the problem when the
 * value is neither hex nor base64 of `bytes` bytes (the caller turns it into a rejection).
 */
export function toHexId(value: unknown, bytes: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error('must be a hex or base64 string');
  // A hex id is exactly 2 characters a byte; base64 of 16 or 8 bytes is 24 or 12 characters (22 or 11
  // unpadded), so the length decides when a string would fit both alphabets.
  let hex: string;
  if (value.length === bytes * 2 && HEX.test(value)) {
    hex = value.toLowerCase();
  } else if (BASE64.test(value)) {
    const decoded = Buffer.from(value, 'base64');
    if (decoded.length !== bytes) throw new Error(`must be ${bytes} bytes as hex or base64`);
    hex = decoded.toString('hex');
  } else {
    throw new Error(`must be ${bytes} bytes as hex or base64`);
  }
  return /^0+$/.test(hex) ? undefined : hex;
}
