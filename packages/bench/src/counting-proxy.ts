import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 that forwards every request unchanged to one upstream server and
 * counts the requests by kind. The kind is the HTTP method, except `LIST` for a bucket listing
 * (a GET with `list-type` in the query) and the multipart upload steps, which are named. The
 * Host header is forwarded too, so a request signed for the proxy's address keeps a valid
 * signature.
 */
export class CountingProxy {
  private readonly counts: Record<string, number> = {};

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(upstreamPort: number): Promise<CountingProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const proxy = new CountingProxy(server, `http://127.0.0.1:${port}`);

    server.on('request', (incoming, outgoing) => {
      proxy.count(incoming);
      const forwarded = request(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (upstream) => {
          outgoing.writeHead(upstream.statusCode ?? 502, upstream.rawHeaders);
          upstream.pipe(outgoing);
        },
      );
      forwarded.on('error', () => outgoing.destroy());
      incoming.pipe(forwarded);
    });
    return proxy;
  }

  /** Requests forwarded so far, by kind. */
  requestCounts(): Record<string, number> {
    return { ...this.counts };
  }

  async stop(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private count(incoming: IncomingMessage): void {
    const kind = requestKind(incoming.method ?? '', incoming.url ?? '');
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }
}

/** Returns the kind of an S3 request from its method and target, such as `PUT` or `LIST`. */
function requestKind(method: string, target: string): string {
  const query = new URLSearchParams(target.split('?')[1] ?? '');
  if (method === 'GET' && query.has('list-type')) return 'LIST';
  if (method === 'POST' && query.has('uploads')) return 'POST (multipart start)';
  if (method === 'PUT' && query.has('partNumber')) return 'PUT (multipart part)';
  if (method === 'POST' && query.has('uploadId')) return 'POST (multipart complete)';
  if (method === 'POST' && query.has('delete')) return 'POST (multi-object delete)';
  return method;
}
