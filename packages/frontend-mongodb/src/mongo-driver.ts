import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ScannedRecord, StorageDriver, StoredRecord } from '@smtpq/store';
import type { Binary, MongoClient } from 'mongodb';
import { GridFsBlobStore } from './blob-store.js';
import type { MongoCollections } from './collections.js';
import { isDuplicateKey } from './faults.js';
import type { GridFsContext } from './gridfs-upload.js';
import { keyRange } from './key-range.js';
import { collectOrphans, type OrphanReport } from './orphans.js';
import type { DriverLogger, RetryPolicy } from './retry.js';
import { withRetry } from './retry.js';
import type { ConditionalWrites, WriteGuard } from './write-guard.js';

/** How the server is deployed, as its `hello` reply tells. */
export type MongoDeployment = 'standalone' | 'replica-set' | 'sharded';

/**
 * Largest record the driver writes. A document holds at most 16 MiB (16,777,216 bytes) of
 * BSON; the key, the version and the field names take well under 64 KiB of the rest. The
 * queue's records are far smaller: envelopes stop at the store's envelope limit (64 KiB by
 * default) and message records are a few hundred bytes.
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024 - 64 * 1024;

export interface MongoDriverParts {
  client: MongoClient;
  database: string;
  deployment: MongoDeployment;
  collections: MongoCollections;
  retry: RetryPolicy;
  chunkSizeBytes: number;
  guard: WriteGuard;
  logger?: DriverLogger;
}

/**
 * StorageDriver over MongoDB. Records live in `records` with the key as `_id`; every write
 * is one single-document operation (insert, update or delete filtered on `_id` and
 * `version`), so compare-and-swap holds on a standalone server, a replica set and a sharded
 * cluster alike, without transactions. On FerretDB 1.x, whose filtered writes are not atomic,
 * the same operations run under a lock per key (write-guard.ts). Blobs are GridFS files in
 * the `bodies` bucket.
 */
export class MongoDriver implements StorageDriver {
  readonly kind = 'mongodb';
  /** The MongoDB client; tests listen to its command monitoring events. */
  readonly client: MongoClient;
  readonly database: string;
  readonly deployment: MongoDeployment;
  readonly collections: MongoCollections;
  /** How compare-and-swap is kept atomic on this server; see write-guard.ts. */
  readonly conditionalWrites: ConditionalWrites;

  private readonly retry: RetryPolicy;
  private readonly guard: WriteGuard;
  private readonly gridFs: GridFsContext;
  private readonly blobs: GridFsBlobStore;

  constructor(parts: MongoDriverParts) {
    this.client = parts.client;
    this.database = parts.database;
    this.deployment = parts.deployment;
    this.collections = parts.collections;
    this.retry = parts.retry;
    this.guard = parts.guard;
    this.conditionalWrites = parts.guard.mode;
    this.gridFs = {
      collections: parts.collections,
      retry: parts.retry,
      chunkSizeBytes: parts.chunkSizeBytes,
      guard: parts.guard,
    };
    this.blobs = new GridFsBlobStore(this.gridFs, parts.logger);
  }

  async get(key: string): Promise<StoredRecord | null> {
    const document = await withRetry('record read', this.retry, () =>
      this.collections.records.findOne({ _id: key }),
    );
    if (document === null) return null;
    return { data: recordBytes(document.data), version: document.version };
  }

  async create(key: string, data: Buffer): Promise<string | null> {
    recordSizeCheck(key, data);
    const version = newVersion();

    return withRetry('record create', this.retry, async () => {
      try {
        await this.collections.records.insertOne({ _id: key, data, version });
        return version;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      // The key exists. It is ours when an earlier attempt landed and only its answer was lost.
      const existing = await this.collections.records.findOne(
        { _id: key },
        { projection: { version: 1 } },
      );
      return existing?.version === version ? version : null;
    });
  }

  async replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    recordSizeCheck(key, data);
    const version = newVersion();

    return this.guard.run('records', key, () =>
      withRetry('record update', this.retry, async () => {
        const result = await this.collections.records.updateOne(
          { _id: key, version: expectedVersion },
          { $set: { data, version } },
        );
        if (result.matchedCount === 1) return version;

        const current = await this.collections.records.findOne(
          { _id: key },
          { projection: { version: 1 } },
        );
        if (current === null) return 'missing';
        return current.version === version ? version : 'mismatch';
      }),
    );
  }

  async delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    const filter =
      expectedVersion === undefined ? { _id: key } : { _id: key, version: expectedVersion };

    return this.guard.run('records', key, () =>
      withRetry('record delete', this.retry, async (attempt) => {
        const result = await this.collections.records.deleteOne(filter);
        if (result.deletedCount === 1) return 'deleted';

        const current = await this.collections.records.findOne(
          { _id: key },
          { projection: { version: 1 } },
        );
        // Absent after a failed attempt: that attempt may have been the one that deleted it.
        if (current === null) return attempt > 1 ? 'deleted' : 'missing';
        return 'mismatch';
      }),
    );
  }

  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    // A limit of 0 means "no limit" to MongoDB.
    if (options.limit <= 0) return [];

    const documents = await withRetry('record list', this.retry, () =>
      this.collections.records
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
   * Sends one find of the same `_id` range as `list` and returns whole records. The `_id`
   * index serves the range and the sort. The batch size lets one reply carry every record up
   * to the limit, unless the reply would pass 16 MiB: then the cursor reads the rest.
   */
  async scan(prefix: string, options: { after?: string; limit: number }): Promise<ScannedRecord[]> {
    if (options.limit <= 0) return [];

    const documents = await withRetry('record scan', this.retry, () =>
      this.collections.records
        .find(keyRange(prefix, options.after), {
          projection: { _id: 1, data: 1, version: 1 },
          sort: { _id: 1 },
          limit: options.limit,
          batchSize: options.limit,
        })
        .toArray(),
    );
    return documents.map((document) => ({
      key: document._id,
      data: recordBytes(document.data),
      version: document.version,
    }));
  }

  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    return this.blobs.put(key, source);
  }

  blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    return this.blobs.get(key);
  }

  blobDelete(key: string): Promise<void> {
    return this.blobs.delete(key);
  }

  blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return this.blobs.list(prefix, options);
  }

  /**
   * Removes GridFS files and chunks that no blob key reaches, started more than `ageMs` ago.
   * See orphans.ts for what counts as an orphan and why the age bound matters.
   */
  collectOrphans(ageMs: number): Promise<OrphanReport> {
    return collectOrphans(this.gridFs, ageMs);
  }

  /** Writes one small document with the store's write concern: reads and writes both work. */
  async health(): Promise<void> {
    await withRetry('health check', this.retry, () =>
      this.collections.health.updateOne(
        { _id: 'health' },
        { $set: { checkedAt: new Date() } },
        { upsert: true },
      ),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function newVersion(): string {
  // base64url is visible ASCII without quotes or backslashes, as entity tags need.
  return randomBytes(12).toString('base64url');
}

function recordBytes(data: Binary | Buffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  const bytes = data.buffer;
  return Buffer.from(bytes.buffer, bytes.byteOffset, data.position);
}

function recordSizeCheck(key: string, data: Buffer): void {
  if (data.length <= MAX_RECORD_BYTES) return;
  // The queue store checks envelopes against its own, far lower limit before any write, so
  // reaching this is a bug, never a client's request.
  throw new Error(
    `record ${key} of ${data.length} bytes exceeds the ${MAX_RECORD_BYTES} bytes one MongoDB ` +
      'document can hold',
  );
}
