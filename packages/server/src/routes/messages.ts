import type { MessageCreated, MessageListPage, MessageState } from '@smtpq/protocol';
import { QueueError } from '@smtpq/protocol';
import type { MessageListOptions } from '@smtpq/store';
import type { Request } from 'express';
import type { AppContext } from '../context.js';
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
  const { store } = context;

  routes.add('post', '/v1/messages', async (req, res) => {
    const token = idempotencyKey(req);
    const msgid = await store.messageCreate({ token });

    const created: MessageCreated = { msgid };
    res.status(201).location(`/v1/messages/${msgid}`).json(created);
  });

  routes.add('get', '/v1/messages', async (req, res) => {
    const state = stateQuery(req);
    const options: MessageListOptions = {
      cursor: cursorQuery(req),
      limit: limitQuery(req, context.limits.maxWalkPageEnvelopes),
      state,
    };
    const page = await store.messageList(options);

    // Filtering here keeps the page right with a store that ignores `state`.
    const listed: MessageListPage = {
      messages:
        state === undefined ? page.messages : page.messages.filter((m) => m.state === state),
      next: page.next,
      end: page.end,
    };
    res.json(listed);
  });

  routes.add('put', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    await store.messageCreate({ msgid, token });

    const created: MessageCreated = { msgid };
    res.status(201).location(`/v1/messages/${msgid}`).json(created);
  });

  routes.add('get', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    res.json(await store.messageInfo(msgid));
  });

  routes.add('delete', '/v1/messages/:msgid', async (req, res) => {
    const msgid = msgidParam(req, res);
    // Deletes are idempotent and need no token, but a malformed one is still rejected.
    idempotencyKey(req);
    await store.messageDelete(msgid);
    res.status(204).end();
  });

  routes.add('post', '/v1/messages/:msgid/commit', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    await store.messageCommit(msgid, { token });
    res.status(204).end();
  });
}

function stateQuery(req: Request): MessageState | undefined {
  const state = queryString(req, 'state');
  if (state === undefined || state === 'open' || state === 'committed') return state;
  throw new QueueError(
    'invalid-request',
    `invalid state "${state}": expected "open" or "committed", or no state for both`,
  );
}
