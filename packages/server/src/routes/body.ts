import { pipeline } from 'node:stream/promises';
import { formatContentDigest, QueueError } from '@smtpq/protocol';
import type { AppContext } from '../context.js';
import { requestFacts } from '../context.js';
import { queueStoreFor } from '../node-context.js';
import { declaredLength, requestChunks } from '../request-body.js';
import { contentDigest, idempotencyKey, msgidParam } from '../request-params.js';
import type { RouteTable } from '../route-table.js';

/** Adds the body upload and download routes, both streamed. */
export function addBodyRoutes(routes: RouteTable, context: AppContext): void {
  const { limits } = context;

  routes.add('put', '/v1/messages/:msgid/body', async (req, res) => {
    const msgid = msgidParam(req, res);
    const token = idempotencyKey(req);
    const sha256 = contentDigest(req);
    const length = declaredLength(req);
    if (length !== undefined && length > limits.maxMessageBytes) {
      throw bodyTooLarge(length, limits.maxMessageBytes);
    }

    const source = requestChunks(req, res, {
      idleTimeoutMs: context.requestIdleTimeoutMs,
      limit: {
        maxBytes: limits.maxMessageBytes,
        tooLarge: (received) => bodyTooLarge(received, limits.maxMessageBytes, 'or more '),
      },
    });
    await queueStoreFor(req, res, context).bodyPut(msgid, { source, sha256, length }, { token });
    res.status(204).end();
  });

  routes.add('get', '/v1/messages/:msgid/body', async (req, res) => {
    const msgid = msgidParam(req, res);
    const body = await queueStoreFor(req, res, context).bodyGet(msgid);

    res.status(200);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(body.size));
    res.setHeader('Content-Digest', formatContentDigest(Buffer.from(body.sha256, 'hex')));
    if (req.method === 'HEAD') {
      body.stream.destroy();
      res.end();
      return;
    }

    try {
      await pipeline(body.stream, res);
    } catch (error) {
      // The status line is out: the client sees a body shorter than its Content-Length.
      if (!res.destroyed) res.destroy();
      if (!isClientGone(error)) {
        requestFacts(res).log.warn({ err: error }, 'body download failed after the headers');
      }
    }
  });
}

export function bodyTooLarge(size: number, limit: number, qualifier = ''): QueueError {
  return new QueueError(
    'body-too-large',
    `body of ${size} bytes ${qualifier}exceeds the limit of ${limit} bytes; nothing was stored, ` +
      'send a smaller message or raise --max-message-bytes',
    { details: { limit } },
  );
}

function isClientGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE';
}
