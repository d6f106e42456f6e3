import { randomBytes } from 'node:crypto';
import { StorageFault } from '@smtpq/store';
import type { DatastoreAccess } from './access.js';
import { type BlobHead, headData, headOf } from './blob-head.js';
import { CHUNK_BYTES, CHUNKS_PER_COMMIT, chunksWrite, uploadChunksDelete } from './chunks.js';
import { checkStoreKey, groupOf, uploadId } from './layout.js';
import { clientCall, GRPC, grpcCode, withRetries } from './retry.js';

/**
 * Longest time a blob upload may take, in ms, from its first byte to the write of its head.
 * An upload past it fails, so that the sweep of orphan chunks (which leaves alone uploads
 * younger than twice this) can never remove chunks of an upload that is still to be named.
 */
export const MAX_UPLOAD_MS = 3 * 60 * 60 * 1000;

/**
 * Stores a blob from a stream: its bytes go to chunk entities of a new upload id, a few
 * chunks per commit, then one write of the head points the key at the upload. Until that
 * write nothing of the upload is visible; if the stream or a write fails, the chunks written
 * so far are deleted (and whatever that misses is left to the orphan sweep).
 */
export async function blobPut(
  access: DatastoreAccess,
  key: string,
  source: AsyncIterable<Uint8Array>,
): Promise<{ size: number }> {
  access.checkOpen();
  checkStoreKey(key);
  const started = Date.now();
  const upload = uploadId(started, randomBytes(8).toString('hex'));
  const writer = new ChunkWriter(access, key, upload);

  let head: BlobHead;
  try {
    for await (const piece of source) await writer.write(piece);
    head = await writer.end(started);
  } catch (error) {
    await writer.discard();
    throw error;
  }

  if (Date.now() - started > MAX_UPLOAD_MS) {
    await writer.discard();
    throw new StorageFault(
      'timeout',
      `upload of ${key} took longer than ${MAX_UPLOAD_MS} ms; nothing of it was stored`,
    );
  }

  // A failed head write may still have landed, so its chunks stay: the orphan sweep removes
  // them only if no head names this upload.
  const previous = await headSwitch(access, key, head);
  if (previous !== null && previous.upload !== head.upload && previous.chunks > 0) {
    await uploadChunksDelete(access, key, previous.upload, previous.chunks).catch(() => undefined);
  }
  return { size: head.size };
}

/**
 * Writes `head`, and returns the head it replaced. A key never used before takes one insert;
 * a key in use takes a transaction that reads the old head, so that its chunks can go.
 */
async function headSwitch(
  access: DatastoreAccess,
  key: string,
  head: BlobHead,
): Promise<BlobHead | null> {
  const headKey = access.blobKey(key);
  const data = headData(head);
  await access.directory.ensure(groupOf(key));

  return withRetries(`write head of ${key}`, access.policy, async () => {
    try {
      await clientCall(`write head of ${key}`, () =>
        access.client.save({ key: headKey, method: 'insert', data }, access.callOptions()),
      );
      return null;
    } catch (error) {
      if (grpcCode(error) !== GRPC.ALREADY_EXISTS) throw error;
    }

    return access.gate.run(groupOf(key), access.policy.contentionBudgetMs, async () => {
      const transaction = access.client.transaction();
      const [current] = await clientCall(`write head of ${key}`, () =>
        transaction.get(headKey, { gaxOptions: access.callOptions() }),
      );
      transaction.upsert({ key: headKey, data });
      await clientCall(`write head of ${key}`, () => transaction.commit(access.callOptions()));
      return headOf(current);
    });
  });
}

/**
 * Cuts a stream into chunks of CHUNK_BYTES and commits them CHUNKS_PER_COMMIT at a time. A
 * full chunk is held until more bytes come, so a blob of one chunk or less is never written
 * as chunks and goes inline into its head.
 */
class ChunkWriter {
  /** Chunk buffers whose commit is done, used again so that a stream allocates a few only. */
  private readonly free: Buffer[] = [];
  private current: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private filled = 0;
  private readonly pending: Buffer[] = [];
  /** Chunks committed so far; chunk indexes start at 0. */
  private committed = 0;
  /** Chunks sent in commits, including one that failed and may have landed. */
  private sent = 0;
  private size = 0;

  constructor(
    private readonly access: DatastoreAccess,
    private readonly key: string,
    private readonly upload: string,
  ) {}

  async write(piece: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < piece.length) {
      if (this.filled === CHUNK_BYTES) {
        this.pending.push(this.current);
        this.current = this.free.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
        this.filled = 0;
        if (this.pending.length >= CHUNKS_PER_COMMIT) await this.flush();
      }
      const length = Math.min(piece.length - offset, CHUNK_BYTES - this.filled);
      this.current.set(piece.subarray(offset, offset + length), this.filled);
      this.filled += length;
      offset += length;
    }
    this.size += piece.length;
  }

  /** Commits what remains and returns the head of the upload. */
  async end(startedAt: number): Promise<BlobHead> {
    const head = {
      upload: this.upload,
      size: this.size,
      chunkSize: CHUNK_BYTES,
      createdAt: startedAt,
    };
    if (this.committed === 0 && this.pending.length === 0) {
      return { ...head, chunks: 0, inline: Buffer.from(this.current.subarray(0, this.filled)) };
    }

    if (this.filled > 0) this.pending.push(this.current.subarray(0, this.filled));
    await this.flush();
    return { ...head, chunks: this.committed, inline: null };
  }

  /** Deletes the chunks committed so far, quietly: the orphan sweep removes what remains. */
  async discard(): Promise<void> {
    if (this.sent === 0) return;
    await uploadChunksDelete(this.access, this.key, this.upload, this.sent).catch(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    this.sent += batch.length;
    await chunksWrite(this.access, this.key, this.upload, this.committed, batch);
    this.committed += batch.length;
    // The client serialised the chunks into its request before the commit ended.
    for (const chunk of batch) if (chunk.length === CHUNK_BYTES) this.free.push(chunk);
  }
}
