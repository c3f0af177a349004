/** Longest wait before a retry, whatever the base and attempt. */
export const MAX_BACKOFF_MS = 60_000;

/**
 * Exponential backoff with "equal jitter": half the doubled delay is fixed, half is random, so
 * retries of tasks that failed together spread out instead of arriving together again.
 */
export function backoffDelayMs(baseMs: number, attempt: number, random: () => number = Math.random): number {
  if (baseMs <= 0) return 0;
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
