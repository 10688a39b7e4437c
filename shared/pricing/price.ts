/**
 * Cost of a step from its model and token usage. A cost the client sent stands; otherwise the model is
 * looked up in the dated price table (tenant overrides first). Tokens of a model with no price are
 * reported as unpriced, never priced at a guess: a table pattern only covers names that add a date,
 * a build number or a release tag to it, never a newer version or another size of the model.
 */
import type { Usage } from '../model.ts';
import { PRICE_TABLE, type ModelPrice } from './price-table.ts';

export type { ModelPrice } from './price-table.ts';

/** A per-tenant price; `pattern` is matched like the table's, as an exact name or a `-`-segment prefix. */
export interface PriceOverride {
  pattern: string;
  price: ModelPrice;
}

// Bedrock inference-profile / model-id prefixes: `us.anthropic.`, `global.anthropic.`, `anthropic.`
const CLOUD_PREFIX = /^(?:(?:us|eu|apac|global|us-gov|jp|au|ca)\.)?(?:anthropic|openai|google)\./;
const VERSION_SUFFIX = /-v\d+(?::\d+)?$/; // Bedrock `-v1:0`
const AT_SUFFIX = /@.*$/; // Vertex `claude-sonnet-4-5@20250929`
const DOTTED_VERSION = /(?<=\d)\.(?=\d)/g; // `claude-sonnet-4.5` is `claude-sonnet-4-5`; `gpt-4.1` is `gpt-4-1` on both sides
const DATE_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2})$/; // `-20250929`, `-2025-08-07`

/** The name without provider path, cloud prefix and suffixes, but with its snapshot date. */
function baseName(model: string): string {
  let name = model.trim().toLowerCase();
  name = name.slice(name.lastIndexOf('/') + 1); // `anthropic/`, `models/`, `publishers/google/models/`
  return name.replace(CLOUD_PREFIX, '').replace(AT_SUFFIX, '').replace(VERSION_SUFFIX, '').replace(DOTTED_VERSION, '-');
}

/** The form model names are matched in: `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5`. */
export function normaliseModelName(model: string): string {
  return baseName(model).replace(DATE_SUFFIX, '');
}

/** Both forms are tried, so a pattern may name one snapshot (`gpt-4o-2024-05-13`) or the model. */
function nameForms(model: string): string[] {
  const withDate = baseName(model);
  const withoutDate = withDate.replace(DATE_SUFFIX, '');
  return withDate === withoutDate ? [withDate] : [withDate, withoutDate];
}

/** What may follow a table pattern: a date or build number (`-001`), or a release tag. */
const HARMLESS_SUFFIX = /^(?:\d{3,}|latest|preview|exp|chat)(?:-|$)/;

function coversTable(pattern: string, name: string): boolean {
  if (name === pattern) return true;
  return name.startsWith(`${pattern}-`) && HARMLESS_SUFFIX.test(name.slice(pattern.length + 1));
}

function coversOverride(pattern: string, name: string): boolean {
  return name === pattern || name.startsWith(`${pattern}-`);
}

interface DatedPrice {
  from: number;
  price: ModelPrice;
}

/** pattern → its versions, newest first */
const TABLE = new Map<string, DatedPrice[]>();
for (const entry of PRICE_TABLE) {
  const pattern = baseName(entry.pattern);
  const versions = TABLE.get(pattern) ?? [];
  versions.push({ from: Date.parse(entry.effectiveFrom), price: entry.price });
  versions.sort((a, b) => b.from - a.from);
  TABLE.set(pattern, versions);
}

/** The longest pattern covering one of the name's forms. */
function mostSpecific<P>(
  candidates: Iterable<[string, P]>,
  forms: readonly string[],
  covers: (pattern: string, name: string) => boolean,
): P | undefined {
  let best: [string, P] | undefined;
  for (const candidate of candidates) {
    const [pattern] = candidate;
    if (best && pattern.length <= best[0].length) continue;
    if (forms.some((name) => covers(pattern, name))) best = candidate;
  }
  return best?.[1];
}

/**
 * The price of `model` at `at` (epoch ms): a matching override if any, else the table's version in force
 * then. An event older than the model's first listed price gets that first price (early access, skewed
 * clocks). `undefined` when nothing matches.
 */
export function findPrice(model: string, at: number, overrides?: readonly PriceOverride[]): ModelPrice | undefined {
  const forms = nameForms(model);
  if (forms[0] === '') return undefined;

  if (overrides && overrides.length > 0) {
    const override = mostSpecific(
      overrides.map((o): [string, ModelPrice] => [baseName(o.pattern), o.price]),
      forms,
      coversOverride,
    );
    if (override) return override;
  }

  const versions = mostSpecific(TABLE.entries(), forms, coversTable);
  if (!versions) return undefined;
  return (versions.find((v) => v.from <= at) ?? versions[versions.length - 1])?.price;
}

/** cost of a step; a client-sent cost stands; tokens of an unknown model are unpriced, never guessed */
export function priceStep(
  input: { model?: string; usage?: Usage; costUsd?: number; at: number },
  overrides?: readonly PriceOverride[],
): { costUsd: number | undefined; unpricedTokens: number } {
  if (input.costUsd !== undefined) return { costUsd: input.costUsd, unpricedTokens: 0 };

  const usage = input.usage ?? {};
  const tokens = {
    input: usage.inputTokens ?? 0,
    output: usage.outputTokens ?? 0,
    cacheRead: usage.cacheReadTokens ?? 0,
    cacheWrite: usage.cacheWriteTokens ?? 0,
  };
  const total = tokens.input + tokens.output + tokens.cacheRead + tokens.cacheWrite;
  const price = input.model === undefined ? undefined : findPrice(input.model, input.at, overrides);

  if (!price) return { costUsd: undefined, unpricedTokens: total };
  const perMillion =
    tokens.input * price.input +
    tokens.output * price.output +
    tokens.cacheRead * price.cacheRead +
    tokens.cacheWrite * price.cacheWrite;
  // rounded to 1e-10 US$ so sums of prices like 0.1 + 0.2 do not show float noise
  return { costUsd: Math.round(perMillion * 1e4) / 1e10, unpricedTokens: 0 };
}
