import { constants } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { StorageFault } from '@smtpq/store';
import { toStorageFault } from './faults.js';
import {
  FILE_MODE,
  type FsIo,
  hasCode,
  NEW_FILE_FLAGS,
  type OpenFile,
  settleAll,
} from './fs-io.js';
import type { StoreLayout } from './layout.js';
import { tempName } from './temp.js';

/** Bytes read from a blob file per stream chunk. */
const READ_CHUNK_BYTES = 64 * 1024;
/** Attempts to publish a blob while deletes remove its (empty) parent folders. */
const MAX_PUBLISH_ATTEMPTS = 10;

/**
 * Blobs are plain files `<key>@` in the blobs/ tree. A blob is written to tmp/, fsynced and
 * renamed over the old one, which rename(2) does atomically. Readers that opened the old file
 * keep reading it.
 */
export class BlobFiles {
  constructor(
    private readonly io: FsIo,
    private readonly layout: StoreLayout,
  ) {}

  async put(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const { folder, entry } = this.layout.blobPath(key);
    const staging = join(this.layout.tmp, tempName());

    let published = false;
    try {
      let size = 0;
      await settleAll([
        this.writeStaging(staging, source).then((written) => {
          size = written;
        }),
        this.io.prepareFolder(this.layout.blobs, folder),
      ]);
      await this.publish(key, staging, folder, entry);
      published = true;
      await this.io.syncExisting(this.layout.blobs, folder);
      return { size };
    } finally {
      if (!published) await this.io.unlinkIfPresent(staging).catch(() => undefined);
    }
  }

  async get(key: string): Promise<{ size: number; stream: Readable } | null> {
    const { entry } = this.layout.blobPath(key);
    let file: OpenFile;
    try {
      file = await this.io.open(entry, constants.O_RDONLY);
    } catch (error) {
      if (hasCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    }

    try {
      const size = await file.size();
      return { size, stream: new BlobReadStream(file, key) };
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const { folder, entry } = this.layout.blobPath(key);
    if (!(await this.io.unlinkIfPresent(entry))) return;
    await this.io.syncExisting(this.layout.blobs, folder);
    await this.io.pruneFolders(this.layout.blobs, folder);
  }

  /**
   * Streams `source` into a new file at `staging` and fsyncs it; returns the byte count. An
   * error of the source passes through unchanged: it is the caller's fault (a failed digest
   * check, an aborted upload), not the storage's.
   */
  private async writeStaging(staging: string, source: AsyncIterable<Uint8Array>) {
    const file = await this.io.open(staging, NEW_FILE_FLAGS, FILE_MODE);
    let size = 0;
    try {
      for await (const chunk of source) {
        await file.writeAll(chunk);
        size += chunk.byteLength;
      }
      await file.sync();
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
    await file.close();
    return size;
  }

  private async publish(key: string, staging: string, folder: string, entry: string) {
    for (let attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      try {
        await this.io.rename(staging, entry);
        return;
      } catch (error) {
        if (!hasCode(error, 'ENOENT')) throw error;
      }

      // ENOENT: the blob's folder is missing, or another process removed the staging file.
      try {
        await this.io.stat(staging);
      } catch (error) {
        if (!hasCode(error, 'ENOENT')) throw error;
        throw new StorageFault(
          'unavailable',
          `fs store: blobPut ${key} failed: another process removed ${staging} while it was ` +
            'in use; check that every process on this store runs on this host',
        );
      }
      await this.io.makeFolders(this.layout.blobs, folder);
    }
    throw new StorageFault(
      'unavailable',
      `fs store: blobPut ${key} failed: ${folder} was removed during each of ` +
        `${MAX_PUBLISH_ATTEMPTS} attempts`,
    );
  }
}

/** A blob's bytes from an open file; the file is closed at the end or on destroy. */
class BlobReadStream extends Readable {
  private position = 0;
  /** The read in progress; the file is closed only after it settles. */
  private reading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: OpenFile,
    private readonly key: string,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
  }

  override _read(): void {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    this.reading = this.file.read(buffer, this.position).then(
      (bytesRead) => {
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.position += bytesRead;
        this.push(buffer.subarray(0, bytesRead));
      },
      (error: unknown) => this.destroy(toStorageFault(error, `blobGet ${this.key}`) as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.reading
      .then(() => this.file.close())
      .then(
        () => callback(error),
        () => callback(error),
      );
  }
}
