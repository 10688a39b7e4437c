/**
 * Secret redaction applied to every string before it is stored: values and object keys, at any depth.
 * Runs on every stored string, so the common case (no trigger substring) does no regex work at all.
 */
import { EMAIL_RULE, MIN_SECRET_LENGTH, RULES, SECRET_KEY_NAME, marker, type Rule } from './patterns.ts';

export interface RedactionOptions {
  /** redact e-mail addresses (a per-tenant switch, on by default) */
  emails: boolean;
}

const ALREADY_REDACTED = /^\[REDACTED:[a-z_]+\]$/;
const RULES_WITH_EMAIL: readonly Rule[] = [...RULES, EMAIL_RULE];

/** Replaces each secret with `[REDACTED:<kind>]`; `count` is the number of replacements. */
export function redactString(input: string, options: RedactionOptions): { value: string; count: number } {
  if (input.length < MIN_SECRET_LENGTH) return { value: input, count: 0 };
  let value = input;
  let count = 0;
  for (const rule of options.emails ? RULES_WITH_EMAIL : RULES) {
    if (!rule.triggers.some((trigger) => value.includes(trigger))) continue;
    const replaced = rule.apply(value);
    value = replaced.value;
    count += replaced.count;
  }
  return { value, count };
}

/** Walks arrays and plain objects (keys and values, any depth); returns a new value; non-strings untouched. */
export function redactDeep<T>(value: T, options: RedactionOptions): { value: T; count: number } {
  const tally = { count: 0 };
  // the walk keeps the shape: strings stay strings, arrays arrays, plain objects plain objects
  const redacted = walk(value, options, tally) as T;
  return { value: redacted, count: tally.count };
}

interface Tally {
  count: number;
}

function walk(value: unknown, options: RedactionOptions, tally: Tally): unknown {
  if (typeof value === 'string') {
    const replaced = redactString(value, options);
    tally.count += replaced.count;
    return replaced.value;
  }
  if (Array.isArray(value)) return value.map((item) => walk(item, options, tally));
  if (isPlainObject(value)) return walkObject(value, options, tally);
  return value;
}

function walkObject(value: Record<string, unknown>, options: RedactionOptions, tally: Tally): Record<string, unknown> {
  const entries = Object.entries(value).map(([key, item]) => {
    const redactedKey = redactString(key, options);
    tally.count += redactedKey.count;
    const redactedItem =
      SECRET_KEY_NAME.test(key) && typeof item === 'string' ? redactWholeSecret(item, tally) : walk(item, options, tally);
    return { key, redactedKey: redactedKey.value, item: redactedItem };
  });

  // Keys left unchanged keep their names; a redacted key that collides with another gets `#2`, `#3`...
  // so no value is lost.
  const taken = new Set(entries.filter((e) => e.redactedKey === e.key).map((e) => e.key));
  const out: [string, unknown][] = entries.map((e) => {
    if (e.redactedKey === e.key) return [e.key, e.item];
    let name = e.redactedKey;
    for (let n = 2; taken.has(name); n += 1) name = `${e.redactedKey}#${n}`;
    taken.add(name);
    return [name, e.item];
  });
  // fromEntries defines own properties, so a `__proto__` key stays data and never becomes a prototype
  return Object.fromEntries(out);
}

/** The value of a key such as `SecretAccessKey` is a secret as a whole, whatever it looks like. */
function redactWholeSecret(item: string, tally: Tally): string {
  if (item === '' || ALREADY_REDACTED.test(item)) return item;
  tally.count += 1;
  return marker('aws_secret_access_key');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
