import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  type DriverCounter,
  type PreparedCreate,
  type StorageDriver,
  StorageFault,
  type StoredRecord,
} from '@smtpq/store';
import { BlobFiles } from './blobs.js';
import { toStorageFault } from './faults.js';
import type { FsIo } from './fs-io.js';
import type { StoreLayout } from './layout.js';
import { type ListOptions, listKeys } from './listing.js';
import { RecordFiles } from './records.js';
import { tempName } from './temp.js';

const PROBE_BYTES = Buffer.from('smtpq health probe\n');

/**
 * The StorageDriver over a local folder (see openFsDriver). Every write resolves once it is
 * durable, and several processes may share one folder. File-system errors become
 * StorageFaults that name the operation and the path.
 */
export class FsDriver implements StorageDriver {
  readonly kind = 'fs';
  /** Absolute path of the store's folder. */
  readonly dir: string;

  private readonly records: RecordFiles;
  private readonly blobs: BlobFiles;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /** Use openFsDriver, which prepares the folder first. */
  constructor(
    private readonly io: FsIo,
    private readonly layout: StoreLayout,
  ) {
    this.dir = layout.root;
    this.records = new RecordFiles(io, layout);
    this.blobs = new BlobFiles(io, layout);
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.run(`get ${key}`, () => this.records.get(key));
  }

  create(key: string, data: Buffer): Promise<string | null> {
    return this.run(`create ${key}`, () => this.records.create(key, data));
  }

  /** Stages the record folder durably in tmp/; `publish` is then one rename and one fsync. */
  async prepareCreate(key: string, data: Buffer): Promise<PreparedCreate> {
    const staged = await this.run(`create ${key}`, () => this.records.prepareCreate(key, data));
    return {
      publish: () => this.run(`create ${key}`, () => staged.publish()),
      discard: () => this.run(`create ${key}`, () => staged.discard()),
    };
  }

  replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    return this.run(`replace ${key}`, () => this.records.replace(key, data, expectedVersion));
  }

  delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    return this.run(`delete ${key}`, () => this.records.delete(key, expectedVersion));
  }

  list(prefix: string, options: ListOptions): Promise<string[]> {
    return this.run(`list ${prefix}`, () =>
      listKeys(this.io, this.layout.records, prefix, options, async (entry) => {
        return (await this.records.readMarker(entry)) !== null;
      }),
    );
  }

  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    return this.run(`blobPut ${key}`, () => this.blobs.put(key, source));
  }

  blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    return this.run(`blobGet ${key}`, () => this.blobs.get(key));
  }

  blobDelete(key: string): Promise<void> {
    return this.run(`blobDelete ${key}`, () => this.blobs.delete(key));
  }

  blobList(prefix: string, options: ListOptions): Promise<string[]> {
    return this.run(`blobList ${prefix}`, () =>
      listKeys(this.io, this.layout.blobs, prefix, options, async () => true),
    );
  }

  counters(): DriverCounter[] {
    return [
      {
        name: 'smtpq_fs_fsyncs_total',
        help: 'fsync calls of the fs store on files and folders, made to keep writes durable',
        value: this.io.counts.fsyncs,
      },
    ];
  }

  /** Writes, fsyncs and removes a probe file, so that a full or read-only disk fails. */
  health(): Promise<void> {
    return this.run('health', async () => {
      const probe = join(this.layout.tmp, tempName());
      await this.io.writeNewFile(probe, PROBE_BYTES);
      await this.io.unlink(probe);
      await this.io.readdir(this.layout.records);
    });
  }

  /** Rejects new calls and waits for the calls in progress to settle. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageFault('unavailable', `fs store ${this.dir} is closed`);

    const pending = call();
    this.inFlight.add(pending);
    try {
      return await pending;
    } catch (error) {
      throw toStorageFault(error, operation);
    } finally {
      this.inFlight.delete(pending);
    }
  }
}
