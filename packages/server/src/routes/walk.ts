import { QueueError } from '@smtpq/protocol';
import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import { cursorQuery, limitQuery, msgidParam, queryString } from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds the walk of every committed envelope and the walk of one message. */
export function addWalkRoutes(routes: RouteTable, context: AppContext): void {
  const { limits } = context;

  routes.add('get', '/v1/walk', async (req, res) => {
    const cursor = cursorQuery(req);
    const limit = limitQuery(req, limits.maxWalkPageEnvelopes);
    res.json(await queueStoreFor(req, res, context).walk({ cursor, limit }));
  });

  routes.add('get', '/v1/messages/:msgid/envelopes', async (req, res) => {
    const msgid = msgidParam(req, res);
    const cursor = cursorQuery(req);
    const limit = limitQuery(req, limits.maxWalkPageEnvelopes);
    const includeUncommitted = includeQuery(req);
    res.json(
      await queueStoreFor(req, res, context).messageWalk(msgid, {
        cursor,
        limit,
        includeUncommitted,
      }),
    );
  });
}

function includeQuery(req: Request): boolean {
  const include = queryString(req, 'include');
  if (include === undefined) return false;
  if (include === 'uncommitted') return true;
  throw new QueueError(
    'invalid-request',
    `invalid include "${include}": the only value is "uncommitted"`,
  );
}
