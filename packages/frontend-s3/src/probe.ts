import { errorName, httpStatusOf, isNotImplemented } from './faults.js';
import type { S3DriverLogger } from './logger.js';
import type { S3Objects } from './s3-objects.js';

/** Conditional requests and checksums that the S3 server honours. */
export interface ServerFeatures {
  /** PutObject with `If-None-Match: *` fails with 412 when the key exists. */
  putIfNoneMatch: boolean;
  /** PutObject with `If-Match` fails with 412 on another ETag and succeeds on the current one. */
  putIfMatch: boolean;
  /** DeleteObject with `If-Match` does the same. */
  deleteIfMatch: boolean;
  /** PutObject with a SHA-256 checksum is accepted. */
  checksums: boolean;
}

// An ETag no object has: the MD5 digest form, all zeros.
const WRONG_ETAG = '"00000000000000000000000000000000"';

/**
 * Finds out by experiment which conditions the server honours, on a scratch key of the
 * store's prefix, and removes the key afterwards. A server that ignores a condition header
 * returns 200 where it should return 412, and one that rejects it returns 400 or 501.
 * `objects` must have blob checksums on, so that the last step tries one.
 */
export async function probeServer(
  objects: S3Objects,
  scratchKey: string,
  logger: S3DriverLogger,
): Promise<ServerFeatures> {
  try {
    return await probeSteps(objects, scratchKey);
  } finally {
    await objects.delete(scratchKey).catch((error: unknown) => {
      logger.warn(`s3: probe object ${scratchKey} not removed: ${(error as Error).message}`);
    });
  }
}

async function probeSteps(objects: S3Objects, key: string): Promise<ServerFeatures> {
  const features: ServerFeatures = {
    putIfNoneMatch: false,
    putIfMatch: false,
    deleteIfMatch: false,
    checksums: false,
  };

  const created = await unlessRejected(objects.put(key, body(1), { ifNoneMatch: '*' }));
  if (created === 'rejected') await objects.put(key, body(1));
  const again = await unlessRejected(objects.put(key, body(2), { ifNoneMatch: '*' }));
  features.putIfNoneMatch = typeof created === 'object' && again === 'precondition-failed';

  const wrongPut = await unlessRejected(objects.put(key, body(3), { ifMatch: WRONG_ETAG }));
  if (wrongPut === 'precondition-failed') {
    const current = await objects.head(key);
    const rightPut =
      current === null
        ? 'rejected'
        : await unlessRejected(objects.put(key, body(4), { ifMatch: current.etag }));
    features.putIfMatch = typeof rightPut === 'object';
  }

  const wrongDelete = await unlessRejected(objects.delete(key, WRONG_ETAG));
  if (wrongDelete === 'precondition-failed') {
    const current = await objects.head(key);
    const rightDelete =
      current === null ? 'rejected' : await unlessRejected(objects.delete(key, current.etag));
    features.deleteIfMatch = rightDelete === 'deleted' && (await objects.head(key)) === null;
  }

  const checksummed = await unlessRejected(objects.put(key, body(5), {}, true));
  features.checksums = typeof checksummed === 'object';
  return features;
}

function body(step: number): Buffer {
  return Buffer.from(`smtpq probe of conditional writes, step ${step}\n`);
}

/**
 * Returns the call's result, or `rejected` when the server refused the request as one it does
 * not implement or understand (400 or 501). Other failures are thrown.
 */
async function unlessRejected<T>(call: Promise<T>): Promise<T | 'rejected'> {
  try {
    return await call;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (isNotImplemented(cause) || httpStatusOf(cause) === 400) return 'rejected';
    if (errorName(cause) === 'InvalidArgument' || errorName(cause) === 'InvalidRequest') {
      return 'rejected';
    }
    throw error;
  }
}
