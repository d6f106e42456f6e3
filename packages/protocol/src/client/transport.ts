import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { formatContentDigest } from '../digest.js';
import type { NodeContext } from '../pool.js';
import { HEADER } from '../wire.js';
import type { PreparedContent } from './body-source.js';
import { watchConnectionReuse } from './connection-reuse.js';
import {
  type ClientOptions,
  DEFAULT_CONNECTIONS,
  DEFAULT_MAX_RETRY_DELAY_MS,
  DEFAULT_RETRY_BUDGET_MS,
  DEFAULT_TIMEOUT_MS,
} from './options.js';
import { decodeErrorResponse, headerValue, type ResponseData } from './response.js';
import { backoffDelay, parseRetryAfter, sleep } from './retry.js';
import { toTransportError } from './transport-error.js';

export interface HttpRequest<T> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path from `/v1` on, with its segments already encoded. */
  path: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  content?: PreparedContent;
  /** Content-Type of `content`, default application/octet-stream. */
  contentType?: string;
  /** Request token of a write, the same on every attempt of the call. */
  idempotencyKey?: string;
  /** Leaves out the node context: the lease routes manage the lease that the context names. */
  withoutNode?: boolean;
  /** Whether a 503 is retried (default true). A health check returns the first 503 as is. */
  retryUnavailable?: boolean;
  /**
   * Reads a response with a status below 400. It runs inside the attempt, so a connection
   * that fails while the response is read is retried like one that fails before it.
   */
  read(response: ResponseData, requestLine: string): Promise<T>;
}

type AttemptOutcome<T> =
  | { done: true; value: T }
  | {
      done: false;
      error: unknown;
      retry: 'never' | 'backoff';
      retryAfterMs?: number | null;
      /** Failed with no response on a reused keep-alive connection. */
      staleConnection?: boolean;
    };

function requestBody(content: PreparedContent | undefined): Buffer | Readable | null {
  if (content === undefined) return null;
  const bytes = content.open();
  return Buffer.isBuffer(bytes) ? bytes : Readable.from(bytes, { objectMode: false });
}

function describeFailure(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return { error: String(error) };
  const { code, status, message } = error as {
    code?: unknown;
    status?: unknown;
    message?: unknown;
  };
  return { code, status, error: message };
}

/**
 * The HTTP layer of the client: one keep-alive pool to the frontend, the common headers, and
 * the retries. Every attempt of a call carries the same Idempotency-Key, so when a write
 * succeeded but its response was lost, the frontend returns the first response again.
 */
export class HttpTransport {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retryBudgetMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly logger: ClientOptions['logger'];
  /** Node context sent on every request while it is set. */
  node: NodeContext | null;

  constructor(options: ClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`frontend URL ${options.url} is not http or https`);
    }

    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retryBudgetMs = options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.logger = options.logger;
    this.node = options.node ?? null;

    this.pool = new Pool(url.origin, {
      connections: options.connections ?? DEFAULT_CONNECTIONS,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: {
        timeout: this.timeoutMs,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
      },
    });
  }

  /**
   * Sends a request and retries it while the retry budget lasts. A request that failed with no
   * response on a reused keep-alive connection is retried at once, once per call. A 503 (after
   * at least its Retry-After), a 408, a connection failure and a timeout are retried after a
   * full-jitter backoff. Other statuses are never retried. When the budget runs out, the last
   * error is thrown.
   */
  async request<T>(request: HttpRequest<T>): Promise<T> {
    const requestLine = `${request.method} ${request.path}`;
    const callId = randomBytes(8).toString('hex');
    let firstFailureAt: number | undefined;
    let retries = 0;
    let staleRetried = false;

    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(request, `${callId}-${attempt}`, requestLine);
      if (outcome.done) return outcome.value;
      if (outcome.retry === 'never') throw outcome.error;

      const now = Date.now();
      firstFailureAt ??= now;

      if (outcome.staleConnection && !staleRetried) {
        staleRetried = true;
        this.logRetry(requestLine, attempt, 0, outcome.error);
        continue;
      }

      retries += 1;
      const jitter = backoffDelay(retries, this.maxRetryDelayMs);
      const delay = Math.max(outcome.retryAfterMs ?? 0, jitter);
      if (now - firstFailureAt + delay >= this.retryBudgetMs) throw outcome.error;

      this.logRetry(requestLine, attempt, delay, outcome.error);
      await sleep(delay);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private headers(request: HttpRequest<unknown>, requestId: string): Record<string, string> {
    // x-request-id is lower case: connection-reuse.ts finds the attempt by that header line.
    const headers: Record<string, string> = { [HEADER.requestId]: requestId, ...request.headers };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (this.node !== null && request.withoutNode !== true) {
      headers[HEADER.node] = this.node.name;
      headers[HEADER.lease] = this.node.leaseId;
    }
    if (request.idempotencyKey !== undefined) {
      headers[HEADER.idempotencyKey] = request.idempotencyKey;
    }

    const content = request.content;
    if (content !== undefined) {
      headers['content-type'] = request.contentType ?? 'application/octet-stream';
      headers['content-length'] = String(content.length);
      headers[HEADER.contentDigest] = formatContentDigest(content.sha256);
    }
    return headers;
  }

  private fullPath(request: HttpRequest<unknown>): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) params.set(name, String(value));
    }
    const query = params.toString();
    return `${this.basePath}${request.path}${query === '' ? '' : `?${query}`}`;
  }

  private async attempt<T>(
    request: HttpRequest<T>,
    requestId: string,
    requestLine: string,
  ): Promise<AttemptOutcome<T>> {
    const reuseWatch = watchConnectionReuse(requestId);
    let responded = false;

    try {
      const response = await this.pool.request({
        method: request.method,
        path: this.fullPath(request),
        headers: this.headers(request, requestId),
        body: requestBody(request.content),
      });
      responded = true;

      if (response.statusCode < 400) {
        return { done: true, value: await request.read(response, requestLine) };
      }

      const error = await decodeErrorResponse(response, requestLine);
      const status = response.statusCode;
      if (status === 408) return { done: false, error, retry: 'backoff' };
      if (status === 503 && request.retryUnavailable !== false) {
        const retryAfter = headerValue(response, HEADER.retryAfter);
        const retryAfterMs = parseRetryAfter(retryAfter, Date.now());
        return { done: false, error, retry: 'backoff', retryAfterMs };
      }
      return { done: false, error, retry: 'never' };
    } catch (err) {
      const reused = reuseWatch();
      const transportError = toTransportError(err, `${requestLine} to ${this.origin}`);
      if (transportError === null) return { done: false, error: err, retry: 'never' };

      // A certificate the server presents now it will present on the next attempt too.
      if (transportError.code === 'tls') {
        return { done: false, error: transportError, retry: 'never' };
      }
      const staleConnection = !responded && reused && transportError.code === 'connection-failed';
      return { done: false, error: transportError, retry: 'backoff', staleConnection };
    } finally {
      reuseWatch();
    }
  }

  private logRetry(requestLine: string, attempt: number, delayMs: number, error: unknown): void {
    this.logger?.warn(
      { request: requestLine, attempt, delayMs, ...describeFailure(error) },
      `smtpq request failed, retrying in ${delayMs} ms`,
    );
  }
}
