/**
 * Retry delays: exponential with full jitter (a random delay between 0 and base * 2^(attempt-1),
 * capped), so that many workers retrying after one outage spread out instead of arriving
 * together. A Retry-After from the server wins over the computed delay.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Longest Retry-After honoured as such (a day): beyond that a server is misconfigured. */
const RETRY_AFTER_LIMIT_MS = 86_400_000;

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.floor(random() * exp);
}

/**
 * Retry-After as milliseconds from now: delta-seconds or an HTTP-date. undefined when absent or
 * unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, RETRY_AFTER_LIMIT_MS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), RETRY_AFTER_LIMIT_MS);
}

/** The delay before the next attempt: Retry-After when the server gave one, else the backoff. */
export function retryDelay(attempt: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  return backoffDelay(attempt, policy, random);
}
