import type { Key } from '@google-cloud/datastore';
import type { DatastoreAccess } from './access.js';
import { headOf } from './blob-head.js';
import { MAX_UPLOAD_MS } from './blob-write.js';
import { chunksDelete } from './chunks.js';
import { KIND, parseChunkName, uploadTime } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/** Chunk keys read per page of the sweep. */
const PAGE = 1000;

/**
 * Uploads younger than this are never swept, in ms: twice the longest upload, so that an
 * upload still running (or about to write its head) keeps its chunks.
 */
export const ORPHAN_MIN_AGE_MS = 2 * MAX_UPLOAD_MS;

export interface ChunkSweepReport {
  /** Uploads whose chunks were deleted because no blob head names them. */
  uploads: number;
  chunks: number;
}

/**
 * Deletes the chunks of uploads that no blob head names (interrupted uploads, heads deleted
 * before their chunks) and that are older than `minAgeMs`. It reads every chunk key with a
 * kind query, which is eventually consistent on legacy Cloud Datastore: a chunk it misses is
 * found by a later sweep, and a missed one is never in use.
 */
export async function collectOrphanChunks(
  access: DatastoreAccess,
  options: { minAgeMs?: number; now?: number } = {},
): Promise<ChunkSweepReport> {
  access.checkOpen();
  const minAgeMs = options.minAgeMs ?? ORPHAN_MIN_AGE_MS;
  const cutoff = (options.now ?? Date.now()) - minAgeMs;
  const report: ChunkSweepReport = { uploads: 0, chunks: 0 };

  let cursor: string | undefined;
  for (;;) {
    const page = await chunkPage(access, cursor);

    const uploads = new Map<string, { key: string; upload: string; keys: Key[] }>();
    for (const chunk of page.keys) {
      const parsed = parseChunkName(String(chunk.name));
      if (parsed === null || uploadTime(parsed.upload) > cutoff) continue;
      const id = `${parsed.key}#${parsed.upload}`;
      const entry = uploads.get(id) ?? { key: parsed.key, upload: parsed.upload, keys: [] };
      entry.keys.push(chunk);
      uploads.set(id, entry);
    }

    const named = await uploadsNamedByHeads(
      access,
      [...uploads.values()].map((u) => u.key),
    );
    for (const entry of uploads.values()) {
      if (named.get(entry.key) === entry.upload) continue;
      await chunksDelete(access, entry.keys);
      report.uploads += 1;
      report.chunks += entry.keys.length;
    }

    if (page.end) return report;
    cursor = page.cursor;
  }
}

async function chunkPage(
  access: DatastoreAccess,
  cursor: string | undefined,
): Promise<{ keys: Key[]; cursor: string; end: boolean }> {
  let query = access.client
    .createQuery(access.target.namespace, KIND.chunk)
    .select('__key__')
    .order('__key__')
    .limit(PAGE);
  if (cursor !== undefined) query = query.start(cursor);

  return withRetries('list chunks', access.policy, async () => {
    const [entities, info] = await clientCall('list chunks', () =>
      access.client.runQuery(query, { gaxOptions: access.callOptions() }),
    );
    return {
      keys: entities.map((entity) => entity[access.client.KEY] as Key),
      cursor: info.endCursor ?? '',
      end: entities.length < PAGE || info.endCursor === undefined,
    };
  });
}

/** Returns the upload each existing head names, by blob key. */
async function uploadsNamedByHeads(
  access: DatastoreAccess,
  blobKeys: string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(blobKeys)];
  const named = new Map<string, string>();
  if (unique.length === 0) return named;

  const [entities] = await withRetries('read heads', access.policy, () =>
    clientCall('read heads', () =>
      access.client.get(
        unique.map((key) => access.blobKey(key)),
        { gaxOptions: access.callOptions() },
      ),
    ),
  );
  for (const entity of entities) {
    const head = headOf(entity);
    const name = entity?.[access.client.KEY]?.name;
    if (head !== null && name !== undefined) named.set(String(name), head.upload);
  }
  return named;
}
