import { ObjectId } from 'mongodb';
import type { GridFsContext } from './gridfs-upload.js';
import { storageFault, withRetry } from './retry.js';

/** What one orphan collection removed. */
export interface OrphanReport {
  /** Files documents that no blob key pointed to. */
  files: number;
  /** Sets of chunks whose files document was missing (each set is one files_id). */
  chunkSets: number;
}

const PAGE = 500;

/**
 * Removes the GridFS data that no blob key can reach and that was started more than `ageMs`
 * ago, to the second (the age of a GridFS file is the time in its ObjectId, taken when its
 * upload started):
 *
 * 1. files documents that no `blobs` pointer names: a crash between the end of an upload and
 *    the pointer write, or between a pointer move and the delete of the replaced file. Only
 *    the files document is removed here, so its chunks become the next step's business.
 * 2. chunks whose files document is missing: an upload that failed and could not clean up
 *    (storage down, process killed) or a delete cut between its two steps.
 *
 * It never removes a chunk whose files document exists, nor a file a pointer names, so the
 * body of a committed message is safe however old. `ageMs` must exceed the longest upload
 * (the queue store uses its uncommitted maximum age), because an upload in progress has
 * chunks and no files document yet.
 */
export async function collectOrphans(
  context: GridFsContext,
  ageMs: number,
  now: number = Date.now(),
): Promise<OrphanReport> {
  const cutoff = ObjectId.createFromTime(Math.floor((now - ageMs) / 1000));
  const files = await unreferencedFilesRemove(context, cutoff);
  const chunkSets = await fileLessChunksRemove(context, cutoff);
  return { files, chunkSets };
}

async function unreferencedFilesRemove(context: GridFsContext, cutoff: ObjectId) {
  const { files, blobs } = context.collections;
  let removed = 0;
  let after: ObjectId | undefined;

  for (;;) {
    const range = after === undefined ? { $lt: cutoff } : { $gt: after, $lt: cutoff };
    const page = await withRetry('orphan file list', context.retry, () =>
      files
        .find({ _id: range }, { projection: { _id: 1 }, sort: { _id: 1 }, limit: PAGE })
        .toArray(),
    );
    const ids = page.map((file) => file._id);
    if (ids.length === 0) return removed;

    const pointers = await withRetry('orphan file check', context.retry, () =>
      blobs.find({ fileId: { $in: ids } }, { projection: { fileId: 1 } }).toArray(),
    );
    const referenced = new Set(pointers.map((pointer) => pointer.fileId.toHexString()));

    for (const id of ids) {
      if (referenced.has(id.toHexString())) continue;
      await withRetry('orphan file delete', context.retry, () => files.deleteOne({ _id: id }));
      removed += 1;
    }

    if (page.length < PAGE) return removed;
    after = ids[ids.length - 1];
  }
}

async function fileLessChunksRemove(context: GridFsContext, cutoff: ObjectId) {
  const { files, chunks } = context.collections;
  let removed = 0;

  // Grouping on files_id after sorting on it lets MongoDB answer from the {files_id, n} index
  // (a DISTINCT_SCAN) without reading chunk data.
  const cursor = chunks.aggregate<{ _id: ObjectId }>(
    [
      { $match: { files_id: { $lt: cutoff } } },
      { $sort: { files_id: 1 } },
      { $group: { _id: '$files_id' } },
    ],
    { batchSize: PAGE },
  );

  const checkPage = async (ids: ObjectId[]) => {
    const present = await withRetry('orphan chunk check', context.retry, () =>
      files.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray(),
    );
    const existing = new Set(present.map((file) => file._id.toHexString()));
    for (const id of ids) {
      if (existing.has(id.toHexString())) continue;
      await withRetry('orphan chunk delete', context.retry, () =>
        chunks.deleteMany({ files_id: id }),
      );
      removed += 1;
    }
  };

  try {
    let ids: ObjectId[] = [];
    for await (const group of cursor) {
      ids.push(group._id);
      if (ids.length === PAGE) {
        await checkPage(ids);
        ids = [];
      }
    }
    if (ids.length > 0) await checkPage(ids);
  } catch (error) {
    throw storageFault('orphan chunk list', error);
  } finally {
    await cursor.close().catch(() => undefined);
  }
  return removed;
}
