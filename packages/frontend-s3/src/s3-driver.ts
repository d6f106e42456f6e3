import type { Readable } from 'node:stream';
import type { DriverCounter, StorageDriver, StoredRecord } from '@smtpq/store';
import { blobUpload } from './blob-upload.js';
import type { RetryCount } from './client.js';
import type { ConditionalRecords } from './conditional-records.js';
import { listKeys } from './listing.js';
import type { S3DriverLogger } from './logger.js';
import { recordDecode, recordEncode } from './record-format.js';
import type { S3Objects } from './s3-objects.js';
import { etagOfVersion, versionOfEtag } from './versions.js';

/** Key spaces of records, blobs and the startup probe below the store's prefix. */
export const KEY_SPACES = { records: 'r/', blobs: 'b/', probe: 'probe/' } as const;

export interface S3DriverParts {
  objects: S3Objects;
  records: ConditionalRecords;
  /** The store's prefix in the bucket: empty, or ending with `/`. */
  prefix: string;
  /** Size of the parts of a multipart upload, and the largest blob stored by one PutObject. */
  partBytes: number;
  logger: S3DriverLogger;
  /** Retries the S3 client made, counted by its retry strategy. */
  retries?: RetryCount;
}

/**
 * The StorageDriver over S3: records are objects under `PREFIX/r/`, blobs under `PREFIX/b/`,
 * and a record's version is its object's ETag. Opened by openS3Driver, which picks how
 * conditional writes are made.
 */
export class S3Driver implements StorageDriver {
  readonly kind = 's3';

  private readonly recordSpace: string;
  private readonly blobSpace: string;

  constructor(private readonly parts: S3DriverParts) {
    this.recordSpace = `${parts.prefix}${KEY_SPACES.records}`;
    this.blobSpace = `${parts.prefix}${KEY_SPACES.blobs}`;
  }

  async get(key: string): Promise<StoredRecord | null> {
    const object = await this.parts.objects.get(this.recordSpace + key);
    if (object === null || object.body.length === 0) return null;
    return { data: recordDecode(object.body), version: versionOfEtag(object.etag) };
  }

  async create(key: string, data: Buffer): Promise<string | null> {
    const etag = await this.parts.records.create(this.recordSpace + key, recordEncode(data));
    return etag === null ? null : versionOfEtag(etag);
  }

  async replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    const objectKey = this.recordSpace + key;
    const etag = etagOfVersion(expectedVersion);
    if (etag === null) return await this.missingOrMismatch(key);

    const result = await this.parts.records.replace(objectKey, recordEncode(data), etag);
    return result === 'mismatch' || result === 'missing' ? result : versionOfEtag(result);
  }

  async delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    const objectKey = this.recordSpace + key;
    if (expectedVersion === undefined) return await this.parts.records.delete(objectKey);

    const etag = etagOfVersion(expectedVersion);
    if (etag === null) return await this.missingOrMismatch(key);
    return await this.parts.records.delete(objectKey, etag);
  }

  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return await this.keysUnder(this.recordSpace, prefix, options, true);
  }

  async blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const { objects, partBytes, logger } = this.parts;
    return await blobUpload(objects, this.blobSpace + key, source, partBytes, logger);
  }

  async blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    return await this.parts.objects.getStream(this.blobSpace + key);
  }

  async blobDelete(key: string): Promise<void> {
    await this.parts.objects.delete(this.blobSpace + key);
  }

  async blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return await this.keysUnder(this.blobSpace, prefix, options, false);
  }

  /** Lists one key of the prefix, which checks that the bucket responds and may be listed. */
  async health(): Promise<void> {
    await this.parts.objects.listPage(this.parts.prefix, { maxKeys: 1 });
  }

  counters(): DriverCounter[] {
    return [
      {
        name: 'smtpq_s3_retries_total',
        help: 'S3 requests sent again after a throttled, failed or timed-out attempt',
        value: this.parts.retries?.total ?? 0,
      },
    ];
  }

  async close(): Promise<void> {
    this.parts.objects.client.destroy();
  }

  private async keysUnder(
    space: string,
    prefix: string,
    options: { after?: string; limit: number },
    skipEmpty: boolean,
  ): Promise<string[]> {
    if (options.limit < 1) return [];
    const keys = await listKeys(this.parts.objects, {
      prefix: space + prefix,
      startAfter: options.after === undefined ? undefined : space + options.after,
      limit: options.limit,
      skipEmpty,
    });
    return keys.map((key) => key.slice(space.length));
  }

  /** Returns the result of a write whose expected version no object can have. */
  private async missingOrMismatch(key: string): Promise<'missing' | 'mismatch'> {
    const head = await this.parts.objects.head(this.recordSpace + key);
    return head === null || head.size === 0 ? 'missing' : 'mismatch';
  }
}
