import { createHash, timingSafeEqual } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import type { NextFunction, Request, Response } from 'express';

const BEARER_PATTERN = /^Bearer +([^\s]+) *$/i;
const HOW_TO_AUTHENTICATE = 'send Authorization: Bearer TOKEN with the token of this frontend';

/**
 * Requires `Authorization: Bearer TOKEN` on every request but `GET /v1/health`. Both tokens
 * are hashed first, so the comparison takes the same time whatever the length or content of
 * the token a client sends.
 */
export function bearerAuth(token: string) {
  const expected = digestOf(token);

  return (req: Request, _res: Response, next: NextFunction): void => {
    if (isHealthCheck(req)) {
      next();
      return;
    }

    const header = req.headers.authorization;
    if (header === undefined) {
      throw new QueueError('unauthorized', `Authorization is missing; ${HOW_TO_AUTHENTICATE}`);
    }

    const match = BEARER_PATTERN.exec(header);
    if (match === null || !timingSafeEqual(digestOf(match[1]!), expected)) {
      throw new QueueError('unauthorized', `the bearer token is invalid; ${HOW_TO_AUTHENTICATE}`);
    }
    next();
  };
}

function isHealthCheck(req: Request): boolean {
  const path = req.path.endsWith('/') ? req.path.slice(0, -1) : req.path;
  return (req.method === 'GET' || req.method === 'HEAD') && path === '/v1/health';
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
