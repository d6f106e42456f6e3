import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';

export interface S3ClientSettings {
  endpoint?: string;
  region: string;
  pathStyle: boolean;
  /** Attempts of one request, the first included, with the SDK's jittered backoff between. */
  maxAttempts: number;
  /** Time to open a TCP (and TLS) connection, in ms. */
  connectTimeoutMs: number;
  /** Time one attempt may take until the response headers, request body included, in ms. */
  requestTimeoutMs: number;
  /** Time a socket may stay silent in either direction, response body included, in ms. */
  idleTimeoutMs: number;
  /** Idle sockets kept open per host for the next requests. */
  maxSockets: number;
  /** First backoff between attempts before jitter, in ms; it doubles on every retry. */
  retryBaseMs: number;
  /** Maximum backoff between two attempts before jitter, in ms. */
  retryMaxMs: number;
}

/** Retries of S3 requests made since the client was created, attempts after the first. */
export interface RetryCount {
  total: number;
}

/**
 * Creates the S3 client. Credentials come from the SDK's default chain (environment, shared
 * files, then container and instance roles). The SDK retries what it deems transient (5xx,
 * throttling such as 503 SlowDown, timeouts, reset connections) with exponential backoff and
 * full jitter. Its own throttling backoff starts at 1 s and grows to 20 s. smtpd waits for
 * every queue call, so the backoff here is shorter and the same for every retryable error.
 * Checksums are sent only where the driver sets one. Since @aws-sdk/client-s3 3.729.0 the
 * default adds a CRC32 checksum to every PutObject, and some S3-compatible servers reject that
 * header (Cloudflare R2 answered 501 NotImplemented when that release came out).
 */
export function createS3Client(
  settings: S3ClientSettings,
  retries: RetryCount = { total: 0 },
): S3Client {
  // The driver bounds its requests itself (RequestSlots), so the agent never makes a request
  // wait for a socket while the SDK's timeouts run. Streamed blob bodies hold sockets on top.
  const agentOptions = {
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: settings.maxSockets,
  };
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.pathStyle,
    retryStrategy: new ConfiguredRetryStrategy(settings.maxAttempts, (retry) => {
      retries.total += 1;
      return backoffMs(retry, settings);
    }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: settings.idleTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  });
}

/** Full jitter: a random delay up to base × 2^(retry − 1), capped; `retry` counts from 1. */
function backoffMs(retry: number, settings: S3ClientSettings): number {
  const ceiling = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** (retry - 1));
  return Math.floor(Math.random() * ceiling);
}

/**
 * Returns the region from the AWS configuration chain (AWS_REGION, the shared config file), or
 * undefined when it names none.
 */
export async function regionFromChain(): Promise<string | undefined> {
  const client = new S3Client({});
  try {
    return await client.config.region();
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}
