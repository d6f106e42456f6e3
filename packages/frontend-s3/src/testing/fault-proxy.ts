import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

/** One request as the proxy received it. */
export interface ProxyRequest {
  /** Position of the request since the proxy started, from 0. */
  index: number;
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Action of the proxy on one request. */
export type ProxyPlan =
  | {
      action: 'forward';
      /** Request headers removed before forwarding (lower case). */
      stripHeaders?: string[];
      /** New path and query for the server. */
      url?: string;
      /** Rewrites the whole response body (the proxy buffers it). */
      rewriteBody?: (body: string) => string;
      /** Waits this long before sending the response. */
      delayMs?: number;
      /**
       * Passes the request body to the server and the response body to the client at most
       * this many bytes per second each, like a slow link or an overloaded store.
       */
      bytesPerSecond?: number;
    }
  | { action: 'respond'; status: number; body: string }
  | { action: 'reset'; afterBytes: number };

export type ProxyPlanner = (request: ProxyRequest) => ProxyPlan;

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** Every request received, in order. */
  requests: ProxyRequest[];
  /** How many requests got each action. */
  counts: { forward: number; respond: number; reset: number };
  /**
   * Requests in progress now, the maximum in progress at once, and TCP connections accepted,
   * since the start.
   */
  load: { inFlight: number; maxInFlight: number; connections: number };
  plan(planner: ProxyPlanner): void;
  close(): Promise<void>;
}

export const FORWARD: ProxyPlan = { action: 'forward' };

// Headers about one connection, not forwarded by a proxy (RFC 9110 7.6.1).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer'];

/** The S3 error body of a throttled request. */
export const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
  '<Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>';

/**
 * Starts an HTTP proxy on 127.0.0.1 in front of the S3 test server. It forwards, responds to,
 * delays, paces, rewrites or resets each request as the current planner returns, to inject the
 * faults of a real S3 (throttling, resets, slow responses, broken listings) that moto lacks.
 */
export async function faultProxyStart(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let planner: ProxyPlanner = () => FORWARD;
  const requests: ProxyRequest[] = [];
  const counts = { forward: 0, respond: 0, reset: 0 };
  const load = { inFlight: 0, maxInFlight: 0, connections: 0 };

  const server = createServer((incoming, response) => {
    const seen: ProxyRequest = {
      index: requests.length,
      method: incoming.method ?? 'GET',
      url: incoming.url ?? '/',
      headers: incoming.headers,
    };
    requests.push(seen);
    load.inFlight += 1;
    load.maxInFlight = Math.max(load.maxInFlight, load.inFlight);
    response.once('close', () => {
      load.inFlight -= 1;
    });
    const plan = planner(seen);
    counts[plan.action] += 1;

    if (plan.action === 'respond') {
      respond(incoming, response, plan.status, plan.body);
    } else if (plan.action === 'reset') {
      reset(incoming, plan.afterBytes);
    } else {
      forward(incoming, response, plan, { upstream, agent });
    }
  });
  server.on('connection', () => {
    load.connections += 1;
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    counts,
    load,
    plan: (next) => {
      planner = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

function respond(
  incoming: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: string,
) {
  incoming.resume();
  incoming.on('end', () => {
    response.writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
}

/** Reads `afterBytes` of the request body, then drops the connection without a response. */
function reset(incoming: IncomingMessage, afterBytes: number) {
  let received = 0;
  const drop = () => incoming.socket.destroy();
  if (afterBytes <= 0) {
    drop();
    return;
  }
  incoming.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= afterBytes) drop();
  });
  incoming.on('end', drop);
}

function forward(
  incoming: IncomingMessage,
  response: ServerResponse,
  plan: Extract<ProxyPlan, { action: 'forward' }>,
  context: { upstream: URL; agent: Agent },
) {
  const headers = { ...incoming.headers };
  for (const name of [...HOP_BY_HOP, ...(plan.stripHeaders ?? [])]) delete headers[name];

  const outgoing = request(
    {
      host: context.upstream.hostname,
      port: context.upstream.port,
      method: incoming.method,
      path: plan.url ?? incoming.url,
      headers,
      agent: context.agent,
    },
    (answer) => {
      const send = (body?: Buffer) => {
        if (response.destroyed) {
          answer.resume();
          return;
        }
        const answerHeaders = { ...answer.headers };
        // moto closes every connection; the proxy keeps its own client connections open.
        for (const name of HOP_BY_HOP) delete answerHeaders[name];
        if (body !== undefined) answerHeaders['content-length'] = String(body.length);
        response.writeHead(answer.statusCode ?? 502, answerHeaders);
        if (body !== undefined) response.end(body);
        else if (plan.bytesPerSecond === undefined) answer.pipe(response);
        else answer.pipe(paced(plan.bytesPerSecond)).pipe(response);
      };
      const later = (body?: Buffer) => {
        if (plan.delayMs === undefined) send(body);
        else setTimeout(() => send(body), plan.delayMs);
      };

      if (plan.rewriteBody === undefined) {
        later();
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const rewritten = plan.rewriteBody?.(Buffer.concat(chunks).toString('utf8')) ?? '';
        later(Buffer.from(rewritten));
      });
    },
  );
  outgoing.on('error', () => response.destroy());
  response.on('close', () => {
    if (!response.writableFinished) outgoing.destroy();
  });
  if (plan.bytesPerSecond === undefined) incoming.pipe(outgoing);
  else incoming.pipe(paced(plan.bytesPerSecond)).pipe(outgoing);
}

/**
 * Passes chunks on at most `bytesPerSecond`, measured from the first chunk: each chunk waits
 * until the bytes up to its end would have taken that long. The stream pushes back on its
 * source meanwhile, so the sender slows down through TCP flow control instead of the proxy
 * buffering.
 */
function paced(bytesPerSecond: number): Transform {
  let started: number | undefined;
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      started ??= Date.now();
      passed += chunk.length;
      const wait = started + (passed / bytesPerSecond) * 1000 - Date.now();
      if (wait > 0) setTimeout(() => done(null, chunk), wait);
      else done(null, chunk);
    },
  });
}

/** Returns a repeatable pseudo-random sequence in [0, 1) (mulberry32), so fault runs repeat. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
