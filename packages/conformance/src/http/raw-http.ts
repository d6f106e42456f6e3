import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface HttpRequest {
  method: string;
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Sends the body with chunked transfer coding instead of a Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Bytes written per call, so that an early response (a 413 on a large upload) stops the upload. */
const WRITE_CHUNK = 256 * 1024;

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * A plain HTTP client for one frontend. It adds nothing to a request (no retries, no
 * Idempotency-Key), so each case gets exactly the frontend's response.
 */
export class HttpTarget {
  readonly url: URL;
  private readonly agent: http.Agent;

  constructor(url: string) {
    this.url = new URL(url);
    const secure = this.url.protocol === 'https:';
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 64 })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** Joins a protocol path such as `/v1/walk` to the base URL, which may have a path prefix. */
  target(path: string): URL {
    const base = this.url.pathname.replace(/\/+$/, '');
    return new URL(`${base}${path}`, this.url);
  }

  /**
   * Sends a request. A request that fails on a reused keep-alive connection before any response
   * is sent again once on a new one: the frontend closed that connection before reading it.
   */
  async request(request: HttpRequest): Promise<HttpResponse> {
    try {
      return await this.requestOnce(request);
    } catch (error) {
      if (!(error instanceof ReusedConnectionError)) throw error;
      return this.requestOnce(request);
    }
  }

  private requestOnce(request: HttpRequest): Promise<HttpResponse> {
    const target = this.target(request.path);
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined && !request.chunked && !hasHeader(headers, 'content-length')) {
      headers['content-length'] = String(request.body.length);
    }
    const send = target.protocol === 'https:' ? https.request : http.request;
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;

    return new Promise((resolve, reject) => {
      let responded = false;
      const outgoing = send(target, { method: request.method, headers, agent: this.agent });

      const timer = setTimeout(() => {
        outgoing.destroy(new Error(`no complete response within ${timeoutMs} ms`));
      }, timeoutMs);

      outgoing.on('error', (error) => {
        clearTimeout(timer);
        if (responded) return;
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const stale =
          outgoing.reusedSocket && ['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(code);
        reject(stale ? new ReusedConnectionError(error) : error);
      });

      outgoing.on('response', (incoming) => {
        responded = true;
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        incoming.on('end', () => {
          clearTimeout(timer);
          // After an error response to an upload the frontend may still be dropping (or refusing)
          // the rest of the body, so the connection cannot carry another request.
          const status = incoming.statusCode ?? 0;
          if (!outgoing.writableFinished || (request.body !== undefined && status >= 400)) {
            outgoing.destroy();
          }
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks),
          });
        });
      });

      void writeBody(outgoing, request.body, () => responded);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** A request failed on a kept-alive connection that the frontend had closed: safe to resend. */
class ReusedConnectionError extends Error {
  constructor(cause: Error) {
    super(`reused connection failed: ${cause.message}`, { cause });
  }
}

async function writeBody(
  outgoing: http.ClientRequest,
  body: Buffer | undefined,
  responded: () => boolean,
): Promise<void> {
  if (body !== undefined) {
    for (let offset = 0; offset < body.length && !responded(); offset += WRITE_CHUNK) {
      const flushed = outgoing.write(body.subarray(offset, offset + WRITE_CHUNK));
      if (!flushed) await waitForDrain(outgoing);
      if (outgoing.destroyed) return;
    }
  }
  if (!outgoing.destroyed && !responded()) outgoing.end();
}

function waitForDrain(outgoing: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off('drain', done);
      outgoing.off('close', done);
      outgoing.off('response', done);
      resolve();
    };
    outgoing.on('drain', done);
    outgoing.on('close', done);
    outgoing.on('response', done);
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/**
 * Sends bytes written by hand on a new connection, then closes the sending side, and returns
 * the response, or null when the frontend closed the connection without one. Used for requests
 * that a correct client cannot send, such as a body shorter than its Content-Length.
 */
export function rawExchange(
  url: URL,
  head: string,
  body: Buffer,
  timeoutMs = 30_000,
): Promise<HttpResponse | null> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');

  return new Promise((resolve, reject) => {
    const socket: net.Socket =
      url.protocol === 'https:'
        ? tls.connect({
            host,
            port,
            servername: host,
            allowHalfOpen: true,
          } as tls.ConnectionOptions)
        : net.connect({ host, port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response and no close within ${timeoutMs} ms`));
    }, timeoutMs);

    socket.on(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
      socket.end();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {
      // A reset after the response (or instead of one) ends the exchange like a close.
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const data = Buffer.concat(chunks);
      resolve(data.length === 0 ? null : parseResponse(data));
    });
  });
}

function parseResponse(data: Buffer): HttpResponse {
  const end = data.indexOf('\r\n\r\n');
  const headText = data.subarray(0, end === -1 ? data.length : end).toString('latin1');
  const [statusLine = '', ...lines] = headText.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: http.IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end === -1 ? Buffer.alloc(0) : data.subarray(end + 4);
  const length = Number(headers['content-length'] ?? Number.NaN);
  if (Number.isInteger(length)) body = body.subarray(0, length);
  else if (String(headers['transfer-encoding']).toLowerCase() === 'chunked') body = dechunk(body);
  return { status, headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isInteger(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
