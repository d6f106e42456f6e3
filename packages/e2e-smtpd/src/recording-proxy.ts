import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Stoppable, track, untrack } from './processes.js';

/** One response of the frontend as the client received it. */
export interface RecordedResponse {
  method: string;
  /** Path and query. */
  url: string;
  status: number;
  /** The Retry-After field, or null. */
  retryAfter: string | null;
  /** The `error.code` of a JSON error body, or null for a success or a body that is not one. */
  errorCode: string | null;
}

/** An HTTP proxy in front of a frontend that passes everything and records each response. */
export interface RecordingProxy extends Stoppable {
  /** Base URL of the proxy, to give queue-rest instead of the frontend's. */
  readonly url: string;
  /** Every response passed on, in the order their heads arrived. */
  readonly responses: RecordedResponse[];
}

// Hop-by-hop header fields apply to one connection, so the proxy does not forward them.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te']);

function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

function errorCodeOf(body: Buffer): string | null {
  try {
    const code = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

/**
 * Starts a proxy on 127.0.0.1 that forwards every request to `upstreamUrl` unchanged and
 * records the status, Retry-After and error code of each response, so that a test can check
 * what the frontend returned to queue-rest. Success bodies stream through. Error bodies are
 * small JSON documents, read whole to record their code.
 */
export async function startRecordingProxy(upstreamUrl: string): Promise<RecordingProxy> {
  const upstream = new URL(upstreamUrl);
  const responses: RecordedResponse[] = [];

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
      const status = answer.statusCode ?? 502;
      const retryAfter = answer.headers['retry-after'];
      const recorded: RecordedResponse = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        status,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
        errorCode: null,
      };
      responses.push(recorded);

      res.writeHead(status, endToEndHeaders(answer.headers));
      if (status < 400) {
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        recorded.errorCode = errorCodeOf(body);
        res.end(body);
      });
    });
    upstreamRequest.on('error', () => req.socket.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstreamRequest.destroy();
    });
    req.pipe(upstreamRequest);
  };

  const server = createServer(forward);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const proxy: RecordingProxy = {
    name: `recording proxy 127.0.0.1:${port} for ${upstreamUrl}`,
    url: `http://127.0.0.1:${port}`,
    responses,
    stop: async () => {
      untrack(proxy);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(proxy);
  return proxy;
}
