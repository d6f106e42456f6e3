import './s3-env.js';
import { randomBytes } from 'node:crypto';
import { openS3Driver, type S3DriverConfig, type S3DriverLogger } from '../../src/index.js';
import type { S3Driver } from '../../src/s3-driver.js';

/** Returns a logger that keeps its lines, for assertions on what an operator would read. */
export function memoryLogger(): S3DriverLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`info: ${message}`),
    warn: (message) => lines.push(`warn: ${message}`),
  };
}

/** Returns a fresh prefix, so that each test has a store of its own in the shared bucket. */
export function freshPrefix(label = 'store'): string {
  return `${label}-${randomBytes(6).toString('hex')}/`;
}

/** Opens a driver on a fresh prefix of `bucket` at `endpoint`, with quiet logs. */
export async function driverOpen(
  endpoint: string,
  bucket: string,
  config: Partial<S3DriverConfig> = {},
): Promise<S3Driver> {
  return await openS3Driver({
    bucket,
    prefix: freshPrefix(),
    endpoint,
    logger: memoryLogger(),
    ...config,
  });
}

/** Yields `total` bytes in chunks of `chunkBytes`, each byte a function of its offset. */
export async function* patternSource(total: number, chunkBytes = 64 * 1024) {
  for (let offset = 0; offset < total; offset += chunkBytes) {
    const length = Math.min(chunkBytes, total - offset);
    const chunk = Buffer.alloc(length);
    for (let i = 0; i < length; i++) chunk[i] = ((offset + i) * 31 + ((offset + i) >>> 11)) & 0xff;
    yield chunk;
  }
}

export async function streamBytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
