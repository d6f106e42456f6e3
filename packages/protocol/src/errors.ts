/**
 * The error catalogue of the protocol. The code is the contract between a frontend and its
 * clients, the message is for people. `retryable` says whether the same request can succeed
 * later without a change (queue-rest's tempfail decision).
 */
export const ERRORS = {
  'invalid-msgid': { status: 400, retryable: false },
  'invalid-evpid': { status: 400, retryable: false },
  'evpid-msgid-mismatch': { status: 400, retryable: false },
  'invalid-cursor': { status: 400, retryable: false },
  'invalid-limit': { status: 400, retryable: false },
  'invalid-digest': { status: 400, retryable: false },
  'missing-digest': { status: 400, retryable: false },
  'digest-mismatch': { status: 400, retryable: false },
  'incomplete-body': { status: 400, retryable: false },
  'invalid-bundle': { status: 400, retryable: false },
  'invalid-idempotency-key': { status: 400, retryable: false },
  'invalid-precondition': { status: 400, retryable: false },
  'invalid-request': { status: 400, retryable: false },
  'invalid-node-header': { status: 400, retryable: false },
  'invalid-node-name': { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  'route-not-found': { status: 404, retryable: false },
  'message-not-found': { status: 404, retryable: false },
  'envelope-not-found': { status: 404, retryable: false },
  'body-not-found': { status: 404, retryable: false },
  'method-not-allowed': { status: 405, retryable: false },
  'message-exists': { status: 409, retryable: false },
  'envelope-exists': { status: 409, retryable: false },
  'message-committed': { status: 409, retryable: false },
  'body-missing': { status: 409, retryable: false },
  'idempotency-key-reused': { status: 409, retryable: false },
  'lease-held': { status: 409, retryable: false },
  'lease-lost': { status: 409, retryable: false },
  // The lease of the old owner becomes claimable after its expiry and grace.
  'lease-live': { status: 409, retryable: true },
  'not-owner': { status: 409, retryable: false },
  'claim-lost': { status: 409, retryable: false },
  'message-open': { status: 409, retryable: false },
  'message-expired': { status: 410, retryable: false },
  'precondition-failed': { status: 412, retryable: false },
  'body-too-large': { status: 413, retryable: false },
  'envelope-too-large': { status: 413, retryable: false },
  'request-timeout': { status: 408, retryable: true },
  'storage-unavailable': { status: 503, retryable: true },
  'storage-full': { status: 503, retryable: true },
  'storage-read-only': { status: 503, retryable: true },
  'storage-timeout': { status: 503, retryable: true },
  internal: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Extra facts for the client, such as the limit that was exceeded. */
    details?: Record<string, unknown>;
  };
}

/** Default seconds of Retry-After on a 503. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** An error of the catalogue, thrown by the store and the server and decoded by the client. */
export class QueueError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QueueError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
    this.details = options.details;
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
