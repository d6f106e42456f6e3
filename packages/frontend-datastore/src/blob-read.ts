import { Readable } from 'node:stream';
import type { DatastoreAccess } from './access.js';
import { asBuffer } from './access.js';
import { type BlobHead, headOf } from './blob-head.js';
import { chunkKey } from './chunks.js';
import { checkStoreKey } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/** Reads a blob's head and opens a stream of its bytes, or returns null when it is absent. */
export async function blobGet(
  access: DatastoreAccess,
  key: string,
): Promise<{ size: number; stream: Readable } | null> {
  access.checkOpen();
  checkStoreKey(key);
  const head = await headRead(access, key);
  if (head === null) return null;
  if (head.inline !== null) return { size: head.size, stream: Readable.from([head.inline]) };
  return { size: head.size, stream: new ChunkStream(access, key, head) };
}

export async function headRead(access: DatastoreAccess, key: string): Promise<BlobHead | null> {
  const headKey = access.blobKey(key);
  return withRetries(`read head of ${key}`, access.policy, async () => {
    const [entity] = await clientCall(`read head of ${key}`, () =>
      access.client.get(headKey, { gaxOptions: access.callOptions() }),
    );
    return headOf(entity);
  });
}

/**
 * The bytes of a chunked blob, read one chunk entity at a time as the consumer reads
 * them: at most one chunk is buffered and one more in flight.
 */
class ChunkStream extends Readable {
  private next = 0;
  private reading = false;

  constructor(
    private readonly access: DatastoreAccess,
    private readonly key: string,
    private readonly head: BlobHead,
  ) {
    super();
  }

  override _read(): void {
    if (this.reading) return;
    if (this.next >= this.head.chunks) {
      this.push(null);
      return;
    }
    this.reading = true;
    const index = this.next;
    this.chunkRead(index).then(
      (data) => {
        this.reading = false;
        this.next = index + 1;
        if (this.push(data)) this._read();
      },
      (error: Error) => this.destroy(error),
    );
  }

  private async chunkRead(index: number): Promise<Buffer> {
    const entityKey = chunkKey(this.access, this.key, this.head.upload, index);
    const [entity] = await withRetries(
      `read chunk ${index} of ${this.key}`,
      this.access.policy,
      () =>
        clientCall(`read chunk ${index} of ${this.key}`, () =>
          this.access.client.get(entityKey, { gaxOptions: this.access.callOptions() }),
        ),
    );
    if (entity === undefined) {
      throw new Error(
        `chunk ${index} of blob ${this.key} is missing: the blob was deleted or replaced while it was read`,
      );
    }

    const data = asBuffer(entity.data);
    const expected =
      index < this.head.chunks - 1
        ? this.head.chunkSize
        : this.head.size - this.head.chunkSize * (this.head.chunks - 1);
    if (data.length !== expected) {
      throw new Error(
        `chunk ${index} of blob ${this.key} has ${data.length} bytes, expected ${expected}`,
      );
    }
    return data;
  }
}
