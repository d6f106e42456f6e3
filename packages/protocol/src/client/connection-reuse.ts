import { subscribe } from 'node:diagnostics_channel';

/**
 * Tracks whether an attempt was sent on a keep-alive connection that had carried a request
 * before. A server may close an idle connection just as a request is written on it. The
 * request then fails with no response, and only such a failure earns an immediate retry.
 *
 * undici does not report the reuse with the error, so this module follows its documented
 * `undici:client:sendHeaders` diagnostics channel, which publishes each request's header block
 * with the socket it is written on. Attempts are matched by their X-Request-Id line.
 */

const requestsPerSocket = new WeakMap<object, number>();
const watchedAttempts = new Map<string, { reused: boolean }>();
const REQUEST_ID_LINE = '\r\nx-request-id: ';

function onSendHeaders(message: unknown): void {
  const { headers, socket } = message as { headers?: unknown; socket?: object };
  if (socket === undefined || typeof headers !== 'string') return;

  const sent = requestsPerSocket.get(socket) ?? 0;
  requestsPerSocket.set(socket, sent + 1);
  if (watchedAttempts.size === 0) return;

  const start = headers.indexOf(REQUEST_ID_LINE);
  if (start < 0) return;
  const valueStart = start + REQUEST_ID_LINE.length;
  const attempt = watchedAttempts.get(
    headers.slice(valueStart, headers.indexOf('\r\n', valueStart)),
  );
  if (attempt !== undefined) attempt.reused = sent > 0;
}

let subscribed = false;

/**
 * Starts watching the attempt sent with `requestId` (lower-case header `x-request-id`).
 * Call the returned function when the attempt is over; it returns whether the attempt went
 * out on a reused connection.
 */
export function watchConnectionReuse(requestId: string): () => boolean {
  // Subscribing before the first request of the process's first client is early enough to
  // count every request on that client's connections.
  if (!subscribed) {
    subscribe('undici:client:sendHeaders', onSendHeaders);
    subscribed = true;
  }

  const attempt = { reused: false };
  watchedAttempts.set(requestId, attempt);
  return () => {
    watchedAttempts.delete(requestId);
    return attempt.reused;
  };
}
