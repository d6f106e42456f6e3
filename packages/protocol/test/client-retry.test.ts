import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from '../src/client/retry.js';
import { QueueError } from '../src/errors.js';
import { type ClientOptions, QueueClient, TransportError } from '../src/index.js';

/** One request as the fault server saw it. */
interface Attempt {
  number: number;
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  contentDigest: string | undefined;
  /** Requests seen on this connection, this one included. */
  connectionRequest: number;
}

type Script = (req: IncomingMessage, res: ServerResponse, attempt: Attempt) => void | Promise<void>;

interface FaultServer {
  url: string;
  attempts: Attempt[];
  server: Server;
}

const servers: Server[] = [];
const clients: QueueClient[] = [];
const directories: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
  await Promise.all(directories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Starts an HTTP server on 127.0.0.1 that handles each request with `script`. */
async function startFaultServer(script: Script): Promise<FaultServer> {
  const attempts: Attempt[] = [];
  const requestsPerSocket = new WeakMap<object, number>();

  const server = createServer(async (req, res) => {
    const connectionRequest = (requestsPerSocket.get(req.socket) ?? 0) + 1;
    requestsPerSocket.set(req.socket, connectionRequest);

    const attempt: Attempt = {
      number: attempts.length + 1,
      method: req.method ?? '',
      url: req.url ?? '',
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      contentDigest: req.headers['content-digest'] as string | undefined,
      connectionRequest,
    };
    attempts.push(attempt);
    await script(req, res, attempt);
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, attempts, server };
}

function newClient(url: string, options: Partial<ClientOptions> = {}): QueueClient {
  const client = new QueueClient({ url, maxRetryDelayMs: 20, ...options });
  clients.push(client);
  return client;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendUnavailable(res: ServerResponse, attempt: Attempt, retryAfter = '0'): void {
  const error = {
    code: 'storage-unavailable',
    message: `storage is down (attempt ${attempt.number})`,
  };
  sendJson(res, 503, { error }, { 'retry-after': retryAfter });
}

function sendCreated(res: ServerResponse): void {
  sendJson(res, 201, { msgid: '0000abcd' });
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded, a failure was expected');
}

describe('client retries', () => {
  it('retries 503 with the same Idempotency-Key', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      if (attempt.number <= 2) sendUnavailable(res, attempt);
      else sendCreated(res);
    });
    const client = newClient(fault.url);

    const msgid = await client.messageCreate({ msgid: '0000abcd' });

    expect(msgid).toBe('0000abcd');
    expect(fault.attempts).toHaveLength(3);
    const keys = fault.attempts.map((attempt) => attempt.idempotencyKey);
    expect(keys[0]).toMatch(/^[A-Za-z0-9._~-]{1,128}$/);
    expect(new Set(keys).size).toBe(1);
  });

  it("sends the caller's token as Idempotency-Key", async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      if (attempt.number === 1) sendUnavailable(res, attempt);
      else sendCreated(res);
    });
    const client = newClient(fault.url);

    await client.messageCreate({ token: 'smtpd-0000abcd-1' });

    expect(fault.attempts.map((attempt) => attempt.idempotencyKey)).toEqual([
      'smtpd-0000abcd-1',
      'smtpd-0000abcd-1',
    ]);
  });

  it('uses a new Idempotency-Key per call', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      sendCreated(res);
    });
    const client = newClient(fault.url);

    await client.messageCreate();
    await client.messageCreate();

    expect(fault.attempts[0]?.idempotencyKey).not.toBe(fault.attempts[1]?.idempotencyKey);
  });

  it('retries after a connection reset', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      if (attempt.number === 1) {
        req.socket.resetAndDestroy();
        return;
      }
      await readBody(req);
      sendCreated(res);
    });
    const client = newClient(fault.url);

    await expect(client.messageCreate({ msgid: '0000abcd' })).resolves.toBe('0000abcd');
    expect(fault.attempts).toHaveLength(2);
    expect(fault.attempts[1]?.idempotencyKey).toBe(fault.attempts[0]?.idempotencyKey);
  });

  it('retries 408', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      if (attempt.number === 1) {
        const error = { code: 'request-timeout', message: 'request body stalled' };
        sendJson(res, 408, { error });
      } else {
        res.writeHead(204).end();
      }
    });
    const client = newClient(fault.url);

    await client.messageCommit('0000abcd');

    expect(fault.attempts).toHaveLength(2);
  });

  it('throws the last error when the budget runs out', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      sendUnavailable(res, attempt);
    });
    const client = newClient(fault.url, { retryBudgetMs: 300 });

    const err = await rejectionOf(client.messageCommit('0000abcd'));

    expect(err).toBeInstanceOf(QueueError);
    const queueError = err as QueueError;
    expect(queueError.code).toBe('storage-unavailable');
    expect(queueError.status).toBe(503);
    expect(queueError.retryable).toBe(true);
    expect(fault.attempts.length).toBeGreaterThan(1);
    expect(queueError.message).toBe(`storage is down (attempt ${fault.attempts.length})`);
  });

  it('does not wait for a Retry-After past the budget', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      sendUnavailable(res, attempt, '30');
    });
    const client = newClient(fault.url, { retryBudgetMs: 1000 });

    const err = await rejectionOf(client.messageCommit('0000abcd'));

    expect((err as QueueError).code).toBe('storage-unavailable');
    expect(fault.attempts).toHaveLength(1);
  });

  it('does not retry 400', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      const error = {
        code: 'invalid-msgid',
        message: 'msgid 0000ABCD is not 8 lower-case hex digits',
        details: { msgid: '0000ABCD' },
      };
      sendJson(res, 400, { error });
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.messageInfo('0000ABCD'));

    expect(err).toBeInstanceOf(QueueError);
    const queueError = err as QueueError;
    expect(queueError.code).toBe('invalid-msgid');
    expect(queueError.status).toBe(400);
    expect(queueError.details).toEqual({ msgid: '0000ABCD' });
    expect(fault.attempts).toHaveLength(1);
  });

  it('does not retry 500', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      sendJson(res, 500, { error: { code: 'internal', message: 'driver bug' } });
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.messageDelete('0000abcd'));

    expect((err as QueueError).code).toBe('internal');
    expect(fault.attempts).toHaveLength(1);
  });

  it('decodes a non-JSON error as internal', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.info());

    expect(err).toBeInstanceOf(QueueError);
    const queueError = err as QueueError;
    expect(queueError.code).toBe('internal');
    expect(queueError.details).toEqual({
      status: 502,
      body: '<html><body>Bad Gateway</body></html>',
    });
    expect(queueError.message).toContain('HTTP 502');
  });

  it('decodes an unknown error code as internal', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      sendJson(res, 422, { error: { code: 'new-code', message: 'from a newer server' } });
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.info());

    expect((err as QueueError).code).toBe('internal');
    expect((err as QueueError).details).toEqual({ status: 422, code: 'new-code' });
  });

  it('logs one warning per retry', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      if (attempt.number <= 2) sendUnavailable(res, attempt);
      else res.writeHead(204).end();
    });
    const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const logger = { warn: (obj: object, msg: string) => warnings.push({ obj: { ...obj }, msg }) };
    const client = newClient(fault.url, { logger, token: 'secret-token' });

    await client.messageCommit('0000abcd');

    expect(warnings).toHaveLength(2);
    expect(warnings[0]?.obj).toMatchObject({
      request: 'POST /v1/messages/0000abcd/commit',
      attempt: 1,
      code: 'storage-unavailable',
      status: 503,
    });
    expect(JSON.stringify(warnings)).not.toContain('secret-token');
  });

  it('health does not retry 503', async () => {
    const fault = await startFaultServer(async (req, res, attempt) => {
      await readBody(req);
      sendUnavailable(res, attempt);
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.health());

    expect((err as QueueError).code).toBe('storage-unavailable');
    expect(fault.attempts).toHaveLength(1);
  });
});

