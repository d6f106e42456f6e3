import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Time to wait in ms before failing. */
  timeoutMs?: number;
  /** Pause between two probes in ms. */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than undefined, null or false, and returns that
 * value. Throws after `timeoutMs` with `what` in the message, and with the last error of the
 * probe as the cause when it threw.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;

  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) {
        return value;
      }
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }

    if (Date.now() >= deadline) {
      const message = `timed out after ${timeoutMs} ms waiting for ${what}`;
      throw lastError === undefined ? new Error(message) : new Error(message, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
