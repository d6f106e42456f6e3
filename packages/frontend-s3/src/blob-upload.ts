import type { CompletedPart } from '@aws-sdk/client-s3';
import { StorageFault } from '@smtpq/store';
import type { S3DriverLogger } from './logger.js';
import type { S3Objects } from './s3-objects.js';

// S3 accepts at most 10,000 parts in one multipart upload.
const MAX_PARTS = 10_000;

/**
 * Stores a blob from a stream. A blob that ends within one part is one PutObject. A longer one
 * is a multipart upload of parts of `partBytes`, completed only after the source has ended
 * without error and aborted otherwise, so a failed upload never becomes visible. At most one
 * part is in memory (see PartReader).
 */
export async function blobUpload(
  objects: S3Objects,
  key: string,
  source: AsyncIterable<Uint8Array>,
  partBytes: number,
  logger: S3DriverLogger,
): Promise<{ size: number }> {
  const iterator = source[Symbol.asyncIterator]();
  const reader = new PartReader(iterator, partBytes);
  try {
    const first = await reader.next();
    if (first.last) {
      const result = await objects.put(key, first.data, {}, true);
      if (typeof result !== 'object') {
        throw new StorageFault(
          'unavailable',
          `S3 PutObject ${key} without conditions got ${result}`,
        );
      }
      return { size: first.data.length };
    }
    return await multipartUpload(objects, key, reader, first.data, logger);
  } finally {
    // Stop the source when S3 failed before the source ended.
    if (!reader.ended) await iterator.return?.().catch(() => undefined);
  }
}

async function multipartUpload(
  objects: S3Objects,
  key: string,
  reader: PartReader,
  firstPart: Buffer,
  logger: S3DriverLogger,
): Promise<{ size: number }> {
  const uploadId = await objects.multipartCreate(key);
  try {
    const parts: CompletedPart[] = [];
    let size = 0;
    let part = { data: firstPart, last: false };
    for (;;) {
      if (part.data.length > 0) {
        if (parts.length >= MAX_PARTS) {
          throw new StorageFault(
            'unavailable',
            `S3 upload ${key} needs more than ${MAX_PARTS} parts`,
          );
        }
        parts.push(await objects.multipartUpload(key, uploadId, parts.length + 1, part.data));
        size += part.data.length;
      }
      if (part.last) break;
      part = await reader.next();
    }

    await objects.multipartComplete(key, uploadId, parts);
    return { size };
  } catch (error) {
    await objects.multipartAbort(key, uploadId).catch((abortError: unknown) => {
      // S3 removes the parts of an abandoned upload only under a lifecycle rule.
      logger.warn(
        `s3: abort of multipart upload ${key} failed, its parts stay until a lifecycle rule ` +
          `removes them: ${(abortError as Error).message}`,
      );
    });
    throw error;
  }
}

// First size of a part buffer; small bodies, the common case, never need more.
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * Cuts a stream of chunks into parts of a fixed size; the last part may be shorter. Every part
 * is a view of one buffer that grows up to the part size and is then reused, so a returned
 * part is valid only until the next call. The upload awaits each part before it reads the
 * next, SDK retries included, which keeps memory at one part however long the blob.
 */
class PartReader {
  ended = false;
  private buffer: Buffer;
  private carry: Buffer | null = null;

  constructor(
    private readonly iterator: AsyncIterator<Uint8Array>,
    private readonly partBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(FIRST_BUFFER_BYTES, partBytes));
  }

  async next(): Promise<{ data: Buffer; last: boolean }> {
    let filled = 0;
    while (filled < this.partBytes) {
      let chunk = this.carry;
      this.carry = null;
      if (chunk === null) {
        if (this.ended) break;
        const step = await this.iterator.next();
        if (step.done === true) {
          this.ended = true;
          break;
        }
        chunk = Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
      }

      const copied = Math.min(chunk.length, this.partBytes - filled);
      this.room(filled + copied);
      chunk.copy(this.buffer, filled, 0, copied);
      filled += copied;
      if (copied < chunk.length) this.carry = chunk.subarray(copied);
    }
    return { data: this.buffer.subarray(0, filled), last: this.ended && this.carry === null };
  }

  /** Grows the buffer, by doubling up to the part size, until it has room for `bytes`. */
  private room(bytes: number): void {
    if (bytes <= this.buffer.length) return;
    let size = this.buffer.length;
    while (size < bytes) size = Math.min(this.partBytes, size * 2);
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown);
    this.buffer = grown;
  }
}
