export type TransportErrorCode = 'connection-failed' | 'timeout' | 'tls';

/**
 * A request that got no HTTP response: the connection was refused or reset, a timeout passed,
 * or TLS failed. The same request can succeed later, so `retryable` is always true.
 */
export class TransportError extends Error {
  readonly code: TransportErrorCode;
  readonly retryable = true;

  constructor(code: TransportErrorCode, message: string, options: { cause: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'TransportError';
    this.code = code;
  }
}

/** A failure to read a body source (a file or fd) on the client side; never retried. */
export class BodySourceError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BodySourceError';
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

// undici's own failures of a connection, as opposed to its argument and state errors.
const UNDICI_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

// OpenSSL certificate verification codes that Node reports as `err.code`.
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
]);

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    TLS_VERIFY_CODES.has(code)
  );
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Returns the TransportError for a failure of the connection under a request, or null when
 * `err` is some other error (an argument error, a closed client, a body source failure).
 * `requestLine` names the request in the message, such as `PUT /v1/messages/0000abcd/body`.
 */
export function toTransportError(err: unknown, requestLine: string): TransportError | null {
  const code = errorCode(err);
  if (code === undefined) return null;
  const reason = err instanceof Error ? err.message : String(err);

  if (TIMEOUT_CODES.has(code)) {
    return new TransportError('timeout', `${requestLine} timed out (${code}): ${reason}`, {
      cause: err,
    });
  }
  if (isTlsCode(code)) {
    return new TransportError('tls', `${requestLine} failed in TLS (${code}): ${reason}`, {
      cause: err,
    });
  }

  // Node's network errors are E* codes with a syscall (connect, read, write, getaddrinfo).
  const systemError = /^E[A-Z]+$/.test(code) && 'syscall' in (err as object);
  if (systemError || UNDICI_CONNECTION_CODES.has(code)) {
    return new TransportError('connection-failed', `${requestLine} failed (${code}): ${reason}`, {
      cause: err,
    });
  }
  return null;
}
