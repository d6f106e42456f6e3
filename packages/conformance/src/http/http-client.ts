import { ERRORS, type ErrorCode, formatContentDigest, isErrorCode, sha256 } from '@smtpq/protocol';
import { check, fail, show } from '../failure.js';
import { type HttpResponse, HttpTarget } from './raw-http.js';
import { wrongToken } from './vars.js';

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer;
  /** Content-Digest: `auto` (correct), `none`, `wrong` (digest of other bytes) or a literal value. */
  digest?: string;
  auth?: 'none' | 'wrong';
  chunked?: boolean;
  timeoutMs?: number;
}

/** The HTTP client of the suite: a frontend and its token, and the checks every response gets. */
export class HttpClient {
  readonly target: HttpTarget;

  constructor(
    url: string,
    readonly token: string | undefined,
  ) {
    this.target = new HttpTarget(url);
  }

  send(method: string, path: string, options: SendOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (options.auth === 'wrong') headers.authorization = `Bearer ${wrongToken()}`;
    else if (options.auth !== 'none' && this.token !== undefined) {
      headers.authorization = `Bearer ${this.token}`;
    }

    const digest = options.digest ?? 'none';
    if (digest === 'auto')
      headers['content-digest'] = formatContentDigest(sha256(options.body ?? Buffer.alloc(0)));
    else if (digest === 'wrong')
      headers['content-digest'] = formatContentDigest(sha256(Buffer.from('other bytes')));
    else if (digest !== 'none') headers['content-digest'] = digest;

    if (options.body !== undefined) headers['content-type'] = 'application/octet-stream';
    Object.assign(headers, options.headers);
    return this.target.request({
      method,
      path,
      headers,
      body: options.body,
      chunked: options.chunked,
      timeoutMs: options.timeoutMs,
    });
  }

  /** Sends a request and checks its status, and its error code when `code` is given. */
  async expect(
    method: string,
    path: string,
    status: number,
    options: SendOptions & { code?: ErrorCode } = {},
  ): Promise<HttpResponse> {
    const response = await this.send(method, path, options);
    checkAnswer(response, status, options.code, `${method} ${path}`);
    return response;
  }

  /** Sends a request that must succeed with `status` and returns its JSON body. */
  async json<T>(
    method: string,
    path: string,
    status: number,
    options: SendOptions = {},
  ): Promise<T> {
    const response = await this.expect(method, path, status, options);
    return parseJson(response, `${method} ${path}`) as T;
  }

  close(): Promise<void> {
    return this.target.close();
  }
}

/** Describes a response on one line: status and JSON, or status and byte count. */
export function describeResponse(response: HttpResponse): string {
  const type = String(response.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) {
    return `${response.status} ${show(response.body.toString('utf8'), 300)}`;
  }
  return `${response.status} (${response.body.length} bytes of ${type || 'no Content-Type'})`;
}

export function parseJson(response: HttpResponse, what: string): unknown {
  const type = String(response.headers['content-type'] ?? '');
  check(
    type.startsWith('application/json'),
    `${what}: Content-Type is ${show(type)}, expected application/json`,
  );
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    return fail(`${what}: response is not JSON: ${show(response.body.toString('utf8'))}`);
  }
}

/**
 * Checks a response's status and, for every error, the JSON error shape of the protocol: an
 * `error` object with a code of the catalogue, a message, the status of that code, and
 * Retry-After on a 503.
 */
export function checkAnswer(
  response: HttpResponse,
  status: number,
  code: ErrorCode | undefined,
  what: string,
): void {
  const expected = code === undefined ? `${status}` : `${status} ${code}`;
  check(
    response.status === status,
    `${what}: expected ${expected}, got ${describeResponse(response)}`,
  );
  if (response.status < 400) return;

  const body = parseJson(response, what) as { error?: { code?: unknown; message?: unknown } };
  const error = body?.error;
  check(
    typeof error === 'object' && error !== null,
    `${what}: error response has no "error" object: ${describeResponse(response)}`,
  );
  check(
    isErrorCode(error.code),
    `${what}: error code ${show(error.code)} is not in the protocol's catalogue`,
  );
  check(
    typeof error.message === 'string' && error.message.length > 0,
    `${what}: error response has no message`,
  );
  check(
    ERRORS[error.code].status === response.status,
    `${what}: code ${error.code} belongs with status ${ERRORS[error.code].status}, not ${response.status}`,
  );
  if (response.status === 503) {
    check(response.headers['retry-after'] !== undefined, `${what}: 503 without Retry-After`);
  }
  if (code !== undefined) {
    check(error.code === code, `${what}: expected ${expected}, got ${describeResponse(response)}`);
  }
}

/** Returns the error code of a response, or null for a success. */
export function errorCodeOf(response: HttpResponse): string | null {
  if (response.status < 400) return null;
  try {
    const body = JSON.parse(response.body.toString('utf8')) as { error?: { code?: string } };
    return body.error?.code ?? null;
  } catch {
    return null;
  }
}
