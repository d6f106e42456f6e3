import { Readable } from 'node:stream';
import type { Binary, FindCursor } from 'mongodb';
import type { GridFsChunk, GridFsFile } from './collections.js';
import { classifyMongoError } from './faults.js';
import type { GridFsContext } from './gridfs-upload.js';
import { withRetry } from './retry.js';

// Chunks per cursor batch: the memory of one download stays near this many chunks
// (about 1 MiB at the 255 KiB default) instead of the server's default first batch of 101.
const BATCH_CHUNKS = 4;

/**
 * Streams the bytes of a GridFS file, checking that the chunks follow each other and have the
 * sizes the files document announces. A transient fault in the middle reopens the cursor at
 * the next chunk within the retry budget; past it the stream fails with a StorageFault.
 * One cursor reads the whole file, because FerretDB scans the chunks collection on every
 * query (it does not use the index), so a query per batch would cost a scan per batch.
 */
export function gridFsDownload(context: GridFsContext, file: GridFsFile): Readable {
  return Readable.from(chunkData(context, file), { objectMode: false });
}

async function* chunkData(context: GridFsContext, file: GridFsFile): AsyncGenerator<Buffer> {
  const chunkCount = Math.ceil(file.length / file.chunkSize);
  let next = 0;

  while (next < chunkCount) {
    let cursor: FindCursor<GridFsChunk> | undefined;
    try {
      // Opening the cursor and reading its first chunk is one retried step, so every pass of
      // the outer loop reads at least one chunk and a flapping server cannot stall it.
      let chunk = await withRetry('body read', context.retry, async () => {
        await cursor?.close().catch(() => undefined);
        cursor = chunkCursor(context, file, next);
        return cursor.next();
      });

      while (chunk !== null) {
        const data = chunkBytes(chunk.data);
        checkChunk(file, chunk.n, next, data.length, chunkCount);
        next += 1;
        yield data;
        if (next === chunkCount) return;
        chunk = await (cursor as FindCursor<GridFsChunk>).next();
      }
      throw new Error(
        `GridFS file ${file._id.toHexString()} (${file.filename}) lacks chunk ${next} of ` +
          `${chunkCount}: the blob is damaged`,
      );
    } catch (error) {
      // A transient fault in the middle of the file: reopen at chunk `next`.
      // NOTE: no test cuts the connection in the middle of a download, so this path is unrun.
      if (classifyMongoError(error)?.retry !== true) throw error;
    } finally {
      await cursor?.close().catch(() => undefined);
    }
  }
}

function chunkCursor(
  context: GridFsContext,
  file: GridFsFile,
  next: number,
): FindCursor<GridFsChunk> {
  return context.collections.chunks.find(
    { files_id: file._id, n: { $gte: next } },
    { sort: { n: 1 }, batchSize: BATCH_CHUNKS, projection: { _id: 0, n: 1, data: 1 } },
  ) as FindCursor<GridFsChunk>;
}

function checkChunk(
  file: GridFsFile,
  number: number,
  expected: number,
  length: number,
  chunkCount: number,
): void {
  const expectedLength =
    expected < chunkCount - 1 ? file.chunkSize : file.length - file.chunkSize * (chunkCount - 1);
  if (number === expected && length === expectedLength) return;
  throw new Error(
    `GridFS file ${file._id.toHexString()} (${file.filename}) has chunk ${number} of ` +
      `${length} bytes where chunk ${expected} of ${expectedLength} bytes belongs: ` +
      'the blob is damaged',
  );
}

function chunkBytes(data: Binary | Buffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  const bytes = data.buffer;
  return Buffer.from(bytes.buffer, bytes.byteOffset, data.position);
}
