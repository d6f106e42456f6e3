import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageDriver, StoredRecord } from '@smtpq/store';

/**
 * Passes chunks through at most `bytesPerSecond`, measured from the first chunk: each chunk
 * waits until the bytes before it would have taken that long. The consumer pulls, so a slow
 * pace slows the producer down instead of buffering.
 */
async function* throttle(
  source: AsyncIterable<Uint8Array>,
  bytesPerSecond: number,
): AsyncGenerator<Uint8Array> {
  const started = Date.now();
  let passed = 0;

  for await (const chunk of source) {
    const due = started + (passed / bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    passed += chunk.length;
    yield chunk;
  }
}

/**
 * A storage driver whose blob reads and writes run at a limited rate, like a slow or
 * overloaded disk or object store. Records and listings pass through unchanged.
 */
export class ThrottledDriver implements StorageDriver {
  readonly kind: string;

  constructor(
    private readonly inner: StorageDriver,
    private readonly bytesPerSecond: number,
  ) {
    this.kind = inner.kind;
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.inner.get(key);
  }

  create(key: string, data: Buffer): Promise<string | null> {
    return this.inner.create(key, data);
  }

  replace(key: string, data: Buffer, expectedVersion: string) {
    return this.inner.replace(key, data, expectedVersion);
  }

  delete(key: string, expectedVersion?: string) {
    return this.inner.delete(key, expectedVersion);
  }

  list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return this.inner.list(prefix, options);
  }

  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    return this.inner.blobPut(key, throttle(source, this.bytesPerSecond));
  }

  async blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    const blob = await this.inner.blobGet(key);
    if (blob === null) return null;

    const stream = Readable.from(throttle(blob.stream, this.bytesPerSecond), {
      objectMode: false,
    });
    // A reader that goes away must release the file under the throttle too.
    stream.on('close', () => blob.stream.destroy());
    return { size: blob.size, stream };
  }

  blobDelete(key: string): Promise<void> {
    return this.inner.blobDelete(key);
  }

  blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return this.inner.blobList(prefix, options);
  }

  health(): Promise<void> {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
