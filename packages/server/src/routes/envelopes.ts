import { type EnvelopeWritten, evpidMsgid, QueueError } from '@smtpq/protocol';
import type { Request, Response } from 'express';
import type { AppContext } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import { declaredLength, readRequestBuffer } from '../request-body.js';
import {
  evpidParam,
  idempotencyKey,
  ifMatchHeader,
  ifNoneMatchAny,
  msgidParam,
} from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds the envelope create, read, replace and delete routes. */
export function addEnvelopeRoutes(routes: RouteTable, context: AppContext): void {
  routes.add('post', '/v1/messages/:msgid/envelopes', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    const data = await readEnvelope(req, res, context);

    const written = await queueStoreFor(req, res, context).envelopeCreate(msgid, data, { token });
    sendWritten(res, 201, written);
  });

  routes.add('put', '/v1/envelopes/:evpid', async (req, res) => {
    const evpid = evpidParam(req, res);
    const token = idempotencyKey(req);
    const create = ifNoneMatchAny(req);
    const ifMatch = ifMatchHeader(req);
    if (create && ifMatch !== undefined) {
      throw new QueueError(
        'invalid-precondition',
        'send If-None-Match: * to create an envelope or If-Match to replace one, not both',
      );
    }
    const data = await readEnvelope(req, res, context);

    if (create) {
      const written = await queueStoreFor(req, res, context).envelopeCreate(
        evpidMsgid(evpid),
        data,
        { evpid, token },
      );
      sendWritten(res, 201, written);
      return;
    }
    const { etag } = await queueStoreFor(req, res, context).envelopeUpdate(evpid, data, {
      ifMatch,
      token,
    });
    sendWritten(res, 200, { evpid, etag });
  });

  routes.add('get', '/v1/envelopes/:evpid', async (req, res) => {
    const evpid = evpidParam(req, res);
    const envelope = await queueStoreFor(req, res, context).envelopeGet(evpid);

    res.setHeader('ETag', envelope.etag);
    res.type('application/octet-stream').send(envelope.data);
  });

  routes.add('delete', '/v1/envelopes/:evpid', async (req, res) => {
    const evpid = evpidParam(req, res);
    const ifMatch = ifMatchHeader(req);
    // Deletes are idempotent and need no token, but a malformed one is still rejected.
    idempotencyKey(req);
    await queueStoreFor(req, res, context).envelopeDelete(evpid, { ifMatch });
    res.status(204).end();
  });
}

/** Reads an envelope into memory, rejecting it unread when its Content-Length is over the limit. */
async function readEnvelope(req: Request, res: Response, context: AppContext): Promise<Buffer> {
  const limit = context.limits.maxEnvelopeBytes;
  const length = declaredLength(req);
  if (length !== undefined && length > limit) throw envelopeTooLarge(length, limit, '');

  return readRequestBuffer(req, res, {
    idleTimeoutMs: context.requestIdleTimeoutMs,
    limit: {
      maxBytes: limit,
      tooLarge: (received) => envelopeTooLarge(received, limit, 'or more '),
    },
  });
}

function envelopeTooLarge(size: number, limit: number, qualifier: string): QueueError {
  return new QueueError(
    'envelope-too-large',
    `envelope of ${size} bytes ${qualifier}exceeds the limit of ${limit} bytes; ` +
      'split the data or raise --max-envelope-bytes',
    { details: { limit } },
  );
}

function sendWritten(res: Response, status: 200 | 201, written: EnvelopeWritten): void {
  res.setHeader('ETag', written.etag);
  res.status(status).json({ evpid: written.evpid, etag: written.etag } satisfies EnvelopeWritten);
}
