import { QueueError, TransportError } from '@smtpq/protocol';

/** Log fields of a failed call: the protocol error code, the HTTP status, the message. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof QueueError) {
    return { code: error.code, status: error.status, error: error.message };
  }
  if (error instanceof TransportError) {
    return { code: error.code, error: error.message };
  }
  if (error instanceof Error) return { error: error.message, errorName: error.name };
  return { error: String(error) };
}

/** Returns whether the same call can succeed later without a change. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof QueueError || error instanceof TransportError) return error.retryable;
  return false;
}

/** Returns whether `error` is the protocol error `code`. */
export function hasCode(error: unknown, code: string): boolean {
  return error instanceof QueueError && error.code === code;
}

/** Returns one field of the `details` of a protocol error, or undefined. */
export function errorDetail(error: unknown, key: string): unknown {
  return error instanceof QueueError ? error.details?.[key] : undefined;
}
