import type { Key } from '@google-cloud/datastore';
import type { DatastoreAccess } from './access.js';
import { chunkName, KIND } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/**
 * Bytes of blob data per chunk entity: 1 MiB − 8 KiB. The entity limit is 1,048,572 bytes,
 * and an entity key is at most 6 KiB, so a chunk entity always fits with its key, its `data`
 * property name and the entity overhead. A blob up to this size is kept inside its head.
 */
export const CHUNK_BYTES = 1_040_384;

/**
 * Chunks sent in one Commit: 4 chunks (4 MiB), under the 10 MiB request limit with room for
 * the keys, and far under the 500 mutations of a commit. Larger commits save few calls and
 * make the gRPC client hold more copies of the request at once.
 */
export const CHUNKS_PER_COMMIT = 4;

/** Keys deleted in one Commit: the service takes at most 500 mutations per commit. */
const DELETES_PER_COMMIT = 500;

export function chunkKey(access: DatastoreAccess, key: string, upload: string, index: number): Key {
  return access.key([KIND.chunk, chunkName(key, upload, index)]);
}

/** Writes chunks `first`, `first + 1`, ... of an upload in one commit of upserts. */
export async function chunksWrite(
  access: DatastoreAccess,
  key: string,
  upload: string,
  first: number,
  chunks: Buffer[],
): Promise<void> {
  const entities = chunks.map((data, offset) => ({
    key: chunkKey(access, key, upload, first + offset),
    method: 'upsert',
    data: [{ name: 'data', value: data, excludeFromIndexes: true }],
  }));

  // Upserts, so that a retry after a lost answer rewrites the same bytes harmlessly.
  await withRetries(`write chunks of ${key}`, access.policy, () =>
    clientCall(`write chunks of ${key}`, () =>
      access.client.save(entities, access.callOptions(access.policy.chunkRpcTimeoutMs)),
    ),
  );
}

/** Deletes the given chunk keys, in commits of at most 500. */
export async function chunksDelete(access: DatastoreAccess, keys: Key[]): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETES_PER_COMMIT) {
    const batch = keys.slice(start, start + DELETES_PER_COMMIT);
    await withRetries('delete chunks', access.policy, () =>
      clientCall('delete chunks', () => access.client.delete(batch, access.callOptions())),
    );
  }
}

/** Deletes chunks 0 to `count − 1` of an upload. */
export async function uploadChunksDelete(
  access: DatastoreAccess,
  key: string,
  upload: string,
  count: number,
): Promise<void> {
  const keys = Array.from({ length: count }, (_, index) => chunkKey(access, key, upload, index));
  await chunksDelete(access, keys);
}
