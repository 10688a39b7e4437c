import { describe, expect, it } from 'vitest';
import { PRICE_TABLE } from '../../shared/pricing/price-table.ts';
import { findPrice, normaliseModelName, priceStep, type PriceOverride } from '../../shared/pricing/price.ts';

const NOW = Date.parse('2025-12-01T12:00:00Z');
const day = (iso: string) => Date.parse(`${iso}T12:00:00Z`);

describe('findPrice: model names as agents send them', () => {
  it.each([
    ['claude-sonnet-4-5-20250929', { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }],
    ['anthropic/claude-sonnet-4-5', { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }],
    ['gpt-5-2025-08-07', { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 1.25 }],
    ['gemini-2.5-pro', { input: 1.25, output: 10, cacheRead: 0.31, cacheWrite: 1.25 }],
    ['claude-3-5-haiku-20241022', { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 }],
    ['claude-opus-4-1-20250805', { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 }],
    ['gpt-4o-mini-2024-07-18', { input: 0.15, output: 0.6, cacheRead: 0.075, cacheWrite: 0.15 }],
  ])('prices %s', (model, expected) => {
    expect(findPrice(model, NOW)).toEqual(expected);
  });

  it.each([
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude-3-5-sonnet'],
    ['claude-opus-4-1@20250805', 'claude-opus-4-1'],
    ['models/gemini-2.5-flash', 'gemini-2-5-flash'],
    ['publishers/google/models/gemini-2.5-pro', 'gemini-2-5-pro'],
    ['OpenAI/GPT-4.1-mini-2025-04-14', 'gpt-4-1-mini'],
    ['claude-sonnet-4.5', 'claude-sonnet-4-5'],
  ])('normalises %s to %s', (model, normalised) => {
    expect(normaliseModelName(model)).toBe(normalised);
    expect(findPrice(model, NOW)).toBeDefined();
  });

  it('covers release tags and build numbers of a listed model', () => {
    expect(findPrice('claude-3-5-haiku-latest', NOW)?.input).toBe(0.8);
    expect(findPrice('codex-mini-latest', NOW)).toEqual({ input: 1.5, output: 6, cacheRead: 0.375, cacheWrite: 1.5 });
    expect(findPrice('gemini-2.0-flash-001', NOW)?.input).toBe(0.1);
    expect(findPrice('gemini-2.5-flash-preview-09-2025', NOW)?.output).toBe(2.5);
    expect(findPrice('gpt-5-chat-latest', NOW)?.output).toBe(10);
  });
});

describe('findPrice: the most specific pattern wins', () => {
  it.each([
    ['gpt-5-mini', 0.25],
    ['gpt-5-nano', 0.05],
    ['gpt-5', 1.25],
    ['claude-sonnet-4-5', 3],
    ['claude-opus-4-5-20251101', 5],
    ['claude-opus-4-20250514', 15],
    ['gemini-2.5-flash-lite', 0.1],
    ['gemini-2.5-flash', 0.3],
    ['gpt-4.1-nano-2025-04-14', 0.1],
    ['gpt-4o-mini', 0.15],
    ['o3-mini', 1.1],
    ['o4-mini-2025-04-16', 1.1],
  ])('prices %s at its own input price', (model, input) => {
    expect(findPrice(model, NOW)?.input).toBe(input);
  });

  it('never prices a newer version or another size as the model it extends', () => {
    expect(findPrice('claude-opus-4-7', NOW)).toBeUndefined();
    expect(findPrice('gpt-5-codex-mini', NOW)).toBeUndefined();
    expect(findPrice('gemini-2.5-pro-ultra', NOW)).toBeUndefined();
    expect(findPrice('gpt-50', NOW)).toBeUndefined();
  });

  it('lets a pattern name one snapshot with its own price', () => {
    expect(findPrice('gpt-4o-2024-05-13', NOW)?.input).toBe(5);
    expect(findPrice('gpt-4o-2024-08-06', NOW)?.input).toBe(2.5);
  });

  it('does not know models outside the table', () => {
    expect(findPrice('llama-3.1-70b-instruct', NOW)).toBeUndefined();
    expect(findPrice('', NOW)).toBeUndefined();
  });
});

describe('findPrice: dated versions', () => {
  it('uses the newest price in force at the event time', () => {
    expect(findPrice('o3-2025-04-16', day('2025-05-01'))).toEqual({ input: 10, output: 40, cacheRead: 2.5, cacheWrite: 10 });
    expect(findPrice('o3-2025-04-16', day('2025-06-10'))).toEqual({ input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2 });
    expect(findPrice('o3', NOW)?.output).toBe(8);
  });

  it('gives an event older than the first listed price that first price', () => {
    expect(findPrice('o3', day('2025-01-01'))?.input).toBe(10);
  });
});

