import { QueueError } from '@smtpq/protocol';
import type { Request, Response } from 'express';
import type { AppContext } from './context.js';
import { declaredLength, readRequestBuffer } from './request-body.js';

/** Maximum bytes of a JSON request body; the pool's bodies are a few dozen bytes. */
const MAX_JSON_BYTES = 4096;

/**
 * Reads a small JSON object request body and checks that it has no field outside `allowed`,
 * so that a misspelt field fails loudly instead of being ignored.
 */
export async function readJsonObject(
  req: Request,
  res: Response,
  context: AppContext,
  allowed: readonly string[],
): Promise<Record<string, unknown>> {
  const length = declaredLength(req);
  if (length !== undefined && length > MAX_JSON_BYTES) throw tooLarge(length);

  const bytes = await readRequestBuffer(req, res, {
    idleTimeoutMs: context.requestIdleTimeoutMs,
    limit: { maxBytes: MAX_JSON_BYTES, tooLarge },
  });

  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new QueueError(
      'invalid-request',
      `request body is not JSON (${(error as Error).message}); send a JSON object such as ` +
        `{"${allowed[0]}": ...}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new QueueError('invalid-request', 'request body must be a JSON object');
  }

  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new QueueError(
      'invalid-request',
      `unknown field ${JSON.stringify(unknown[0])} in the request body; the fields are ` +
        allowed.join(', '),
      { details: { field: unknown[0] } },
    );
  }
  return value as Record<string, unknown>;
}

function tooLarge(size: number): QueueError {
  return new QueueError(
    'invalid-request',
    `request body of ${size} bytes or more exceeds the ${MAX_JSON_BYTES} bytes of a JSON request`,
    { details: { limit: MAX_JSON_BYTES } },
  );
}
