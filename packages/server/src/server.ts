import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { QueueError } from '@smtpq/protocol';
import { pino } from 'pino';
import { createApp } from './app.js';
import { startGarbageTimer } from './garbage-timer.js';
import { InFlightRequests } from './in-flight.js';
import { formatHostPort, isLoopbackHost } from './loopback.js';
import { ServerMetrics } from './metrics.js';
import {
  DEFAULT_GC_INTERVAL_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_REQUEST_IDLE_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type StartServerOptions,
} from './options.js';
import { cutStalledClients } from './stall-timeout.js';

export interface RunningServer {
  /** Base URL of the frontend, without `/v1`: `http://127.0.0.1:8025`. */
  url: string;
  address: { host: string; port: number };
  /**
   * Stops accepting connections, lets requests in flight finish (at most `shutdownTimeoutMs`),
   * then closes the store. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** An error that stops the server from starting; its message is meant for the operator. */
export class StartupError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StartupError';
  }
}

/** Starts the HTTP (or HTTPS) server of the protocol over `options.store`. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  checkAuthentication(host, port, options.token);

  const logger = options.logger ?? pino({ name: 'smtpq-server' });
  const metrics = options.metrics ?? new ServerMetrics(options.store);
  const app = createApp(options.store, { ...options, logger, metrics });

  const server = options.tls === undefined ? createHttpServer() : createTlsServer(options.tls);
  // A client that stopped reading a download would otherwise hold its connection and its store
  // stream forever. Uploads that stall get their 408 from the shorter idle timeout first.
  const watchStalls = cutStalledClients(
    server,
    2 * (options.requestIdleTimeoutMs ?? DEFAULT_REQUEST_IDLE_TIMEOUT_MS),
  );

  const inFlight = new InFlightRequests();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.track(res);
    watchStalls(res);
    app(req, res);
  };

  server.on('request', handle);
  // With a listener here, Node no longer sends `100 Continue` by itself. The route sends it
  // when it starts reading, so the client never sends the body of a rejected upload.
  server.on('checkContinue', handle);
  server.on('clientError', answerClientError);
  server.headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  // The idle timeout of request bodies replaces Node's limit on the whole request, which
  // would cut large uploads on slow links.
  server.requestTimeout = 0;
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;

  await listen(server, host, port);
  const address = server.address() as AddressInfo;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${formatHostPort(address.address, address.port)}`;

  const garbage = startGarbageTimer(
    options.store,
    options.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS,
    logger,
    (report) => metrics.recordCensus(report.census),
  );

  const shutdown = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();

    const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    const [finished] = await Promise.all([inFlight.drain(timeoutMs), garbage.stop()]);
    if (!finished) {
      logger.warn(
        { inFlight: inFlight.size, timeoutMs },
        'shutdown timed out; cutting requests in flight',
      );
    }

    server.closeAllConnections();
    await closed;
    await options.store.close();
  };

  let closed: Promise<void> | undefined;
  return {
    url,
    address: { host: address.address, port: address.port },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}

/** Creates the HTTPS server, or throws a StartupError that names what is wrong with the files. */
function createTlsServer(tls: NonNullable<StartServerOptions['tls']>) {
  try {
    return createHttpsServer({ cert: tls.cert, key: tls.key });
  } catch (error) {
    throw new StartupError(
      `cannot use the TLS certificate and key: ${(error as Error).message}; give a PEM ` +
        'certificate chain with --tls-cert and its PEM private key with --tls-key',
      { cause: error },
    );
  }
}

function checkAuthentication(host: string, port: number, token: string | undefined): void {
  if (token === '') {
    throw new StartupError('the token is empty; put the token in the file of --token-file');
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new StartupError(
      `will not listen on ${formatHostPort(host, port)} without a token, because other ` +
        'machines could reach the queue; give a token with --token-file FILE (or SMTPQ_TOKEN), ' +
        'or listen on a loopback address such as 127.0.0.1',
    );
  }
}

async function listen(
  server: ReturnType<typeof createHttpServer>,
  host: string,
  port: number,
): Promise<void> {
  server.listen({ host, port });
  try {
    await once(server, 'listening');
  } catch (error) {
    throw new StartupError(
      `cannot listen on ${formatHostPort(host, port)}: ${listenFailure(error)}`,
      { cause: error },
    );
  }
}

function listenFailure(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return (
        'the address is already in use; stop the other server or choose another port ' +
        'with --listen'
      );
    case 'EACCES':
      return 'permission denied; ports below 1024 need privileges';
    case 'EADDRNOTAVAIL':
      return 'the address is not on this machine';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    default:
      return (error as Error).message;
  }
}

/**
 * Sends the JSON error of a request that Node's parser rejected (malformed HTTP, headers too
 * large or too slow, a body cut short) in place of Node's bare status line.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }

  const queueError = clientErrorOf(error);
  const body = JSON.stringify(queueError.toBody());
  socket.end(
    `HTTP/1.1 ${queueError.status} ${STATUS_CODES[queueError.status]}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function clientErrorOf(error: NodeJS.ErrnoException): QueueError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new QueueError('request-timeout', 'request headers were not received in time');
    case 'HPE_INVALID_EOF_STATE':
      return new QueueError(
        'incomplete-body',
        'request ended before its Content-Length or its last chunk; ' +
          'nothing was stored, send it again',
      );
    case 'HPE_HEADER_OVERFLOW':
      return new QueueError('invalid-request', 'request headers are too large');
    default:
      return new QueueError(
        'invalid-request',
        `malformed HTTP request: ${error.message} (${error.code ?? 'no code'})`,
      );
  }
}
