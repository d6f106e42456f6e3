import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ScannedRecord, StorageDriver, StoredRecord } from './driver.js';

/**
 * A StorageDriver in process memory, for tests and for trying the server without a disk.
 * Nothing survives the process. Every call yields to the event loop once, so that
 * concurrent callers interleave as they would over a real store.
 */
export class MemoryDriver implements StorageDriver {
  readonly kind: string = 'memory';

  private readonly records = new Map<string, StoredRecord>();
  private readonly blobs = new Map<string, Buffer>();
  private counter = 0;

  async get(key: string): Promise<StoredRecord | null> {
    await tick();
    const record = this.records.get(key);
    return record === undefined
      ? null
      : { data: Buffer.from(record.data), version: record.version };
  }

  async create(key: string, data: Buffer): Promise<string | null> {
    await tick();
    if (this.records.has(key)) return null;
    return this.store(key, data);
  }

  async replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    await tick();
    const current = this.records.get(key);
    if (current === undefined) return 'missing';
    if (current.version !== expectedVersion) return 'mismatch';
    return this.store(key, data);
  }

  async delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    await tick();
    const current = this.records.get(key);
    if (current === undefined) return 'missing';
    if (expectedVersion !== undefined && current.version !== expectedVersion) return 'mismatch';
    this.records.delete(key);
    return 'deleted';
  }

  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    await tick();
    return selectKeys(this.records.keys(), prefix, options);
  }

  async scan(prefix: string, options: { after?: string; limit: number }): Promise<ScannedRecord[]> {
    await tick();
    return selectKeys(this.records.keys(), prefix, options).map((key) => {
      const record = this.records.get(key) as StoredRecord;
      return { key, data: Buffer.from(record.data), version: record.version };
    });
  }

  async blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(Buffer.from(chunk));
    const blob = Buffer.concat(chunks);
    this.blobs.set(key, blob);
    return { size: blob.length };
  }

  async blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    await tick();
    const blob = this.blobs.get(key);
    if (blob === undefined) return null;
    return { size: blob.length, stream: Readable.from([blob]) };
  }

  async blobDelete(key: string): Promise<void> {
    await tick();
    this.blobs.delete(key);
  }

  async blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    await tick();
    return selectKeys(this.blobs.keys(), prefix, options);
  }

  async health(): Promise<void> {
    await tick();
  }

  async close(): Promise<void> {}

  private store(key: string, data: Buffer): string {
    this.counter += 1;
    const version = `${this.counter.toString(36)}-${randomBytes(4).toString('hex')}`;
    this.records.set(key, { data: Buffer.from(data), version });
    return version;
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function selectKeys(
  keys: Iterable<string>,
  prefix: string,
  options: { after?: string; limit: number },
): string[] {
  const after = options.after;
  const selected = [...keys].filter(
    (key) => key.startsWith(prefix) && (after === undefined || key > after),
  );
  selected.sort();
  return selected.slice(0, options.limit);
}
