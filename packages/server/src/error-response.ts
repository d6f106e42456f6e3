import { DEFAULT_RETRY_AFTER_SECONDS, QueueError } from '@smtpq/protocol';
import type { NextFunction, Request, Response } from 'express';
import { requestFacts } from './context.js';

/**
 * Converts anything thrown by a handler into the QueueError the client receives. Errors of
 * Express itself that carry a 4xx status (a path with broken percent-encoding) become
 * `invalid-request`; everything else is a bug and becomes `internal`.
 */
export function toResponseError(error: unknown, requestId: string): QueueError {
  if (error instanceof QueueError) return error;

  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new QueueError('invalid-request', `invalid request: ${(error as Error).message}`, {
      cause: error,
    });
  }

  return new QueueError(
    'internal',
    `internal error; the server log has the details under request id ${requestId}`,
    { cause: error },
  );
}

/** Express error middleware: logs what the operator must see, then sends the JSON error. */
export function errorMiddleware(
  error: unknown,
  _req: Request,
  res: Response,
  _next: NextFunction,
): void {
  const facts = requestFacts(res);
  const queueError = toResponseError(error, facts.requestId);
  facts.errorCode = queueError.code;

  if (queueError.code === 'internal') {
    facts.log.error({ err: queueError.cause ?? queueError }, 'unexpected error');
  } else if (queueError.status === 503) {
    facts.log.warn({ err: queueError.cause ?? queueError, code: queueError.code }, 'storage fault');
  }

  sendError(res, queueError);
}

/** Sends a QueueError as JSON with the headers its status calls for. */
export function sendError(res: Response, error: QueueError): void {
  if (res.headersSent || res.destroyed) {
    // The status line is gone: cutting the connection is the only way to tell the client.
    res.destroy();
    return;
  }

  if (error.status === 503) res.setHeader('Retry-After', String(DEFAULT_RETRY_AFTER_SECONDS));
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="smtpq"');
  // A stalled client left its request half sent: the connection cannot carry another one.
  if (error.code === 'request-timeout') res.setHeader('Connection', 'close');

  res.status(error.status).json(error.toBody());
}
