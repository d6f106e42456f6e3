import { randomUUID } from 'node:crypto';
import { HEADER } from '@smtpq/protocol';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RequestFacts } from './context.js';
import { discardUnreadBody } from './request-body.js';

// A client's own request id is kept when it is short, visible ASCII; otherwise we make one.
const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * Gives each request an id (X-Request-Id in and out) and a child logger, and writes one line
 * per request when its response ends: method, route, status, duration and the ids involved.
 * Headers, tokens, envelopes and bodies are never logged.
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const offered = req.headers[HEADER.requestId];
    const requestId =
      typeof offered === 'string' && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID();
    res.setHeader('X-Request-Id', requestId);

    const facts: RequestFacts = { requestId, log: logger.child({ requestId }) };
    Object.assign(res.locals, facts);

    res.on('finish', () => discardUnreadBody(req));
    res.on('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const current = res.locals as RequestFacts;
      current.log.info(
        {
          method: req.method,
          route: current.route ?? null,
          path: req.path,
          msgid: current.msgid,
          evpid: current.evpid,
          node: current.node,
          status: res.headersSent ? res.statusCode : null,
          error: current.errorCode,
          // A response that never finished was cut: the client went away or the server gave up.
          completed: res.writableFinished,
          durationMs: Math.round(durationMs * 1000) / 1000,
        },
        'request',
      );
    });

    next();
  };
}
