import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

/**
 * Cuts a connection after `ms` without traffic, but only when the client is the one that
 * stalls: a response it stopped reading, or a connection with no request in flight. A request
 * that waits on slow storage keeps its connection, because the store's own time limits end
 * it with a clear error, and cutting it would leave the client without any response.
 */
export function cutStalledClients(
  server: Server | HttpsServer,
  ms: number,
): (res: ServerResponse) => void {
  const responses = new WeakMap<Socket, ServerResponse>();

  server.timeout = ms;
  // With a listener, Node no longer destroys a socket on timeout by itself.
  server.on('timeout', (socket: Socket) => {
    const res = responses.get(socket);
    const inFlight = res !== undefined && !res.writableFinished && !res.destroyed;
    if (!inFlight || res.writableNeedDrain) socket.destroy();
  });

  // The last response of each socket is kept without a listener of its own: a streamed body
  // already puts many close listeners on a response.
  return (res) => {
    responses.set((res.req as IncomingMessage).socket, res);
  };
}
