import { randomBytes } from 'node:crypto';
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { StorageFault } from '@smtpq/store';
import {
  createS3Client,
  type RetryCount,
  regionFromChain,
  type S3ClientSettings,
} from './client.js';
import {
  type ConditionalRecords,
  ServerConditions,
  SingleWriterConditions,
} from './conditional-records.js';
import { errorName, httpStatusOf, S3ConfigError, toStorageFault } from './faults.js';
import { type S3DriverLogger, stderrLogger } from './logger.js';
import { probeServer, type ServerFeatures } from './probe.js';
import { KEY_SPACES, S3Driver } from './s3-driver.js';
import { S3Objects } from './s3-objects.js';

export interface S3DriverConfig {
  bucket: string;
  /** Key prefix of the store in the bucket; a `/` is added when it lacks one. */
  prefix?: string;
  /** Endpoint of an S3-compatible server; AWS when absent. */
  endpoint?: string;
  /** Region; from the AWS configuration chain when absent, and us-east-1 with an endpoint. */
  region?: string;
  /** Path-style requests; the default is on with an endpoint and off for AWS. */
  pathStyle?: boolean;
  /**
   * Emulate the conditional writes the server lacks in this process. Correct only while
   * exactly one frontend process uses the prefix.
   */
  singleWriter?: boolean;
  logger?: S3DriverLogger;
  /** Attempts of one request, the first included (default 6). */
  maxAttempts?: number;
  /** Time to open a connection, in ms (default 3000). */
  connectTimeoutMs?: number;
  /** Time one attempt may take until the response headers, in ms (default 30000). */
  requestTimeoutMs?: number;
  /** Time a socket may stay silent, response bodies included, in ms (default 10000). */
  idleTimeoutMs?: number;
  /** Time one call may take with all its retries, in ms (default 60000). */
  operationTimeoutMs?: number;
  /** Size of multipart upload parts, in bytes, at least 5 MiB (default 8 MiB). */
  partBytes?: number;
  /**
   * S3 requests in progress at once, and idle sockets kept open for the next ones (default 64;
   * the store reads up to 32 envelopes at once during a walk).
   */
  maxSockets?: number;
  /** First backoff between attempts before jitter, in ms; doubles on each retry (default 100). */
  retryBaseMs?: number;
  /** Maximum backoff between attempts before jitter, in ms (default 2000). */
  retryMaxMs?: number;
}

const DEFAULTS = {
  maxAttempts: 6,
  connectTimeoutMs: 3000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 10_000,
  operationTimeoutMs: 60_000,
  partBytes: 8 * 1024 * 1024,
  maxSockets: 64,
  retryBaseMs: 100,
  retryMaxMs: 2000,
};

// S3 rejects multipart parts under 5 MiB, except the last.
const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * Opens the S3 store: checks that the bucket exists and may be read, then probes on a scratch
 * key which conditional writes the server honours (see probe.ts). Throws an S3ConfigError naming
 * what to fix when the bucket is missing, access is denied, credentials or region are missing,
 * or the server lacks conditional writes and `singleWriter` is not set.
 */
export async function openS3Driver(config: S3DriverConfig): Promise<S3Driver> {
  const settings = { ...DEFAULTS, ...definedFields(config) };
  if (settings.partBytes < MIN_PART_BYTES) {
    throw new S3ConfigError(`partBytes ${settings.partBytes} is below the S3 minimum of 5 MiB`);
  }
  const logger = config.logger ?? stderrLogger;
  const prefix = prefixOf(config.prefix ?? '');
  const where = config.endpoint ?? 'AWS S3';
  const store = `s3://${config.bucket}/${prefix}`;

  const region = config.region ?? (await regionFromChain()) ?? defaultRegion(config);
  const clientSettings: S3ClientSettings = {
    ...settings,
    endpoint: config.endpoint,
    region,
    pathStyle: config.pathStyle ?? config.endpoint !== undefined,
  };
  const retries: RetryCount = { total: 0 };
  const client = createS3Client(clientSettings, retries);

  try {
    await bucketCheck(client, config.bucket, where, region);

    const scratchKey = `${prefix}${KEY_SPACES.probe}${randomBytes(8).toString('hex')}`;
    const probeObjects = new S3Objects(client, config.bucket, {
      ...settings,
      blobChecksums: true,
      maxRequests: settings.maxSockets,
    });
    const features = await probeServer(probeObjects, scratchKey, logger).catch((error) => {
      throw accessError(error, config.bucket, prefix, where);
    });

    const objects = new S3Objects(client, config.bucket, {
      ...settings,
      blobChecksums: features.checksums,
      maxRequests: settings.maxSockets,
    });
    const records = conditionsFor(features, objects, config.singleWriter === true, {
      where,
      store,
      logger,
    });
    logger.info(
      `s3: opened ${store} at ${where}, region ${region}; server features: ` +
        `${featureList(features)}`,
    );
    return new S3Driver({
      objects,
      records,
      prefix,
      partBytes: settings.partBytes,
      logger,
      retries,
    });
  } catch (error) {
    client.destroy();
    throw error;
  }
}

