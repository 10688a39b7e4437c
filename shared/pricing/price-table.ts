/**
 * Public list prices of the models coding agents use, in US$ per million tokens, standard tier.
 *
 * - Anthropic: cache write is the 5-minute write (1.25 × input), cache read 0.1 × input.
 * - OpenAI: cacheRead is the "cached input" price; there is no separate write charge, so cacheWrite = input.
 * - Google: cacheRead is the context-caching price (≤ 200K-token prompts); writes bill as input.
 * Long-context premiums (prompts over 200K tokens), batch and priority tiers are not modelled.
 *
 * A model may have several dated versions: the one in force at an event is the newest `effectiveFrom`
 * on or before it. Patterns are model names as `normaliseModelName` writes them (dots in versions are
 * fine, they are normalised the same way on both sides).
 */

/** US$ per 1M tokens */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface PriceEntry {
  pattern: string;
  /** ISO day (UTC) from which this price applies */
  effectiveFrom: string;
  price: ModelPrice;
}

const price = (input: number, output: number, cacheRead: number, cacheWrite: number): ModelPrice => ({
  input,
  output,
  cacheRead,
  cacheWrite,
});

export const PRICE_TABLE: readonly PriceEntry[] = [
  // Anthropic
  { pattern: 'claude-opus-4-5', effectiveFrom: '2025-11-24', price: price(5, 25, 0.5, 6.25) },
  { pattern: 'claude-opus-4-1', effectiveFrom: '2025-08-05', price: price(15, 75, 1.5, 18.75) },
  { pattern: 'claude-opus-4', effectiveFrom: '2025-05-22', price: price(15, 75, 1.5, 18.75) },
  { pattern: 'claude-sonnet-4-5', effectiveFrom: '2025-09-29', price: price(3, 15, 0.3, 3.75) },
  { pattern: 'claude-sonnet-4', effectiveFrom: '2025-05-22', price: price(3, 15, 0.3, 3.75) },
  { pattern: 'claude-haiku-4-5', effectiveFrom: '2025-10-15', price: price(1, 5, 0.1, 1.25) },
  { pattern: 'claude-3-7-sonnet', effectiveFrom: '2025-02-24', price: price(3, 15, 0.3, 3.75) },
  { pattern: 'claude-3-5-sonnet', effectiveFrom: '2024-06-20', price: price(3, 15, 0.3, 3.75) },
  { pattern: 'claude-3-5-haiku', effectiveFrom: '2024-11-04', price: price(0.8, 4, 0.08, 1) },
  { pattern: 'claude-3-opus', effectiveFrom: '2024-03-04', price: price(15, 75, 1.5, 18.75) },

  // OpenAI
  { pattern: 'gpt-5', effectiveFrom: '2025-08-07', price: price(1.25, 10, 0.125, 1.25) },
  { pattern: 'gpt-5-mini', effectiveFrom: '2025-08-07', price: price(0.25, 2, 0.025, 0.25) },
  { pattern: 'gpt-5-nano', effectiveFrom: '2025-08-07', price: price(0.05, 0.4, 0.005, 0.05) },
  { pattern: 'gpt-5-codex', effectiveFrom: '2025-09-15', price: price(1.25, 10, 0.125, 1.25) },
  { pattern: 'gpt-5-pro', effectiveFrom: '2025-10-06', price: price(15, 120, 15, 15) },
  { pattern: 'gpt-5.1', effectiveFrom: '2025-11-13', price: price(1.25, 10, 0.125, 1.25) },
  { pattern: 'gpt-5.1-codex', effectiveFrom: '2025-11-13', price: price(1.25, 10, 0.125, 1.25) },
  { pattern: 'gpt-4.1', effectiveFrom: '2025-04-14', price: price(2, 8, 0.5, 2) },
  { pattern: 'gpt-4.1-mini', effectiveFrom: '2025-04-14', price: price(0.4, 1.6, 0.1, 0.4) },
  { pattern: 'gpt-4.1-nano', effectiveFrom: '2025-04-14', price: price(0.1, 0.4, 0.025, 0.1) },
  { pattern: 'gpt-4o', effectiveFrom: '2024-08-06', price: price(2.5, 10, 1.25, 2.5) },
  // the first gpt-4o snapshot kept its launch price
  { pattern: 'gpt-4o-2024-05-13', effectiveFrom: '2024-05-13', price: price(5, 15, 5, 5) },
  { pattern: 'gpt-4o-mini', effectiveFrom: '2024-07-18', price: price(0.15, 0.6, 0.075, 0.15) },
  { pattern: 'o1', effectiveFrom: '2024-12-17', price: price(15, 60, 7.5, 15) },
  { pattern: 'o3', effectiveFrom: '2025-04-16', price: price(10, 40, 2.5, 10) },
  // o3 was cut by 80% on 10 June 2025
  { pattern: 'o3', effectiveFrom: '2025-06-10', price: price(2, 8, 0.5, 2) },
  { pattern: 'o3-pro', effectiveFrom: '2025-06-10', price: price(20, 80, 20, 20) },
  { pattern: 'o3-mini', effectiveFrom: '2025-01-31', price: price(1.1, 4.4, 0.55, 1.1) },
  { pattern: 'o4-mini', effectiveFrom: '2025-04-16', price: price(1.1, 4.4, 0.275, 1.1) },
  { pattern: 'codex-mini', effectiveFrom: '2025-05-16', price: price(1.5, 6, 0.375, 1.5) },

  // Google
  { pattern: 'gemini-3-pro', effectiveFrom: '2025-11-18', price: price(2, 12, 0.2, 2) },
  { pattern: 'gemini-2.5-pro', effectiveFrom: '2025-03-25', price: price(1.25, 10, 0.31, 1.25) },
  { pattern: 'gemini-2.5-flash', effectiveFrom: '2025-06-17', price: price(0.3, 2.5, 0.075, 0.3) },
  { pattern: 'gemini-2.5-flash-lite', effectiveFrom: '2025-07-22', price: price(0.1, 0.4, 0.025, 0.1) },
  { pattern: 'gemini-2.0-flash', effectiveFrom: '2025-02-05', price: price(0.1, 0.4, 0.025, 0.1) },
  // no context-caching discount is listed for 2.0 Flash-Lite
  { pattern: 'gemini-2.0-flash-lite', effectiveFrom: '2025-02-25', price: price(0.075, 0.3, 0.075, 0.075) },
];
