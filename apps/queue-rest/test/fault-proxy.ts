import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request that reached the proxy. */
export interface ProxiedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  /** The pool node headers (Smtpq-Node, Smtpq-Lease), when the request carries them. */
  node: string | undefined;
  lease: string | undefined;
  /** Whether the proxy forwarded it but cut the connection instead of sending the response. */
  lost: boolean;
}

// Hop-by-hop fields and the keep-alive hint are dropped. Without a hint, undici keeps an idle
// connection for its own default time, longer than the proxy does, as behind a load balancer.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

/** Per client connection: when it last carried traffic, and its idle timer. */
interface ConnectionState {
  idleSince: number;
  requests: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a frontend, for faults between queue-rest and the
 * frontend. It closes client connections that stay idle for `idleTimeoutMs` without telling
 * the client its timeout, and it can forward a request but cut the connection instead of
 * sending the response (`loseResponse`), which only an idempotent request survives.
 *
 * On loopback a request almost never meets the close in flight, so the proxy makes that race
 * happen: a request that arrives on a reused connection in the last `raceWindowMs` before its
 * idle cut is taken as crossing the close, and the connection is cut with no response and
 * nothing forwarded.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Client connections accepted, one more each time a client had to reconnect. */
  connections = 0;
  /** Requests cut as if they had crossed the idle close. */
  racedRequests = 0;
  /** Decides, per request, whether its response is lost. */
  loseResponse: (request: ProxiedRequest) => boolean = () => false;
  private readonly states = new WeakMap<Socket, ConnectionState>();

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    private readonly idleTimeoutMs: number,
    private readonly raceWindowMs: number,
    readonly url: string,
  ) {}

  static async start(
    upstreamUrl: string,
    options: { idleTimeoutMs: number; raceWindowMs?: number },
  ): Promise<FaultProxy> {
    const server = createServer();
    // The proxy closes idle connections itself, because with Node's keepAliveTimeout the server
    // would also send its timeout as a Keep-Alive hint, which undici honours.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const proxy = new FaultProxy(
      server,
      new URL(upstreamUrl),
      options.idleTimeoutMs,
      options.raceWindowMs ?? 0,
      `http://127.0.0.1:${port}`,
    );
    server.on('connection', (socket: Socket) => proxy.accept(socket));
    server.on('request', (req, res) => proxy.receive(req, res));
    return proxy;
  }

  private accept(socket: Socket): void {
    this.connections += 1;
    const state: ConnectionState = { idleSince: Date.now(), requests: 0, timer: undefined };
    this.states.set(socket, state);
    this.closeWhenIdle(socket, state);
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as Socket;
    const state = this.states.get(socket)!;
    clearTimeout(state.timer);

    const idleMs = Date.now() - state.idleSince;
    if (state.requests > 0 && idleMs >= this.idleTimeoutMs - this.raceWindowMs) {
      this.racedRequests += 1;
      socket.destroy();
      return;
    }

    state.requests += 1;
    res.on('close', () => {
      state.idleSince = Date.now();
      this.closeWhenIdle(socket, state);
    });
    this.forward(req, res);
  }

  /** Cuts the connection once it has carried nothing for `idleTimeoutMs`. */
  private closeWhenIdle(socket: Socket, state: ConnectionState): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => socket.destroy(), this.idleTimeoutMs);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const key = req.headers['idempotency-key'];
    const node = req.headers['smtpq-node'];
    const lease = req.headers['smtpq-lease'];
    const record: ProxiedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      idempotencyKey: typeof key === 'string' ? key : undefined,
      node: typeof node === 'string' ? node : undefined,
      lease: typeof lease === 'string' ? lease : undefined,
      lost: false,
    };
    record.lost = this.loseResponse(record);
    this.requests.push(record);

    // Each request gets an upstream connection of its own, so the proxy never races itself.
    const upstream = httpRequest({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEndHeaders(req.headers),
      agent: false,
    });
    upstream.on('response', (answer) => {
      if (record.lost) {
        answer.resume();
        answer.on('end', () => (req.socket as Socket).destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers));
      answer.pipe(res);
    });
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  }
}