function conditionsFor(
  features: ServerFeatures,
  objects: S3Objects,
  singleWriter: boolean,
  context: { where: string; store: string; logger: S3DriverLogger },
): ConditionalRecords {
  const missing: string[] = [];
  if (!features.putIfNoneMatch) missing.push('If-None-Match on PutObject');
  if (!features.putIfMatch) missing.push('If-Match on PutObject');

  if (singleWriter && (missing.length > 0 || !features.deleteIfMatch)) {
    if (!features.deleteIfMatch) missing.push('If-Match on DeleteObject');
    context.logger.warn(
      `s3: ${context.where} does not honour ${missing.join(', ')}; with singleWriter this ` +
        `process emulates conditional writes, so exactly one frontend process may use ` +
        `${context.store}`,
    );
    return new SingleWriterConditions(objects);
  }

  if (missing.length > 0) {
    throw new S3ConfigError(
      `the S3 server at ${context.where} does not honour ${missing.join(' and ')} ` +
        '(conditional writes), which smtpq needs so that frontend processes never overwrite ' +
        'each other; use a server that supports conditional writes, or run exactly one ' +
        'frontend process on this prefix with singleWriter=true in the store URL',
    );
  }

  if (!features.deleteIfMatch) {
    context.logger.warn(
      `s3: ${context.where} does not honour If-Match on DeleteObject; deletes with an ` +
        'expected version overwrite the record with an empty tombstone first (see Limits in ' +
        'the frontend-s3 README)',
    );
  }
  return new ServerConditions(objects, features.deleteIfMatch, context.logger);
}

/** Checks with HeadBucket that the bucket exists, is in this region and may be listed. */
async function bucketCheck(
  client: S3Client,
  bucket: string,
  where: string,
  region: string,
): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = httpStatusOf(error);
    const name = errorName(error);
    if (name === 'CredentialsProviderError') {
      throw new S3ConfigError(
        'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ' +
          'AWS_PROFILE with a shared credentials file, or run with an instance or task role',
        { cause: error },
      );
    }
    if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
      throw new S3ConfigError(
        `bucket ${bucket} does not exist at ${where}; create it, or correct the bucket in ` +
          'the store URL',
        { cause: error },
      );
    }
    if (status === 403) {
      throw new S3ConfigError(
        `access to bucket ${bucket} at ${where} was denied (403); check that the credentials ` +
          `are valid and that their policy grants s3:ListBucket on ${bucket}`,
        { cause: error },
      );
    }
    if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
      throw new S3ConfigError(
        `bucket ${bucket} is not in region ${region}; set region= in the store URL (or ` +
          'AWS_REGION) to the bucket region',
        { cause: error },
      );
    }
    throw toStorageFault(error, `HeadBucket ${bucket} at ${where}`);
  }
}

/** Turns a denied write of the probe into the configuration error it is. */
function accessError(error: unknown, bucket: string, prefix: string, where: string): unknown {
  if (!(error instanceof StorageFault) || httpStatusOf(error.cause) !== 403) return error;
  return new S3ConfigError(
    `writing to bucket ${bucket} at ${where} was denied (403); the policy must grant ` +
      `s3:GetObject, s3:PutObject and s3:DeleteObject on ${bucket}/${prefix}*`,
    { cause: error },
  );
}

function defaultRegion(config: S3DriverConfig): string {
  // S3-compatible servers accept any region in the signature; us-east-1 is the usual one.
  if (config.endpoint !== undefined) return 'us-east-1';
  throw new S3ConfigError(
    'no AWS region: set region= in the store URL, or AWS_REGION, or a region in the shared ' +
      'config file',
  );
}

function prefixOf(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function featureList(features: ServerFeatures): string {
  const names: Array<[keyof ServerFeatures, string]> = [
    ['putIfNoneMatch', 'PutObject If-None-Match'],
    ['putIfMatch', 'PutObject If-Match'],
    ['deleteIfMatch', 'DeleteObject If-Match'],
    ['checksums', 'SHA-256 checksums'],
  ];
  return names.map(([field, name]) => `${name} ${features[field] ? 'yes' : 'no'}`).join(', ');
}

function definedFields(config: S3DriverConfig): Partial<typeof DEFAULTS> {
  const fields: Partial<typeof DEFAULTS> = {};
  for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value = config[name];
    if (value !== undefined) fields[name] = value;
  }
  return fields;
}
