import { StorageFault } from '@smtpq/store';
import { KeyMutex } from './key-mutex.js';
import type { S3DriverLogger } from './logger.js';
import type { ConditionalResult, S3Objects } from './s3-objects.js';
import { versionOfEtag } from './versions.js';

/**
 * Create-if-absent, compare-and-swap and conditional delete of record objects, by full S3 key
 * and raw ETag. An empty object is a tombstone: a record deleted by a conditional overwrite
 * whose object is not removed yet. It reads as absent (records are never empty, see
 * record-format.ts).
 */
export interface ConditionalRecords {
  /** Returns the new object's ETag, or null when a record exists under the key. */
  create(key: string, body: Buffer): Promise<string | null>;
  replace(key: string, body: Buffer, etag: string): Promise<string | 'mismatch' | 'missing'>;
  delete(key: string, etag?: string): Promise<'deleted' | 'missing' | 'mismatch'>;
}

const TOMBSTONE = Buffer.alloc(0);

// A create that meets a tombstone, or a record deleted right after its 412, tries again. Only a
// key rewritten during every attempt exhausts them.
const CREATE_ATTEMPTS = 4;

/**
 * Conditions checked by the S3 server: PutObject with If-None-Match and If-Match, and
 * DeleteObject with If-Match when the probe found that the server honours it (`deleteIfMatch`).
 *
 * Without a conditional DeleteObject, a delete with an expected ETag is a PutObject of a
 * tombstone with If-Match, which decides the delete atomically, followed by a plain
 * DeleteObject that frees the key. Limit: a create of the same key that lands between those
 * two requests (one round trip) takes the tombstone's place and is then removed by the plain
 * DeleteObject. Record keys are named by random ids, so this needs a client to reuse the id of
 * a record in the very moment it is deleted.
 */
export class ServerConditions implements ConditionalRecords {
  constructor(
    private readonly objects: S3Objects,
    private readonly deleteIfMatch: boolean,
    private readonly logger: S3DriverLogger,
  ) {}

  async create(key: string, body: Buffer): Promise<string | null> {
    for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
      const created = await this.objects.put(key, body, { ifNoneMatch: '*' });
      if (typeof created === 'object') return created.etag;

      const head = await this.objects.head(key);
      if (head === null) continue;
      if (head.size > 0) return null;

      const replaced = await this.objects.put(key, body, { ifMatch: head.etag });
      if (typeof replaced === 'object') return replaced.etag;
    }
    throw new StorageFault(
      'unavailable',
      `S3 key ${key} changed during each of ${CREATE_ATTEMPTS} create attempts`,
    );
  }

  async replace(key: string, body: Buffer, etag: string): Promise<string | 'mismatch' | 'missing'> {
    const result = await this.objects.put(key, body, { ifMatch: etag });
    if (typeof result === 'object') return result.etag;
    if (result === 'not-found') return 'missing';
    return await this.absentOrMismatch(key);
  }

  async delete(key: string, etag?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    if (etag === undefined) return await deleteUnconditional(this.objects, key);

    const result = this.deleteIfMatch
      ? await this.objects.delete(key, etag)
      : await this.tombstoneWrite(key, etag);
    if (result === 'deleted') return 'deleted';
    if (result === 'not-found') return 'missing';
    return await this.absentOrMismatch(key);
  }

  private async tombstoneWrite(key: string, etag: string): Promise<ConditionalResult<'deleted'>> {
    const result = await this.objects.put(key, TOMBSTONE, { ifMatch: etag });
    if (typeof result !== 'object') return result;

    // The tombstone already made the delete. A failure here leaves an empty object, which reads
    // as absent until the next create or delete of the key replaces it.
    try {
      await this.objects.delete(key);
    } catch (error) {
      this.logger.warn(`s3: tombstone ${key} not removed: ${(error as Error).message}`);
    }
    return 'deleted';
  }

  /** Tells why a conditional write got 412: the record is absent (or a tombstone) or changed. */
  private async absentOrMismatch(key: string): Promise<'missing' | 'mismatch'> {
    const head = await this.objects.head(key);
    return head === null || head.size === 0 ? 'missing' : 'mismatch';
  }
}

/**
 * Conditions emulated in this process for a server that ignores them: every write of a key
 * runs under that key's mutex and checks the object with HeadObject first. This is correct only
 * while exactly one frontend process writes the store's prefix (`singleWriter`).
 */
export class SingleWriterConditions implements ConditionalRecords {
  private readonly mutex = new KeyMutex();

  constructor(private readonly objects: S3Objects) {}

  async create(key: string, body: Buffer): Promise<string | null> {
    return await this.mutex.run(key, async () => {
      const head = await this.objects.head(key);
      if (head !== null && head.size > 0) return null;
      return await this.putUnconditional(key, body);
    });
  }

  async replace(key: string, body: Buffer, etag: string): Promise<string | 'mismatch' | 'missing'> {
    return await this.mutex.run(key, async () => {
      const head = await this.objects.head(key);
      if (head === null || head.size === 0) return 'missing';
      if (versionOfEtag(head.etag) !== versionOfEtag(etag)) return 'mismatch';
      return await this.putUnconditional(key, body);
    });
  }

  async delete(key: string, etag?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    return await this.mutex.run(key, async () => {
      if (etag === undefined) return await deleteUnconditional(this.objects, key);

      const head = await this.objects.head(key);
      if (head === null || head.size === 0) return 'missing';
      if (versionOfEtag(head.etag) !== versionOfEtag(etag)) return 'mismatch';
      await this.objects.delete(key);
      return 'deleted';
    });
  }

  private async putUnconditional(key: string, body: Buffer): Promise<string> {
    const result = await this.objects.put(key, body);
    if (typeof result !== 'object') {
      throw new StorageFault('unavailable', `S3 PutObject ${key} without conditions got ${result}`);
    }
    return result.etag;
  }
}

/**
 * Deletes whatever object the key has. DeleteObject returns 204 whether or not the key existed,
 * so a HeadObject first decides between `deleted` and `missing`.
 */
async function deleteUnconditional(
  objects: S3Objects,
  key: string,
): Promise<'deleted' | 'missing'> {
  const head = await objects.head(key);
  if (head === null) return 'missing';

  await objects.delete(key);
  return head.size === 0 ? 'missing' : 'deleted';
}
