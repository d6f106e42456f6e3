import type { Readable } from 'node:stream';
import { type StorageDriver, StorageFault, type StoredRecord } from '@smtpq/store';
import type { DatastoreAccess } from './access.js';
import { blobDelete } from './blob-delete.js';
import { blobGet } from './blob-read.js';
import { blobPut } from './blob-write.js';
import { type ChunkSweepReport, collectOrphanChunks } from './chunk-sweep.js';
import { KIND } from './layout.js';
import { listKeys } from './listing.js';
import { recordCreate, recordDelete, recordGet, recordReplace } from './records.js';
import { clientCall, GRPC, grpcCode, grpcMessage } from './retry.js';

/** A StorageDriver over Google Cloud Datastore (Firestore in Datastore mode). */
export class DatastoreDriver implements StorageDriver {
  readonly kind = 'datastore';

  constructor(readonly access: DatastoreAccess) {}

  get(key: string): Promise<StoredRecord | null> {
    return recordGet(this.access, key);
  }

  create(key: string, data: Buffer): Promise<string | null> {
    return recordCreate(this.access, key, data);
  }

  replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    return recordReplace(this.access, key, data, expectedVersion);
  }

  delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    return recordDelete(this.access, key, expectedVersion);
  }

  list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return listKeys(this.access, KIND.record, prefix, options);
  }

  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    return blobPut(this.access, key, source);
  }

  blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    return blobGet(this.access, key);
  }

  blobDelete(key: string): Promise<void> {
    return blobDelete(this.access, key);
  }

  blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return listKeys(this.access, KIND.blob, prefix, options);
  }

  /**
   * Deletes chunks that no blob names, from uploads older than `minAgeMs` (default: twice
   * the longest upload). The queue store of the frontend runs it with each garbage collection.
   */
  collectOrphanChunks(
    options: { minAgeMs?: number; now?: number } = {},
  ): Promise<ChunkSweepReport> {
    return collectOrphanChunks(this.access, options);
  }

  /** Checks the store with one lookup and no retry, so that health reports the store as it is now. */
  async health(): Promise<void> {
    this.access.checkOpen();
    const probe = this.access.recordKey('health');
    try {
      await clientCall('health check', () =>
        this.access.client.get(probe, { gaxOptions: this.access.callOptions() }),
      );
    } catch (error) {
      if (error instanceof StorageFault) throw error;
      const timedOut = grpcCode(error) === GRPC.DEADLINE_EXCEEDED;
      throw new StorageFault(
        timedOut ? 'timeout' : 'unavailable',
        `health check: ${grpcMessage(error)}`,
        { cause: error },
      );
    }
  }

  close(): Promise<void> {
    return this.access.close();
  }
}