describe('client connections', () => {
  it('retries at once on a stale keep-alive connection', async () => {
    // The server drops the second request of each connection unanswered, as a server does
    // when it closes an idle connection just as the request arrives.
    const fault = await startFaultServer(async (req, res, attempt) => {
      if (attempt.connectionRequest > 1) {
        req.socket.destroy();
        return;
      }
      await readBody(req);
      sendJson(res, 200, { status: 'ok' });
    });
    // With no budget, only the immediate retry on a new connection can save the second call.
    const client = newClient(fault.url, { retryBudgetMs: 0 });

    await expect(client.health()).resolves.toEqual({ status: 'ok' });
    // One turn of the event loop lets the pool see the connection idle again, so that the
    // next call reuses it.
    await new Promise((resolve) => setImmediate(resolve));
    await expect(client.health()).resolves.toEqual({ status: 'ok' });

    expect(fault.attempts.map((attempt) => attempt.connectionRequest)).toEqual([1, 2, 1]);
  });

  it('fails a reset on a new connection without budget', async () => {
    const fault = await startFaultServer((req) => {
      req.socket.destroy();
    });
    const client = newClient(fault.url, { retryBudgetMs: 0 });

    const err = await rejectionOf(client.health());

    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('connection-failed');
    expect(fault.attempts).toHaveLength(1);
  });

  it('survives a keep-alive close between calls', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      sendJson(res, 200, { status: 'ok' });
    });
    fault.server.keepAliveTimeout = 50;
    const client = newClient(fault.url, { retryBudgetMs: 0 });

    await client.health();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(client.health()).resolves.toEqual({ status: 'ok' });

    expect(fault.attempts.map((attempt) => attempt.connectionRequest)).toEqual([1, 1]);
  });

  it('throws TransportError on a refused port', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, 'close');
    const client = newClient(`http://127.0.0.1:${port}`, { retryBudgetMs: 100 });

    const err = await rejectionOf(client.info());

    expect(err).toBeInstanceOf(TransportError);
    const transportError = err as TransportError;
    expect(transportError.code).toBe('connection-failed');
    expect(transportError.retryable).toBe(true);
    expect((transportError.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('throws TransportError on a timeout', async () => {
    // The server reads the request and never responds.
    const fault = await startFaultServer(async (req) => {
      await readBody(req);
    });
    const client = newClient(fault.url, { timeoutMs: 200, retryBudgetMs: 0 });

    const err = await rejectionOf(client.info());

    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('timeout');
  });
});

