import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Stoppable, track, untrack } from './processes.js';

/** An HTTP proxy in front of a frontend that can make the store look unwritable. */
export interface OutageProxy extends Stoppable {
  /** Base URL of the proxy, to give queue-rest instead of the frontend's. */
  readonly url: string;
  /** Writes rejected with 503 so far. */
  readonly refusedWrites: number;
  /** Rejects every write (PUT, POST, DELETE) with 503 storage-read-only from now on. */
  startOutage(): void;
  /** Forwards every request again. */
  endOutage(): void;
}

// Hop-by-hop fields are the proxy's own business on each side.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te']);

function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

/**
 * Starts a proxy on 127.0.0.1 that forwards to `upstreamUrl`. During an outage it responds to
 * each write as a frontend on a read-only store does: `503 storage-read-only` with `Retry-After:
 * 1` and the JSON error body, after reading the request body. Reads still pass, so smtpd can
 * deliver what it has while nothing can be written.
 */
export async function startOutageProxy(upstreamUrl: string): Promise<OutageProxy> {
  const upstream = new URL(upstreamUrl);
  let outage = false;
  let refusedWrites = 0;

  const refuse = (req: IncomingMessage, res: ServerResponse) => {
    refusedWrites += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(
        JSON.stringify({
          error: {
            code: 'storage-read-only',
            message: 'the store is read-only (outage injected by the test proxy); retry later',
          },
        }),
      );
    });
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstreamRequest = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEndHeaders(req.headers),
      agent: false,
    });
    upstreamRequest.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers));
      answer.pipe(res);
    });
    upstreamRequest.on('error', () => req.socket.destroy());
    req.pipe(upstreamRequest);
  };

  const server = createServer((req, res) => {
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (outage && write) refuse(req, res);
    else forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const proxy: OutageProxy = {
    name: `outage proxy 127.0.0.1:${port} for ${upstreamUrl}`,
    url: `http://127.0.0.1:${port}`,
    get refusedWrites() {
      return refusedWrites;
    },
    startOutage: () => {
      outage = true;
    },
    endOutage: () => {
      outage = false;
    },
    stop: async () => {
      untrack(proxy);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(proxy);
  return proxy;
}
