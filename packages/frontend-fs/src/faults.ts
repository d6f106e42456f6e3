import { StorageFault, type StorageFaultKind } from '@smtpq/store';
import { FsCallError } from './fs-io.js';

const KIND_OF_CODE: Record<string, StorageFaultKind> = {
  ENOSPC: 'full',
  EDQUOT: 'full',
  EFBIG: 'full',
  EROFS: 'read-only',
  ETIMEDOUT: 'timeout',
};

/**
 * Converts a failed file-system call into the StorageFault for which the server responds 503.
 * A full disk or quota is `full` and a read-only mount `read-only`. Any other errno (EIO,
 * EACCES, EPERM, EMFILE, a folder removed under the store, ...) is `unavailable`. Other errors,
 * such as an invalid key or an error of the caller's source stream, are returned unchanged.
 */
export function toStorageFault(error: unknown, operation: string): unknown {
  if (!(error instanceof FsCallError)) return error;
  const kind = KIND_OF_CODE[error.code] ?? 'unavailable';
  return new StorageFault(kind, `fs store: ${operation} failed: ${error.message}`, {
    cause: error,
  });
}
