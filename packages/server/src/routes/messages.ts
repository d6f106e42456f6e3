import type { MessageCreated, MessageListPage, MessageState } from '@smtpq/protocol';
import { isNodeName, QueueError } from '@smtpq/protocol';
import type { MessageListOptions } from '@smtpq/store';
import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import {
  cursorQuery,
  idempotencyKey,
  limitQuery,
  msgidParam,
  queryString,
} from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds the message create, read, list, delete and commit routes. */
export function addMessageRoutes(routes: RouteTable, context: AppContext): void {
  routes.add('post', '/v1/messages', async (req, res) => {
    const token = idempotencyKey(req);
    const msgid = await queueStoreFor(req, res, context).messageCreate({ token });

    const created: MessageCreated = { msgid };
    res.status(201).location(`/v1/messages/${msgid}`).json(created);
  });

  routes.add('get', '/v1/messages', async (req, res) => {
    const state = stateQuery(req);
    const owner = ownerQuery(req);
    const options: MessageListOptions = {
      cursor: cursorQuery(req),
      limit: limitQuery(req, context.limits.maxWalkPageEnvelopes),
      state,
      owner,
    };
    const page = await queueStoreFor(req, res, context).messageList(options);

    // Filtering here keeps the page right with a store that ignores `state` or `owner`.
    const listed: MessageListPage = {
      messages: page.messages.filter(
        (m) =>
          (state === undefined || m.state === state) && (owner === undefined || m.owner === owner),
      ),
      next: page.next,
      end: page.end,
    };
    res.json(listed);
  });

  routes.add('put', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    await queueStoreFor(req, res, context).messageCreate({ msgid, token });

    const created: MessageCreated = { msgid };
    res.status(201).location(`/v1/messages/${msgid}`).json(created);
  });

  routes.add('get', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    res.json(await queueStoreFor(req, res, context).messageInfo(msgid));
  });

  routes.add('delete', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    // Deletes are idempotent and need no token, but a malformed one is still rejected.
    idempotencyKey(req);
    await queueStoreFor(req, res, context).messageDelete(msgid);
    res.status(204).end();
  });

  routes.add('post', '/v1/messages/:msgid/commit', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    await queueStoreFor(req, res, context).messageCommit(msgid, { token });
    res.status(204).end();
  });
}

/** Returns the `owner` query parameter: a node name, null for `owner=` (unowned), or undefined. */
function ownerQuery(req: Request): string | null | undefined {
  const owner = queryString(req, 'owner');
  if (owner === undefined) return undefined;
  if (owner === '') return null;
  if (!isNodeName(owner)) {
    throw new QueueError(
      'invalid-node-name',
      `invalid owner ${JSON.stringify(owner.slice(0, 80))}: expected a node name (1 to 63 ` +
        "characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit), or an " +
        'empty owner= for the unowned messages',
      { details: { owner } },
    );
  }
  return owner;
}

function stateQuery(req: Request): MessageState | undefined {
  const state = queryString(req, 'state');
  if (state === undefined || state === 'open' || state === 'committed') return state;
  throw new QueueError(
    'invalid-request',
    `invalid state "${state}": expected "open" or "committed", or no state for both`,
  );
}
