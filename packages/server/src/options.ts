import { DEFAULT_LIMITS, type Limits } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';
import type { Logger } from 'pino';
import type { ServerMetrics } from './metrics.js';

/** Settings of the Express app; every field has a default. */
export interface ServerOptions {
  /** pino logger; one line per request goes to it. Default: pino at level info on stdout. */
  logger?: Logger;
  /** Bearer token every request but `GET /v1/health` must carry; none means no authentication. */
  token?: string;
  /** Request limits; each defaults to DEFAULT_LIMITS and never exceeds the store's own. */
  limits?: Partial<Pick<Limits, 'maxMessageBytes' | 'maxEnvelopeBytes' | 'maxBundleEnvelopes'>>;
  /** Milliseconds a request body may stall before the request fails with 408 (default 30000). */
  requestIdleTimeoutMs?: number;
  /** Path of the OpenAPI document; default: `openapi.json` of @smtpq/protocol. */
  openapiPath?: string;
  /** Metrics served at `GET /metrics`; default: a new registry over the app's store. */
  metrics?: ServerMetrics;
}

/** Settings of `startServer`: the app's settings plus the listening socket and timers. */
export interface StartServerOptions extends ServerOptions {
  store: QueueStore;
  /** Address to listen on (default 127.0.0.1); other than loopback only with a token. */
  host?: string;
  /** TCP port (default 8025); 0 picks a free port. */
  port?: number;
  /** PEM certificate chain and key: the server speaks HTTPS when given. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Milliseconds a client may take to send the request headers (default 60000). */
  headersTimeoutMs?: number;
  /** Milliseconds an idle keep-alive connection stays open (default 5000). */
  keepAliveTimeoutMs?: number;
  /** Milliseconds between two garbage collections of the store (default 300000; 0 = never). */
  gcIntervalMs?: number;
  /** Milliseconds `close()` waits for requests in flight before it cuts them (default 10000). */
  shutdownTimeoutMs?: number;
}

export const DEFAULT_REQUEST_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_GC_INTERVAL_MS = 300_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8025;

/**
 * Returns the limits the server enforces and announces in `GET /v1`. A limit above the
 * store's own would only move the rejection later, into the store, so the lower one wins.
 */
export function resolveLimits(store: QueueStore, options: ServerOptions): Limits {
  const limits = options.limits ?? {};
  return {
    maxMessageBytes: Math.min(
      limits.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
      store.options.maxMessageBytes,
    ),
    maxEnvelopeBytes: Math.min(
      limits.maxEnvelopeBytes ?? DEFAULT_LIMITS.maxEnvelopeBytes,
      store.options.maxEnvelopeBytes,
    ),
    maxWalkPageEnvelopes: store.options.maxWalkPageEnvelopes,
    maxWalkPageBytes: store.options.maxWalkPageBytes,
    maxBundleEnvelopes: limits.maxBundleEnvelopes ?? DEFAULT_LIMITS.maxBundleEnvelopes,
  };
}
