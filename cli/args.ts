import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';

/** Command-line parsing on `node:util` parseArgs, with its errors turned into one-line usage errors. */
export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(args: readonly string[], options: Options, usage: string): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (err) {
    // node's messages go on to explain `--`; the first sentence is what the user needs
    const message = (err as Error).message.split(/\.\s/)[0]!.replace(/\.$/, '');
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1), usage);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** A repeatable option; each occurrence may also hold a comma-separated list. */
export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  const raw = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
  return raw.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function oneOf<T extends string>(p: Parsed, name: string, allowed: readonly T[], usage: string): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}`, usage);
  return v as T;
}

export function positiveInt(p: Parsed, name: string, usage: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}`, usage);
  return n;
}

export function nonNegative(p: Parsed, name: string, usage: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v.replace(/^\$/, ''));
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number >= 0`, usage);
  return n;
}

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A time given as an ISO-8601 time or a UTC date. As an upper bound a date means the end of that day,
 * so `--from 2026-11-01 --to 2026-11-07` covers seven whole days; an ISO time is taken as it is.
 */
export function time(p: Parsed, name: string, usage: string, bound: 'from' | 'to'): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (DATE_ONLY.test(v)) {
    const ms = Date.parse(`${v}T00:00:00Z`);
    if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== v) throw new UsageError(`--${name}: ${v} is not a date`, usage);
    return bound === 'to' ? ms + DAY_MS : ms;
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v}Z`) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO-8601 time or a date YYYY-MM-DD, not "${v}"`, usage);
  return ms;
}

export const toIso = (ms: number) => new Date(ms).toISOString();
