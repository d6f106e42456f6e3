import { StorageFault, type StorageFaultKind } from '@smtpq/store';
import {
  MongoError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
} from 'mongodb';

/** How the driver answers a failure of one MongoDB operation. */
export interface FaultClass {
  kind: StorageFaultKind;
  /** Whether the same operation may succeed when tried again within the retry budget. */
  retry: boolean;
}

// Server error codes that mean "this server cannot serve the operation right now": a
// step-down, a shutdown, a node that is not the primary, a lost host, a stale shard version.
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  91, // ShutdownInProgress
  133, // FailedToSatisfyReadPreference
  189, // PrimarySteppedDown
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  63, // StaleShardVersion
  150, // StaleEpoch
  13388, // StaleConfig
  134, // ReadConcernMajorityNotAvailableYet
  100, // UnsatisfiableWriteConcern: too few members of the replica set are up
  24, // LockTimeout
  112, // WriteConflict
]);

const TIMEOUT_CODES = new Set([
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed (WriteConcernTimeout from 8.1)
  89, // NetworkTimeout
  262, // ExceededTimeLimit
]);

// Credentials that stopped working while the frontend runs (a rotated password): the request
// is not at fault, and retrying at once cannot help.
const CREDENTIAL_CODES = new Set([13, 18]); // Unauthorized, AuthenticationFailed

const OUT_OF_DISK_SPACE = 14031;

// Node socket errors. The mongodb client 6.22.0 lets some through unwrapped: a command
// written to a pooled connection whose server went away fails with a bare EPIPE ("This
// socket has been ended by the other party") instead of a MongoNetworkError.
const SOCKET_ERROR_CODES = new Set([
  'EPIPE',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

/** Message of a write that met a busy SQLite database under FerretDB: worth a retry. */
const BUSY_MESSAGE = /SQLITE_BUSY|database is locked/;

/**
 * Classifies an error of the MongoDB client. Returns null for anything that is not a fault of
 * the storage (a bug, a malformed request), which the caller rethrows as it is.
 */
export function classifyMongoError(error: unknown): FaultClass | null {
  if (error instanceof StorageFault) return { kind: error.kind, retry: false };
  if (!(error instanceof MongoError)) return socketFault(error);

  if (error instanceof MongoNetworkTimeoutError || error instanceof MongoOperationTimeoutError) {
    return { kind: 'timeout', retry: true };
  }
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) {
    return { kind: 'unavailable', retry: true };
  }
  if (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('ResetPool')) {
    return { kind: 'unavailable', retry: true };
  }

  const code = typeof error.code === 'number' ? error.code : undefined;
  if (error instanceof MongoServerError || error instanceof MongoWriteConcernError) {
    if (code === OUT_OF_DISK_SPACE || /disk is full|no space left/i.test(error.message)) {
      return { kind: 'full', retry: false };
    }
    if (code !== undefined && TIMEOUT_CODES.has(code)) return { kind: 'timeout', retry: true };
    // FerretDB's SQLite backend reports a locked database as InternalError (code 1).
    if (BUSY_MESSAGE.test(error.message)) return { kind: 'unavailable', retry: true };
    if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
      return { kind: 'unavailable', retry: true };
    }
    if (code !== undefined && CREDENTIAL_CODES.has(code)) {
      return { kind: 'unavailable', retry: false };
    }
    if (error instanceof MongoWriteConcernError) return { kind: 'unavailable', retry: true };
  }
  return null;
}

function socketFault(error: unknown): FaultClass | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof Error) || typeof code !== 'string') return null;
  if (code === 'ETIMEDOUT') return { kind: 'timeout', retry: true };
  return SOCKET_ERROR_CODES.has(code) ? { kind: 'unavailable', retry: true } : null;
}

/** Returns whether an error is MongoDB's duplicate key error on an insert. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/** Returns a short description of an error for a fault message: its class, code and text. */
export function describeError(error: unknown): string {
  if (error instanceof MongoError) {
    const code = error.code === undefined ? '' : ` (code ${error.code})`;
    return `${error.name}${code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