describe('findPrice: tenant overrides', () => {
  const overrides: PriceOverride[] = [
    { pattern: 'claude', price: { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1 } },
    { pattern: 'claude-sonnet-4-5', price: { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 } },
    { pattern: 'acme-coder', price: { input: 0.5, output: 0.5, cacheRead: 0, cacheWrite: 0 } },
  ];

  it('win over the table, the most specific override first', () => {
    expect(findPrice('us.anthropic.claude-sonnet-4-5-20250929-v1:0', NOW, overrides)?.input).toBe(2);
    expect(findPrice('claude-opus-4-1', NOW, overrides)?.input).toBe(1);
  });

  it('price models the table does not know, by name or prefix', () => {
    expect(findPrice('acme-coder', NOW, overrides)?.output).toBe(0.5);
    expect(findPrice('acme-coder-v2-large', NOW, overrides)?.output).toBe(0.5);
  });

  it('leave other models to the table', () => {
    expect(findPrice('gpt-5', NOW, overrides)?.input).toBe(1.25);
  });
});

describe('priceStep', () => {
  it('computes the cost from the four token counts, exactly', () => {
    // 1000 × 3 + 500 × 15 + 2000 × 0.3 + 100 × 3.75 = 11 475 US$ per million
    const result = priceStep({
      model: 'claude-sonnet-4-5-20250929',
      usage: { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWriteTokens: 100 },
      at: NOW,
    });

    expect(result).toEqual({ costUsd: 0.011475, unpricedTokens: 0 });
  });

  it('shows no float noise on prices like 0.1 and 0.3', () => {
    // 0.1 + 0.2 would be 0.30000000000000004 in floats
    const result = priceStep({ model: 'gpt-4.1-nano', usage: { inputTokens: 1, cacheReadTokens: 8 }, at: NOW });

    expect(result.costUsd).toBe(0.0000003);
  });

  it('keeps the cost the client sent', () => {
    const result = priceStep({ model: 'claude-sonnet-4-5', usage: { inputTokens: 1_000_000 }, costUsd: 0.42, at: NOW });

    expect(result).toEqual({ costUsd: 0.42, unpricedTokens: 0 });
  });

  it('keeps a client cost even for a model with no price', () => {
    expect(priceStep({ model: 'mystery-model', usage: { inputTokens: 10 }, costUsd: 0.01, at: NOW })).toEqual({
      costUsd: 0.01,
      unpricedTokens: 0,
    });
  });

  it('counts the tokens of an unknown model as unpriced instead of guessing', () => {
    const result = priceStep({
      model: 'mystery-model-9000',
      usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 3, cacheWriteTokens: 4 },
      at: NOW,
    });

    expect(result).toEqual({ costUsd: undefined, unpricedTokens: 127 });
  });

  it('counts tokens without a model as unpriced', () => {
    expect(priceStep({ usage: { outputTokens: 7 }, at: NOW })).toEqual({ costUsd: undefined, unpricedTokens: 7 });
  });

  it('costs 0 for a known model that used no tokens, and nothing for an unknown step', () => {
    expect(priceStep({ model: 'gpt-5', at: NOW })).toEqual({ costUsd: 0, unpricedTokens: 0 });
    expect(priceStep({ at: NOW })).toEqual({ costUsd: undefined, unpricedTokens: 0 });
    expect(priceStep({ model: 'mystery-model', usage: {}, at: NOW })).toEqual({ costUsd: undefined, unpricedTokens: 0 });
  });

  it('uses the price in force at the step time', () => {
    const usage = { inputTokens: 1_000_000 };

    expect(priceStep({ model: 'o3', usage, at: day('2025-05-01') }).costUsd).toBe(10);
    expect(priceStep({ model: 'o3', usage, at: day('2025-07-01') }).costUsd).toBe(2);
  });

  it('applies tenant overrides', () => {
    const overrides: PriceOverride[] = [{ pattern: 'gpt-5', price: { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 } }];

    expect(priceStep({ model: 'openai/gpt-5', usage: { inputTokens: 500_000, outputTokens: 500_000 }, at: NOW }, overrides).costUsd).toBe(1);
  });
});

describe('price table', () => {
  it('has valid dates and one price per pattern and date', () => {
    const seen = new Set<string>();
    for (const entry of PRICE_TABLE) {
      expect(entry.effectiveFrom).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(entry.effectiveFrom))).toBe(false);
      const key = `${normaliseModelName(entry.pattern)}@${entry.effectiveFrom}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  it('follows Anthropic cache pricing: writes 1.25 × input, reads 0.1 × input', () => {
    for (const entry of PRICE_TABLE.filter((e) => e.pattern.startsWith('claude'))) {
      expect(entry.price.cacheWrite).toBeCloseTo(entry.price.input * 1.25, 10);
      expect(entry.price.cacheRead).toBeCloseTo(entry.price.input * 0.1, 10);
    }
  });
});
