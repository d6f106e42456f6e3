import type { Readable } from 'node:stream';
import { ObjectId } from 'mongodb';
import type { BlobDocument } from './collections.js';
import { isDuplicateKey } from './faults.js';
import { gridFsDownload } from './gridfs-download.js';
import { type GridFsContext, gridFsDelete, gridFsUpload } from './gridfs-upload.js';
import { keyRange } from './key-range.js';
import type { DriverLogger } from './retry.js';
import { withRetry } from './retry.js';

/**
 * Blobs as GridFS files named by a pointer document per key in `blobs`. Every put uploads a
 * new file and then moves the pointer with a compare-and-swap on the file id, so a reader
 * sees the old bytes or the new ones, never a mix, and a failed upload changes nothing.
 */
export class GridFsBlobStore {
  constructor(
    private readonly context: GridFsContext,
    private readonly logger?: DriverLogger,
  ) {}

  async put(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const fileId = new ObjectId();
    const size = await gridFsUpload(this.context, fileId, key, source);

    let previous: ObjectId | null;
    try {
      previous = await this.pointerMove(key, fileId, size);
    } catch (error) {
      await gridFsDelete(this.context, fileId).catch(() => undefined);
      throw error;
    }

    if (previous !== null) {
      // The put is done; a replaced file that cannot be deleted now is left to collectOrphans.
      await gridFsDelete(this.context, previous).catch((error: unknown) => {
        this.logger?.warn(
          { key, fileId: previous.toHexString(), err: error },
          'mongodb: replaced GridFS file not deleted; orphan collection will remove it',
        );
      });
    }
    return { size };
  }

  async get(key: string): Promise<{ size: number; stream: Readable } | null> {
    const { blobs, files } = this.context.collections;

    for (;;) {
      const pointer = await withRetry('blob read', this.context.retry, () =>
        blobs.findOne({ _id: key }),
      );
      if (pointer === null) return null;

      const file = await withRetry('blob read', this.context.retry, () =>
        files.findOne({ _id: pointer.fileId }),
      );
      if (file !== null) return { size: file.length, stream: gridFsDownload(this.context, file) };

      // The file went away under a concurrent put or delete of the key: read the key again.
      const again = await withRetry('blob read', this.context.retry, () =>
        blobs.findOne({ _id: key }),
      );
      if (again === null || again.fileId.equals(pointer.fileId)) return null;
    }
  }

  async delete(key: string): Promise<void> {
    const { blobs } = this.context.collections;
    let attempted: ObjectId | null = null;

    for (;;) {
      const pointer = await withRetry('blob read', this.context.retry, () =>
        blobs.findOne({ _id: key }),
      );
      if (pointer === null) {
        // A pointer delete whose acknowledgement was lost: its file is still to be removed.
        // No other key can point to it, because every upload has a file id of its own.
        if (attempted !== null) await gridFsDelete(this.context, attempted);
        return;
      }

      attempted = pointer.fileId;
      const result = await this.context.guard.run('blobs', key, () =>
        withRetry('blob delete', this.context.retry, () =>
          blobs.deleteOne({ _id: key, fileId: pointer.fileId }),
        ),
      );
      if (result.deletedCount === 1) {
        await gridFsDelete(this.context, pointer.fileId);
        return;
      }
    }
  }

  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    if (options.limit <= 0) return [];
    const documents = await withRetry('blob list', this.context.retry, () =>
      this.context.collections.blobs
        .find(keyRange(prefix, options.after), {
          projection: { _id: 1 },
          sort: { _id: 1 },
          limit: options.limit,
        })
        .toArray(),
    );
    return documents.map((document) => document._id);
  }

  /**
   * Points `key` at a new file. Returns the file id it pointed to before, or null when the
   * key was new. A retried write whose first attempt landed finds its own file id and
   * returns the id it replaced.
   */
  private async pointerMove(key: string, fileId: ObjectId, size: number): Promise<ObjectId | null> {
    const { blobs } = this.context.collections;
    let previous: ObjectId | null = null;

    for (;;) {
      const current = await withRetry('blob read', this.context.retry, () =>
        blobs.findOne({ _id: key }),
      );
      if (current?.fileId.equals(fileId)) return previous;

      if (current === null) {
        const pointer: BlobDocument = { _id: key, fileId, size };
        const inserted = await withRetry('blob write', this.context.retry, async () => {
          try {
            await blobs.insertOne(pointer);
            return true;
          } catch (error) {
            if (isDuplicateKey(error)) return false;
            throw error;
          }
        });
        if (inserted) return null;
        continue;
      }

      previous = current.fileId;
      const result = await this.context.guard.run('blobs', key, () =>
        withRetry('blob write', this.context.retry, () =>
          blobs.updateOne({ _id: key, fileId: current.fileId }, { $set: { fileId, size } }),
        ),
      );
      if (result.matchedCount === 1) return previous;
    }
  }
}
