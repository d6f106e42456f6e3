import type { DatastoreAccess } from './access.js';
import { headRead } from './blob-read.js';
import { uploadChunksDelete } from './chunks.js';
import { checkStoreKey } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/**
 * Deletes a blob: its head first, which makes it invisible at once, then its chunks. Chunks
 * that a failure leaves behind belong to no head and go with the next orphan sweep.
 */
export async function blobDelete(access: DatastoreAccess, key: string): Promise<void> {
  access.checkOpen();
  checkStoreKey(key);
  const head = await headRead(access, key);
  if (head === null) return;

  const headKey = access.blobKey(key);
  await withRetries(`delete head of ${key}`, access.policy, () =>
    clientCall(`delete head of ${key}`, () => access.client.delete(headKey, access.callOptions())),
  );
  if (head.chunks > 0) {
    await uploadChunksDelete(access, key, head.upload, head.chunks).catch(() => undefined);
  }
}
