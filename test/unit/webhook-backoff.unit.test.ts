import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_ATTEMPTS,
  MAX_DELAY_MS,
  backoffBoundsMs,
  nextDelayMs,
} from '../../shared/alerts/webhook/backoff.ts';

describe('webhook backoff', () => {
  it('makes at least five attempts by default', () => {
    expect(DEFAULT_MAX_ATTEMPTS).toBeGreaterThanOrEqual(5);
  });

  it('doubles the upper bound with each attempt', () => {
    const bounds = [1, 2, 3, 4, 5].map((attempt) => backoffBoundsMs(attempt, 1000).maxMs);

    expect(bounds).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('stays within [half, full] of the bound, at both ends of the random range', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const { minMs, maxMs } = backoffBoundsMs(attempt, 500);
      expect(nextDelayMs(attempt, 500, () => 0)).toBe(minMs);
      expect(nextDelayMs(attempt, 500, () => 1)).toBe(maxMs);
      for (let i = 0; i < 50; i++) {
        const delay = nextDelayMs(attempt, 500);
        expect(delay).toBeGreaterThanOrEqual(minMs);
        expect(delay).toBeLessThanOrEqual(maxMs);
      }
    }
  });

  it('spreads retries: different random draws give different delays', () => {
    expect(nextDelayMs(3, 1000, () => 0.1)).not.toBe(nextDelayMs(3, 1000, () => 0.9));
  });

  it('never waits more than 15 minutes, however many attempts were made', () => {
    expect(MAX_DELAY_MS).toBe(15 * 60 * 1000);
    expect(nextDelayMs(30, 1000, () => 1)).toBe(MAX_DELAY_MS);
    expect(nextDelayMs(5000, 1000, () => 1)).toBe(MAX_DELAY_MS);
  });

  it('refuses attempt numbers below 1', () => {
    expect(() => nextDelayMs(0, 1000)).toThrow(RangeError);
  });
});