describe('client uploads', () => {
  it('re-sends an fd body from offset 0 on retry', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    const received: Buffer[] = [];
    const fault = await startFaultServer(async (req, res, attempt) => {
      if (attempt.number === 1) {
        // Cut the first upload off in the middle of the body.
        const socket = req.socket;
        await once(req, 'data');
        socket.resetAndDestroy();
        return;
      }
      received.push(await readBody(req));
      res.writeHead(204).end();
    });
    const dir = await mkdtemp(join(tmpdir(), 'smtpq-client-'));
    directories.push(dir);
    const path = join(dir, 'body');
    await writeFile(path, body);
    const file = await open(path, 'r');
    // Move the fd's own position: the client must read from offset 0 regardless.
    await file.read(Buffer.alloc(100), 0, 100, null);
    const client = newClient(fault.url);

    try {
      await client.bodyPut('0000abcd', { fd: file.fd });
    } finally {
      await file.close();
    }

    expect(fault.attempts).toHaveLength(2);
    expect(fault.attempts[1]?.contentDigest).toBe(digest);
    expect(received[0]?.equals(body)).toBe(true);
  });

  it('fails an upload of a missing file', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      res.writeHead(204).end();
    });
    const client = newClient(fault.url);

    const err = await rejectionOf(client.bodyPut('0000abcd', { path: '/nonexistent/smtpq-body' }));

    expect((err as Error).name).toBe('BodySourceError');
    expect((err as Error).message).toContain('/nonexistent/smtpq-body');
    expect(fault.attempts).toHaveLength(0);
  });
});

describe('client downloads', () => {
  async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  it('fails a body cut short', async () => {
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(500));
      setTimeout(() => req.socket.resetAndDestroy(), 20);
    });
    const client = newClient(fault.url);

    const download = await client.bodyGet('0000abcd');
    const err = await rejectionOf(readAll(download.stream));

    expect(download.size).toBe(1000);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('connection-failed');
  });

  it('fails a body whose digest differs', async () => {
    const declared = createHash('sha256').update('the stored body').digest('base64');
    const fault = await startFaultServer(async (req, res) => {
      await readBody(req);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-digest': `sha-256=:${declared}:`,
        'content-length': '15',
      });
      res.end('a changed body!');
    });
    const client = newClient(fault.url);

    const download = await client.bodyGet('0000abcd');
    const err = await rejectionOf(readAll(download.stream));

    expect(download.sha256).toBe(Buffer.from(declared, 'base64').toString('hex'));
    expect(err).toBeInstanceOf(QueueError);
    expect((err as QueueError).code).toBe('internal');
    expect((err as QueueError).details).toMatchObject({ size: 15, receivedSize: 15 });
  });
});

describe('retry timing', () => {
  it('parses Retry-After', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');

    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-1', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });

  it('keeps backoff delays under their ceiling', () => {
    for (let retry = 1; retry <= 40; retry++) {
      const delay = backoffDelay(retry, 1000);
      const ceiling = Math.min(1000, 50 * 2 ** (retry - 1));
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
    }
  });
});
