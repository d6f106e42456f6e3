import type { Binary, Collection, Db, ObjectId, WriteConcernSettings } from 'mongodb';
import type { LockDocument } from './write-guard.js';

/** A record of the queue: `_id` is the key. */
export interface RecordDocument {
  _id: string;
  data: Binary | Buffer;
  /** Random string, new on every write; compare-and-swap filters on it. */
  version: string;
}

/** The pointer from a blob key to the GridFS file that contains its bytes. */
export interface BlobDocument {
  _id: string;
  fileId: ObjectId;
  size: number;
}

/** A GridFS files document (GridFS specification). */
export interface GridFsFile {
  _id: ObjectId;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  filename: string;
}

/** A GridFS chunk document (GridFS specification). */
export interface GridFsChunk {
  _id: ObjectId;
  files_id: ObjectId;
  n: number;
  data: Binary | Buffer;
}

export interface HealthDocument {
  _id: string;
  checkedAt: Date;
}

/** The collections of one store, all in the database the store URL names. */
export interface MongoCollections {
  records: Collection<RecordDocument>;
  blobs: Collection<BlobDocument>;
  files: Collection<GridFsFile>;
  chunks: Collection<GridFsChunk>;
  health: Collection<HealthDocument>;
  /** Per-key locks, used only where conditional writes are `locked` (FerretDB 1.x). */
  locks: Collection<LockDocument>;
}

/** Name of the GridFS bucket that stores blob bytes: collections `bodies.files`, `bodies.chunks`. */
export const BUCKET_NAME = 'bodies';

export function storeCollections(
  db: Db,
  writeConcern: WriteConcernSettings | undefined,
): MongoCollections {
  const options = writeConcern === undefined ? {} : { writeConcern };
  return {
    records: db.collection<RecordDocument>('records', options),
    blobs: db.collection<BlobDocument>('blobs', options),
    files: db.collection<GridFsFile>(`${BUCKET_NAME}.files`, options),
    chunks: db.collection<GridFsChunk>(`${BUCKET_NAME}.chunks`, options),
    health: db.collection<HealthDocument>('health', options),
    locks: db.collection<LockDocument>('locks', options),
  };
}

/**
 * Creates the indexes the driver's queries need. createIndex does nothing when an index of
 * the same keys and options exists, so every start runs this. `records` and `blobs` are read
 * by `_id` ranges only, which the default `_id` index serves.
 */
export async function ensureIndexes(collections: MongoCollections): Promise<void> {
  // Reads a file's chunks in order and finds chunk sets by files_id (GridFS specification).
  await collections.chunks.createIndex({ files_id: 1, n: 1 }, { unique: true });
  await collections.files.createIndex({ filename: 1, uploadDate: 1 });
  // Tells orphan collection which files some blob key still points to.
  await collections.blobs.createIndex({ fileId: 1 });
}
