import type { Limits } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';

/** Store, limits and settings shared by every route handler, built once by createApp. */
export interface AppContext {
  store: QueueStore;
  limits: Limits;
  requestIdleTimeoutMs: number;
  openapiPath: string | undefined;
}

/** Facts about one request that the request log line reports; kept in `res.locals`. */
export interface RequestFacts {
  requestId: string;
  log: Logger;
  /** Route pattern that matched, such as `/v1/messages/:msgid`. */
  route?: string;
  msgid?: string;
  evpid?: string;
  /** Pool node of the request (Smtpq-Node), when it has one. */
  node?: string;
  /** Error code of the response, when it is an error. */
  errorCode?: string;
}

export type RouteHandler = (req: Request, res: Response) => Promise<void>;

export function requestFacts(res: Response): RequestFacts {
  return res.locals as RequestFacts;
}
