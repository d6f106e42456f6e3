import net from 'node:net';
import { type Stoppable, track, untrack } from './processes.js';

/**
 * A TCP proxy on 127.0.0.1 that stands for one node's network path to a frontend, so that a
 * test can cut that path while the node and the frontend run on.
 */
export interface LinkProxy extends Stoppable {
  /** Base URL of the proxy, to give queue-rest instead of the frontend's. */
  readonly url: string;
  /** Whether the link is cut now. */
  readonly isCut: boolean;
  /** Connections reset because the link was cut, so far. */
  readonly resetConnections: number;
  /** Resets every open connection, and every new one until `restore()`. */
  cut(): void;
  /** Forwards new connections again. */
  restore(): void;
}

/**
 * Starts a proxy that forwards each TCP connection to the host and port of `upstreamUrl`.
 * While cut, a connection is reset as soon as it is accepted, so the client sees a failed
 * request at once instead of waiting for its timeout.
 */
export async function startLinkProxy(upstreamUrl: string): Promise<LinkProxy> {
  const upstream = new URL(upstreamUrl);
  const upstreamPort = Number(upstream.port);
  const open = new Set<net.Socket>();
  let cut = false;
  let resetConnections = 0;

  const reset = (socket: net.Socket) => {
    resetConnections += 1;
    socket.resetAndDestroy();
  };

  const server = net.createServer((client) => {
    client.on('error', () => client.destroy());
    if (cut) {
      reset(client);
      return;
    }

    const target = net.connect({ host: upstream.hostname, port: upstreamPort });
    target.on('error', () => client.destroy());
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
    client.pipe(target);
    target.pipe(client);

    open.add(client);
    client.on('close', () => open.delete(client));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  const proxy: LinkProxy = {
    name: `link proxy 127.0.0.1:${port} for ${upstreamUrl}`,
    url: `http://127.0.0.1:${port}`,
    get isCut() {
      return cut;
    },
    get resetConnections() {
      return resetConnections;
    },
    cut: () => {
      cut = true;
      for (const client of open) {
        reset(client);
      }
    },
    restore: () => {
      cut = false;
    },
    stop: async () => {
      untrack(proxy);
      for (const client of open) {
        client.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(proxy);
  return proxy;
}
