/**
 * Secret redaction applied to every string before it is stored: values and object keys, at any depth.
 * Runs on every stored string twice per event and almost none holds a secret, so the common case is one
 * regex test per string and no allocation: unchanged strings, arrays and objects are returned as they are.
 */
import {
  EMAIL_RULE,
  MIN_SECRET_LENGTH,
  RULES,
  SECRET_KEY_NAME,
  anyTriggerTest,
  hasTrigger,
  marker,
  type Rule,
} from './patterns.ts';

export interface RedactionOptions {
  /** redact e-mail addresses (a per-tenant switch, on by default) */
  emails: boolean;
}

interface RuleSet {
  rules: readonly Rule[];
  /** true when some rule's trigger is present; when false, every rule's own trigger check would skip it too */
  anyTrigger: RegExp;
}

const WITHOUT_EMAIL: RuleSet = { rules: RULES, anyTrigger: anyTriggerTest(RULES) };
const WITH_EMAIL: RuleSet = { rules: [...RULES, EMAIL_RULE], anyTrigger: anyTriggerTest([...RULES, EMAIL_RULE]) };

const ALREADY_REDACTED = /^\[REDACTED:[a-z_]+\]$/;

interface Tally {
  count: number;
}

/** Replaces each secret with `[REDACTED:<kind>]`; `count` is the number of replacements. */
export function redactString(input: string, options: RedactionOptions): { value: string; count: number } {
  const tally = { count: 0 };
  const value = redactText(input, ruleSet(options), tally);
  return { value, count: tally.count };
}

/**
 * Walks arrays and plain objects (keys and values, any depth); non-strings untouched. What holds no
 * secret is returned as is, the input itself included: neither the input nor the result may be mutated.
 */
export function redactDeep<T>(value: T, options: RedactionOptions): { value: T; count: number } {
  const tally = { count: 0 };
  // the walk keeps the shape: strings stay strings, arrays arrays, plain objects plain objects
  const redacted = walk(value, ruleSet(options), tally) as T;
  return { value: redacted, count: tally.count };
}

function ruleSet(options: RedactionOptions): RuleSet {
  return options.emails ? WITH_EMAIL : WITHOUT_EMAIL;
}

function redactText(input: string, set: RuleSet, tally: Tally): string {
  if (input.length < MIN_SECRET_LENGTH || !set.anyTrigger.test(input)) return input;
  // each rule checks its triggers on the text as the rules before it left it
  let value = input;
  for (const rule of set.rules) {
    if (!hasTrigger(rule, value)) continue;
    const replaced = rule.apply(value);
    value = replaced.value;
    tally.count += replaced.count;
  }
  return value;
}

function walk(value: unknown, set: RuleSet, tally: Tally): unknown {
  if (typeof value === 'string') return redactText(value, set, tally);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return walkArray(value, set, tally);
  const proto: unknown = Object.getPrototypeOf(value);
  // an object without a prototype comes back as an ordinary plain object, so it is always rebuilt
  if (proto === Object.prototype || proto === null) {
    return walkObject(value as Record<string, unknown>, set, tally, proto === null);
  }
  return value;
}

function walkArray(value: unknown[], set: RuleSet, tally: Tally): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i += 1) {
    const item = value[i];
    const redacted = walk(item, set, tally);
    if (redacted === item) continue;
    // slice keeps holes as holes, as map would
    out ??= value.slice();
    out[i] = redacted;
  }
  return out ?? value;
}

function walkObject(value: Record<string, unknown>, set: RuleSet, tally: Tally, rebuild: boolean): Record<string, unknown> {
  const keys = Object.keys(value);
  // each property is read once (a getter runs once); redacted names are kept only once one differs
  const items: unknown[] = [];
  let names: string[] | undefined;
  let changed = rebuild;
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i]!;
    const item = value[key];
    const name = redactText(key, set, tally);
    const redacted = isSecretField(value, key) ? redactSecretField(item, set, tally) : walk(item, set, tally);
    items.push(redacted);
    if (redacted !== item) changed = true;
    if (name !== key) names ??= keys.slice(0, i);
    names?.push(name);
  }
  if (!changed && names === undefined) return value;

  // Keys left unchanged keep their names; a redacted key that collides with another gets `#2`, `#3`...
  // so no value is lost.
  const redactedKeys = names ?? keys;
  const taken = new Set(keys.filter((key, i) => redactedKeys[i] === key));
  const out: [string, unknown][] = [];
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i]!;
    const redactedKey = redactedKeys[i]!;
    let name = redactedKey;
    if (redactedKey !== key) {
      for (let n = 2; taken.has(name); n += 1) name = `${redactedKey}#${n}`;
      taken.add(name);
    }
    out.push([name, items[i]]);
  }
  // fromEntries defines own properties, so a `__proto__` key stays data and never becomes a prototype
  return Object.fromEntries(out);
}

/**
 * The value of a key such as `SecretAccessKey` is a secret as a whole, whatever it looks like; so is the
 * `value` of an OTLP attribute named so (`{ key: "aws_secret_access_key", value: { stringValue: "…" } }`).
 */
function isSecretField(owner: Record<string, unknown>, key: string): boolean {
  if (key === 'value' && typeof owner.key === 'string' && SECRET_KEY_NAME.test(owner.key)) return true;
  return SECRET_KEY_NAME.test(key);
}

function redactSecretField(item: unknown, set: RuleSet, tally: Tally): unknown {
  if (typeof item === 'string') return redactWholeSecret(item, tally);
  // an OTLP AnyValue holding a string
  if (isStringValue(item)) {
    const secret = redactWholeSecret(item.stringValue, tally);
    return secret === item.stringValue ? item : { stringValue: secret };
  }
  return walk(item, set, tally);
}

function isStringValue(item: unknown): item is { stringValue: string } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
  const keys = Object.keys(item);
  return keys.length === 1 && keys[0] === 'stringValue' && typeof (item as { stringValue: unknown }).stringValue === 'string';
}

function redactWholeSecret(item: string, tally: Tally): string {
  if (item === '' || ALREADY_REDACTED.test(item)) return item;
  tally.count += 1;
  return marker('aws_secret_access_key');
}
