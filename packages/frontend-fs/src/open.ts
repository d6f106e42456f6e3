import { basename, dirname, resolve } from 'node:path';
import { FsDriver } from './driver.js';
import { toStorageFault } from './faults.js';
import { FsIo, hasCode } from './fs-io.js';
import { type FsLayer, nodeFsLayer } from './fs-layer.js';
import { StoreLayout } from './layout.js';
import { removeStaleTemps, tempName } from './temp.js';

/** Content of the FORMAT file: the layout version this driver reads and writes. */
const FORMAT = 'smtpq-fs 1\n';

export interface FsDriverOptions {
  /** File-system calls to use; tests pass a layer that traces calls or injects errors. */
  fs?: FsLayer;
}

/**
 * Opens the fs store in `dir`, creating the folder if needed, and removes the temporary
 * files that crashed writers left. Throws a StorageFault when the disk fails, and an Error
 * when `dir` contains something other than an fs store.
 */
export async function openFsDriver(dir: string, options: FsDriverOptions = {}): Promise<FsDriver> {
  const layout = new StoreLayout(resolve(dir));
  const io = new FsIo(options.fs ?? nodeFsLayer);

  try {
    await makeRoot(io, layout.root);
    await checkFormat(io, layout);
    for (const folder of [layout.records, layout.blobs, layout.tmp]) {
      try {
        await io.mkdir(folder);
      } catch (error) {
        if (!hasCode(error, 'EEXIST')) throw error;
      }
    }
    await io.syncDir(layout.root);
    await removeStaleTemps(io, layout.tmp, Date.now());
  } catch (error) {
    throw toStorageFault(error, `open ${layout.root}`);
  }

  return new FsDriver(io, layout);
}

/** Creates the store's folder and its missing parents, each made durable in its parent. */
async function makeRoot(io: FsIo, root: string): Promise<void> {
  let existing = root;
  for (;;) {
    try {
      await io.stat(existing);
      break;
    } catch (error) {
      if (!hasCode(error, 'ENOENT') || dirname(existing) === existing) throw error;
      existing = dirname(existing);
    }
  }
  await io.makeFolders(existing, root);
}

/**
 * Writes the FORMAT file into a new store, or checks it in an existing one. A folder that
 * contains anything else is rejected, so that a mistyped path never becomes a store.
 */
async function checkFormat(io: FsIo, layout: StoreLayout): Promise<void> {
  try {
    const format = (await io.readFile(layout.formatFile)).toString('utf8');
    if (format === FORMAT) return;
    throw new Error(
      `${layout.root} contains an fs store of format ${JSON.stringify(format.trim())}, but ` +
        `this driver reads only ${JSON.stringify(FORMAT.trim())}`,
    );
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }

  const ours = new Set([layout.records, layout.blobs, layout.tmp].map((path) => basename(path)));
  const others = (await io.readdir(layout.root)).filter(
    (name) => !ours.has(name) && !name.startsWith(basename(layout.formatFile)),
  );
  if (others.length > 0) {
    throw new Error(
      `${layout.root} is not an fs store: it has no FORMAT file and contains ` +
        `${JSON.stringify(others[0])}. Give a new or empty folder`,
    );
  }

  // Concurrent first opens each write their own copy; the renames leave one of them.
  const staging = `${layout.formatFile}.${tempName()}`;
  await io.writeNewFile(staging, Buffer.from(FORMAT));
  await io.rename(staging, layout.formatFile);
  await io.syncDir(layout.root);
}
