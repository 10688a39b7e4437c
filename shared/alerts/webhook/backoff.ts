/**
 * Retry spacing for webhook deliveries: exponential growth with "equal jitter" (half fixed, half random),
 * so retries from many alerts spread out yet never come back almost immediately.
 */

export const DEFAULT_MAX_ATTEMPTS = 5;
export const MAX_DELAY_MS = 15 * 60 * 1000;

/** The range the delay after `attempt` attempts is drawn from. */
export function backoffBoundsMs(attempt: number, baseMs: number): { minMs: number; maxMs: number } {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('attempt must be an integer >= 1');
  if (!Number.isFinite(baseMs) || baseMs < 0) throw new RangeError('base delay must be a finite number >= 0');
  // 2 ** big is Infinity, which the cap absorbs.
  const maxMs = Math.min(MAX_DELAY_MS, baseMs * 2 ** (attempt - 1));
  return { minMs: maxMs / 2, maxMs };
}

/** Milliseconds to wait before the next attempt, given how many attempts were made (1-based). */
export function nextDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const { minMs, maxMs } = backoffBoundsMs(attempt, baseMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(minMs + r * (maxMs - minMs));
}
