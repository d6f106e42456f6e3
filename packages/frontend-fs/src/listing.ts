import { join } from 'node:path';
import type { FsIo } from './fs-io.js';
import { ENTRY_SUFFIX, isSegment, prefixParts } from './layout.js';

/**
 * Maximum existence checks in flight at once: enough to keep libuv's threads busy, few enough
 * that a long listing does not queue ahead of every other request's file calls.
 */
const MAX_PARALLEL_CHECKS = 32;

export interface ListOptions {
  after?: string;
  limit: number;
}

/**
 * Lists the keys of one tree (records or blobs) that start with `prefix` and sort strictly
 * after `options.after`, in byte order. It reads only the folder the prefix names and the
 * folders below it that contain keys after `after`. `exists` confirms each candidate entry,
 * because a record folder may have lost its marker to a delete.
 *
 * Byte order is not the order of a depth-first walk: `a-b` sorts between `a` and `a/x`,
 * because '-' and '.' sort before '/'. Sorting each folder's keys by `segment` and its
 * subfolders by `segment/` gives byte order, since all keys below `a/` sort together.
 */
export async function listKeys(
  io: FsIo,
  tree: string,
  prefix: string,
  options: ListOptions,
  exists: (entry: string) => Promise<boolean>,
): Promise<string[]> {
  const { folder, start } = prefixParts(prefix);
  const keys: string[] = [];
  if (!(options.limit > 0)) return keys;

  const base = folder.length === 0 ? '' : `${folder.join('/')}/`;
  await listFolder(join(tree, ...folder), base, start);
  return keys;

  async function listFolder(path: string, base: string, start: string): Promise<void> {
    const names = (await io.readdirIfPresent(path)) ?? [];
    const items = sortedItems(names, base, start, options.after);
    let index = 0;

    while (index < items.length && keys.length < options.limit) {
      const item = items[index] as string;
      if (item.endsWith('/')) {
        await listFolder(join(path, item.slice(0, -1)), base + item, '');
        index += 1;
        continue;
      }

      // Check the next keys of this folder together, as many as the page still needs.
      const batch: string[] = [];
      const batchSize = Math.min(options.limit - keys.length, MAX_PARALLEL_CHECKS);
      while (
        index < items.length &&
        batch.length < batchSize &&
        !(items[index] as string).endsWith('/')
      ) {
        batch.push(items[index] as string);
        index += 1;
      }
      const found = await Promise.all(
        batch.map((segment) => exists(join(path, segment + ENTRY_SUFFIX))),
      );
      batch.forEach((segment, position) => {
        if (found[position] === true) keys.push(base + segment);
      });
    }
  }
}

/**
 * Returns the items of a folder in byte order of their keys, leaving out names that are not
 * ours, that do not start with `start`, and whose keys all sort at or before `after`. An item
 * is a key's segment (`name@` on disk) or a subfolder's segment followed by '/'.
 */
function sortedItems(names: string[], base: string, start: string, after?: string): string[] {
  const items: string[] = [];
  for (const name of names) {
    const isFolder = !name.endsWith(ENTRY_SUFFIX);
    const segment = isFolder ? name : name.slice(0, -ENTRY_SUFFIX.length);
    if (!segment.startsWith(start) || !isSegment(segment)) continue;

    const item = isFolder ? `${segment}/` : segment;
    if (after !== undefined && !isAfter(base + item, isFolder, after)) continue;
    items.push(item);
  }
  // Keys are ASCII, so the default sort (UTF-16 code units) is byte order.
  return items.sort();
}

/** Returns whether a key, or some key below a folder `.../name/`, sorts after `after`. */
function isAfter(keyOrFolder: string, isFolder: boolean, after: string): boolean {
  if (!isFolder) return keyOrFolder > after;
  return keyOrFolder > after || after.startsWith(keyOrFolder);
}
