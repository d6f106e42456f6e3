import { ObjectId } from 'mongodb';
import type { MongoCollections } from './collections.js';
import { isDuplicateKey } from './faults.js';
import { type RetryPolicy, withRetry } from './retry.js';
import type { WriteGuard } from './write-guard.js';

export interface GridFsContext {
  collections: MongoCollections;
  retry: RetryPolicy;
  /** Bytes per GridFS chunk; 255 KiB is the GridFS default. */
  chunkSizeBytes: number;
  /** Keeps the compare-and-swap of blob pointers atomic. */
  guard: WriteGuard;
}

// Chunk inserts in flight at once: enough to hide the round trip, and the memory of one
// upload stays below (MAX_IN_FLIGHT + 1) chunks.
const MAX_IN_FLIGHT = 4;

/**
 * Writes a stream as a new GridFS file: the chunks first, then the files document, as the
 * GridFS specification orders them, so the file exists only once every chunk is stored.
 * Returns the number of bytes. If the stream or the storage fails, the chunks written so
 * far are removed before the error is thrown. If that removal fails too (storage down,
 * process killed), the chunks are left without a files document, where collectOrphans
 * finds them.
 */
export async function gridFsUpload(
  context: GridFsContext,
  fileId: ObjectId,
  filename: string,
  source: AsyncIterable<Uint8Array>,
): Promise<number> {
  const { chunkSizeBytes } = context;
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | null = null;
  let chunkNumber = 0;
  let size = 0;

  const send = async (data: Buffer): Promise<void> => {
    const write = chunkInsert(context, fileId, chunkNumber, data).catch((error: unknown) => {
      failure ??= { error };
    });
    chunkNumber += 1;
    inFlight.add(write);
    void write.finally(() => inFlight.delete(write));

    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    if (failure !== null) throw failure.error;
  };

  try {
    let buffer = Buffer.allocUnsafe(chunkSizeBytes);
    let filled = 0;
    for await (const part of source) {
      let offset = 0;
      while (offset < part.length) {
        const take = Math.min(chunkSizeBytes - filled, part.length - offset);
        buffer.set(part.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === chunkSizeBytes) {
          await send(buffer);
          buffer = Buffer.allocUnsafe(chunkSizeBytes);
          filled = 0;
        }
      }
      size += part.length;
    }
    if (filled > 0) await send(buffer.subarray(0, filled));

    await Promise.all(inFlight);
    if (failure !== null) throw (failure as { error: unknown }).error;

    await fileInsert(context, {
      _id: fileId,
      length: size,
      chunkSize: chunkSizeBytes,
      uploadDate: new Date(),
      filename,
    });
    return size;
  } catch (error) {
    // A chunk insert still in flight could land after the removal and stay behind.
    await Promise.allSettled(inFlight);
    await gridFsDelete(context, fileId).catch(() => undefined);
    throw error;
  }
}

/**
 * Deletes a GridFS file: the files document first, so that a crash in between leaves chunks
 * without a file, which collectOrphans removes, never a file with missing chunks.
 */
export async function gridFsDelete(context: GridFsContext, fileId: ObjectId): Promise<void> {
  const { files, chunks } = context.collections;
  await withRetry('body file delete', context.retry, () => files.deleteOne({ _id: fileId }));
  await withRetry('body chunks delete', context.retry, () =>
    chunks.deleteMany({ files_id: fileId }),
  );
}

async function chunkInsert(
  context: GridFsContext,
  fileId: ObjectId,
  chunkNumber: number,
  data: Buffer,
): Promise<void> {
  const chunk = { _id: new ObjectId(), files_id: fileId, n: chunkNumber, data };
  await withRetry('body chunk write', context.retry, async () => {
    try {
      await context.collections.chunks.insertOne(chunk);
    } catch (error) {
      // The same chunk from an attempt whose acknowledgement was lost: it is stored.
      if (!isDuplicateKey(error)) throw error;
    }
  });
}

async function fileInsert(
  context: GridFsContext,
  file: Parameters<MongoCollections['files']['insertOne']>[0],
): Promise<void> {
  await withRetry('body file write', context.retry, async () => {
    try {
      await context.collections.files.insertOne(file);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  });
}
