/** First step of the exponential backoff in ms, before jitter. */
const BACKOFF_BASE_MS = 50;

/**
 * Returns the delay in ms before retry number `retry` (1 for the first), with full jitter:
 * a uniform random value between 0 and min(maxDelayMs, 50 ms * 2^(retry - 1)). Spreading the
 * delays keeps clients that failed together from retrying together.
 */
export function backoffDelay(retry: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, BACKOFF_BASE_MS * 2 ** Math.min(retry - 1, 30));
  return Math.floor(Math.random() * ceiling);
}

/**
 * Returns the delay in ms that a Retry-After field requests, or null when the field is absent
 * or malformed. The field holds seconds or an HTTP date (RFC 9110, section 10.2.3).
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return null;

  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;

  // Each HTTP date format starts with the name of a day; this keeps `-1` from parsing as a year.
  if (!/^[A-Za-z]/.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
