import { QueueError } from '@smtpq/protocol';
import { StorageFault } from '@smtpq/store';

/** The fields of an SDK error that this driver reads. */
interface SdkErrorFields {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { statusCode?: number };
}

/**
 * A store that cannot work as configured: a missing bucket, denied access, no credentials or
 * region, or a server without the conditional writes the store needs. The message names what
 * to fix, and retrying does not help.
 */
export class S3ConfigError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3ConfigError';
  }
}

/** A response of the S3 server that this driver cannot use, such as a PutObject without ETag. */
export class S3AnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'S3AnswerError';
  }
}

// Socket errors that mean the server or the path to it is down, whatever the request was.
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

export function httpStatusOf(error: unknown): number | undefined {
  const fields = error as SdkErrorFields | null;
  return fields?.$metadata?.httpStatusCode ?? fields?.$response?.statusCode;
}

export function errorName(error: unknown): string {
  return (error as SdkErrorFields | null)?.name ?? 'Error';
}

export function isPreconditionFailed(error: unknown): boolean {
  return httpStatusOf(error) === 412 || errorName(error) === 'PreconditionFailed';
}

export function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return (
    name === 'NoSuchKey' ||
    name === 'NotFound' ||
    (httpStatusOf(error) === 404 && name !== 'NoSuchBucket')
  );
}

/** Returns whether a response reports that the server does not implement a request feature. */
export function isNotImplemented(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 501 || errorName(error) === 'NotImplemented';
}

function isTimeout(error: unknown): boolean {
  const fields = error as SdkErrorFields;
  // node-http-handler also names a reset connection TimeoutError, so the code decides.
  if (fields.code !== undefined && NETWORK_CODES.has(fields.code)) return false;
  return (
    fields.name === 'TimeoutError' || fields.name === 'AbortError' || fields.code === 'ETIMEDOUT'
  );
}

/**
 * Converts a failed S3 call into what the store expects: a StorageFault (503 with Retry-After)
 * for a fault of the storage or the path to it, after the SDK's own retries ran out. That covers
 * timeouts, 5xx and throttling, a lost connection, denied access (credentials that expired or
 * a policy that changed) and a bucket removed under the store. Any other error (a 4xx for a
 * request this driver should not have made) is returned as an Error naming the call, and the
 * server responds to it with 500. StorageFaults, QueueErrors and S3AnswerErrors pass through unchanged.
 */
export function toStorageFault(error: unknown, call: string): unknown {
  if (error instanceof StorageFault || error instanceof QueueError) return error;
  if (error instanceof S3AnswerError) return error;
  const fields = (error ?? {}) as SdkErrorFields;
  const attempts = fields.$metadata?.attempts;
  const after = attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';
  const status = httpStatusOf(error);

  if (isTimeout(error)) {
    return new StorageFault('timeout', `S3 ${call} timed out${after}`, { cause: error });
  }
  if (status === undefined || status >= 500 || status === 429 || status === 408) {
    const reason =
      status === undefined
        ? (fields.code ?? fields.message ?? 'no response')
        : `${status} ${fields.name}`;
    return new StorageFault('unavailable', `S3 ${call} failed${after}: ${reason}`, {
      cause: error,
    });
  }
  if (status === 403) {
    return new StorageFault(
      'unavailable',
      `S3 ${call} was denied (403 ${fields.name}); check the credentials and the IAM policy`,
      { cause: error },
    );
  }
  if (fields.name === 'NoSuchBucket') {
    return new StorageFault('unavailable', `S3 ${call} failed: the bucket no longer exists`, {
      cause: error,
    });
  }
  return new Error(`S3 ${call} failed: ${status} ${fields.name}: ${fields.message ?? ''}`, {
    cause: error,
  });
}
