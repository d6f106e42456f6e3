import type { IncomingMessage } from 'node:http';
import { QueueError } from '@smtpq/protocol';
import type { Request, Response } from 'express';

/**
 * Bytes of an unwanted request body (after an early error response) read and dropped before
 * the connection is cut instead. Reading them lets the client see the response; the cap keeps
 * a client from streaming gigabytes into a request that already failed.
 */
const MAX_DISCARDED_BYTES = 1024 * 1024;

/** Time in ms that bytes are still read and dropped after the connection was ended. */
const CLOSE_DELAY_MS = 2_000;

export interface RequestReadOptions {
  /** Milliseconds without a new chunk before the read fails with request-timeout. */
  idleTimeoutMs: number;
  /** Size limit: the chunk that passes `maxBytes` fails the read with `tooLarge` instead. */
  limit?: { maxBytes: number; tooLarge: (received: number) => QueueError };
}

/** Returns the request's Content-Length, or undefined for a chunked request. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  // Node's parser has already rejected a malformed Content-Length.
  return header === undefined ? undefined : Number(header);
}

/**
 * Yields the request body chunk by chunk as it arrives, never buffering it whole. It throws
 * instead of ending when the client aborts, stalls or sends too much, so that a store that
 * iterates it never makes a partial body durable.
 */
export async function* requestChunks(
  req: Request,
  res: Response,
  options: RequestReadOptions,
): AsyncGenerator<Buffer> {
  // A client that sent `Expect: 100-continue` waits for this before it sends the body.
  if (req.headers.expect?.toLowerCase() === '100-continue' && !res.headersSent) {
    res.writeContinue();
  }

  // destroyOnReturn: false keeps the socket open when the consumer stops early: the error
  // response still has to go out on it.
  const chunks = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  let received = 0;
  try {
    for (;;) {
      const result = await nextWithin(chunks, options.idleTimeoutMs, received);
      if (result.done) break;

      received += result.value.length;
      if (options.limit !== undefined && received > options.limit.maxBytes) {
        throw options.limit.tooLarge(received);
      }
      yield result.value;
    }
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw incompleteBody(received, error);
  } finally {
    void chunks.return?.();
  }

  if (!req.complete) throw incompleteBody(received);
}

/** Reads a whole small request body (an envelope) into one Buffer. */
export async function readRequestBuffer(
  req: Request,
  res: Response,
  options: RequestReadOptions,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of requestChunks(req, res, options)) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * Drops what is left of a request body after its response has gone out, so a keep-alive
 * connection can carry the next request, and cuts the connection when too much is left.
 */
export function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;

  let discarded = 0;
  let closing = false;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded <= MAX_DISCARDED_BYTES || closing) return;

    // Closing at once with unread bytes would make the kernel send a reset, which can destroy
    // the response before the client reads it. Ending the connection first and reading on for
    // a while lets the client see the response and stop sending.
    closing = true;
    req.socket.end();
    setTimeout(() => req.socket.destroy(), CLOSE_DELAY_MS).unref();
  });
  req.on('error', () => {
    // The client went away while the rest was being dropped: nothing is left to do.
  });
  req.resume();
}

async function nextWithin(
  chunks: AsyncIterator<Buffer>,
  idleTimeoutMs: number,
  received: number,
): Promise<IteratorResult<Buffer>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new QueueError(
          'request-timeout',
          `request body stalled for ${idleTimeoutMs} ms after ${received} bytes; ` +
            'nothing was stored, send the request again',
          { details: { idleTimeoutMs, received } },
        ),
      );
    }, idleTimeoutMs);
  });

  try {
    return await Promise.race([chunks.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function incompleteBody(received: number, cause?: unknown): QueueError {
  return new QueueError(
    'incomplete-body',
    `request body ended early after ${received} bytes; nothing was stored, send it again`,
    { details: { received }, cause },
  );
}
