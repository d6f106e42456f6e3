import { type ErrorCode, QueueError } from '@smtpq/protocol';
import { StorageFault, type StorageFaultKind } from './driver.js';

const CODE_OF_FAULT: Record<StorageFaultKind, ErrorCode> = {
  unavailable: 'storage-unavailable',
  full: 'storage-full',
  'read-only': 'storage-read-only',
  timeout: 'storage-timeout',
};

/**
 * Converts a driver's StorageFault into the QueueError the server answers with (a 503 with
 * Retry-After). QueueErrors pass through; anything else is a bug and stays as it is, so the
 * server logs it with its stack and answers 500.
 */
export function toQueueError(error: unknown, operation: string): unknown {
  if (error instanceof QueueError) return error;
  if (error instanceof StorageFault) {
    return new QueueError(CODE_OF_FAULT[error.kind], `${operation} failed: ${error.message}`, {
      details: { fault: error.kind },
      cause: error,
    });
  }
  return error;
}

/** Runs a storage operation and converts its failure with toQueueError. */
export async function storageCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toQueueError(error, operation);
  }
}
