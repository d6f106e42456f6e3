import type { NodeContext } from '../pool.js';

/** Settings of a QueueClient. */
export interface ClientOptions {
  /** Frontend base URL without `/v1`, such as `http://127.0.0.1:8025`. */
  url: string;
  /** Bearer token sent in Authorization on every request. */
  token?: string;
  /** PEM CA certificates that the https server certificate must chain to. */
  ca?: string | Buffer;
  /** PEM client certificate, for a frontend that requests one. */
  cert?: string | Buffer;
  /** PEM key of `cert`. */
  key?: string | Buffer;
  /**
   * Per-request timeout in ms, default 10000: connecting, waiting for the response headers
   * (counted from the end of the upload, or from the last upload progress while the server
   * does not read), and each gap between chunks of the response body.
   */
  timeoutMs?: number;
  /** Time in ms spent retrying one call after its first failure, default 5000. */
  retryBudgetMs?: number;
  /** Maximum delay in ms between two attempts of the exponential backoff, default 1000. */
  maxRetryDelayMs?: number;
  /** Maximum keep-alive connections to the frontend, default 16. */
  connections?: number;
  /** Pool node context sent on every request (Smtpq-Node and Smtpq-Lease); see setNode. */
  node?: NodeContext;
  /** Receives one warning per retry. */
  logger?: { warn(obj: object, msg: string): void };
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_BUDGET_MS = 5_000;
export const DEFAULT_MAX_RETRY_DELAY_MS = 1_000;
export const DEFAULT_CONNECTIONS = 16;
