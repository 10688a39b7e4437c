/**
 * OTLP `AnyValue` and attribute lists as plain JS values. Senders disagree on types (`intValue` as a
 * string or a number; Claude Code sends every number and boolean as a string), so the readers below
 * accept both forms.
 */
export type Attributes = Record<string, unknown>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An `AnyValue` as a JS value: 64-bit integers become numbers when exact, else stay decimal strings. */
export function anyValueToJs(value: unknown): unknown {
  if (!isRecord(value)) return null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return intToJs(value.intValue);
  if ('doubleValue' in value) return typeof value.doubleValue === 'string' ? Number(value.doubleValue) : value.doubleValue;
  if ('arrayValue' in value) {
    const values = isRecord(value.arrayValue) && Array.isArray(value.arrayValue.values) ? value.arrayValue.values : [];
    return values.map(anyValueToJs);
  }
  if ('kvlistValue' in value) {
    return attributesToObject(isRecord(value.kvlistValue) ? value.kvlistValue.values : undefined);
  }
  if ('bytesValue' in value) return value.bytesValue;
  return null;
}

function intToJs(value: unknown): unknown {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  return value ?? null;
}

/** A `KeyValue[]` list as a plain object (a repeated key keeps its last value). */
export function attributesToObject(list: unknown): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const entry of list) {
    if (isRecord(entry) && typeof entry.key === 'string') out[entry.key] = anyValueToJs(entry.value);
  }
  return out;
}

/** A non-empty string attribute; numbers are accepted and written in decimal. */
export function readString(attrs: Attributes, key: string): string | undefined {
  const value = attrs[key];
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A finite number from a number or a numeric string (`"0.0123"` → 0.0123). */
export function readNumber(attrs: Attributes, key: string): number | undefined {
  const value = attrs[key];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A token count: a non-negative number, rounded to an integer. */
export function readCount(attrs: Attributes, key: string): number | undefined {
  const n = readNumber(attrs, key);
  return n !== undefined && n >= 0 ? Math.round(n) : undefined;
}

/** A boolean from `true`/`false` or the strings `"true"`/`"false"` (any case). */
export function readBoolean(attrs: Attributes, key: string): boolean | undefined {
  const value = attrs[key];
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return undefined;
}

/** The first key present in the first attribute set that has it, trying each key across all sets. */
export function firstString(sets: readonly Attributes[], keys: readonly string[]): { key: string; value: string } | undefined {
  for (const key of keys) {
    for (const attrs of sets) {
      const value = readString(attrs, key);
      if (value !== undefined) return { key, value };
    }
  }
  return undefined;
}

/** Attribute values as strings, for metric series labels. */
export function stringifyValues(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) {
    out[key] = typeof value === 'string' ? value : value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return out;
}
