import { randomUUID } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { StorageDriver, StoredRecord } from '@smtpq/store';

type Line =
  | { op: 'put'; key: string; data: string; version: string }
  | { op: 'del'; key: string }
  | { op: 'blob'; key: string; data: string }
  | { op: 'unblob'; key: string };

export class JsonlDriver implements StorageDriver {
  readonly kind = 'jsonl';
  private readonly records = new Map<string, StoredRecord>();
  private readonly blobs = new Map<string, Buffer>();
  /** Writes run one at a time, so a check and its write are atomic. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<JsonlDriver> {
    const file = await open(path, 'a+');
    const driver = new JsonlDriver(file);
    const text = (await file.readFile()).toString('utf8');

    // A line without its newline is a write that a crash cut off: it was never acknowledged.
    let kept = 0;
    for (const line of text.split('\n').slice(0, -1)) {
      driver.apply(JSON.parse(line) as Line);
      kept += Buffer.byteLength(line) + 1;
    }
    await file.truncate(kept);
    return driver;
  }

  async get(key: string): Promise<StoredRecord | null> {
    const record = this.records.get(key);
    return record === undefined
      ? null
      : { data: Buffer.from(record.data), version: record.version };
  }

  create(key: string, data: Buffer): Promise<string | null> {
    return this.exclusive(async () => {
      if (this.records.has(key)) return null;
      return this.put(key, data);
    });
  }

  replace(key: string, data: Buffer, expected: string): Promise<string | 'mismatch' | 'missing'> {
    return this.exclusive(async () => {
      const current = this.records.get(key);
      if (current === undefined) return 'missing';
      if (current.version !== expected) return 'mismatch';
      return this.put(key, data);
    });
  }

  delete(key: string, expected?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    return this.exclusive(async () => {
      const current = this.records.get(key);
      if (current === undefined) return 'missing';
      if (expected !== undefined && current.version !== expected) return 'mismatch';
      await this.write({ op: 'del', key });
      return 'deleted';
    });
  }

  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return select(this.records.keys(), prefix, options);
  }

  async blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    // Read the whole upload first: if the source fails, nothing is written.
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(Buffer.from(chunk));
    const data = Buffer.concat(chunks);
    await this.exclusive(() => this.write({ op: 'blob', key, data: data.toString('base64') }));
    return { size: data.length };
  }

  async blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    const blob = this.blobs.get(key);
    return blob === undefined ? null : { size: blob.length, stream: Readable.from([blob]) };
  }

  async blobDelete(key: string): Promise<void> {
    if (!this.blobs.has(key)) return;
    await this.exclusive(() => this.write({ op: 'unblob', key }));
  }

  async blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return select(this.blobs.keys(), prefix, options);
  }

  async health(): Promise<void> {}

  async close(): Promise<void> {
    await this.tail;
    await this.file.close();
  }

  private async put(key: string, data: Buffer): Promise<string> {
    const version = randomUUID();
    await this.write({ op: 'put', key, data: data.toString('base64'), version });
    return version;
  }

  /** Appends a line and syncs it, then applies it: a resolved write is on disk. */
  private async write(line: Line): Promise<void> {
    await this.file.appendFile(`${JSON.stringify(line)}\n`);
    await this.file.datasync();
    this.apply(line);
  }

  private apply(line: Line): void {
    if (line.op === 'put') {
      this.records.set(line.key, { data: Buffer.from(line.data, 'base64'), version: line.version });
    } else if (line.op === 'del') this.records.delete(line.key);
    else if (line.op === 'blob') this.blobs.set(line.key, Buffer.from(line.data, 'base64'));
    else this.blobs.delete(line.key);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function select(
  keys: Iterable<string>,
  prefix: string,
  options: { after?: string; limit: number },
) {
  const after = options.after;
  return [...keys]
    .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
    .sort()
    .slice(0, options.limit);
}
