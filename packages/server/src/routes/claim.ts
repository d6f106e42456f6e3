import { QueueError } from '@smtpq/protocol';
import type { AppContext } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import { readJsonObject } from '../request-json.js';
import { idempotencyKey, msgidParam } from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds `POST /v1/messages/{msgid}/claim`: a pool node takes over a message. */
export function addClaimRoute(routes: RouteTable, context: AppContext): void {
  routes.add('post', '/v1/messages/:msgid/claim', async (req, res) => {
    const msgid = msgidParam(req, res);
    // A claim is idempotent (the winner's repeat succeeds), but a malformed token is rejected.
    idempotencyKey(req);
    const store = queueStoreFor(req, res, context);
    const body = await readJsonObject(req, res, context, ['from']);

    const from = body.from;
    if (from !== null && typeof from !== 'string') {
      throw new QueueError(
        'invalid-request',
        `invalid from ${JSON.stringify(from) ?? 'missing'}: expected the node name that owns ` +
          'the message now, or null for an unowned message',
      );
    }
    res.json(await store.messageClaim(msgid, { from }));
  });
}
