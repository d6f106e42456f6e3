import { dirname, join } from 'node:path';
import { StorageFault, type StoredRecord } from '@smtpq/store';
import { FILE_MODE, type FsIo, hasCode, NEW_FILE_FLAGS, settleAll } from './fs-io.js';
import { DATA_PREFIX, isVersion, MARKER_PREFIX, newVersion, type StoreLayout } from './layout.js';
import { tempName } from './temp.js';

/*
 * How records stay atomic across processes without locks.
 *
 * A record is a folder `<key>@` holding an empty marker `v.<version>` and the bytes
 * `d.<version>`. Versions are random, so a marker name is never used twice, even after a
 * delete and a new create of the key.
 *
 * - create: the folder is built complete in tmp/ (data, marker and folder fsynced) and
 *   renamed to `<key>@`. rename(2) onto an existing folder fails unless that folder is empty,
 *   so of several creators exactly one wins. A folder without a marker, left by a delete that
 *   stopped halfway, is cleared and the rename tried again.
 * - replace from version X: write `d.Y`, fsync it and the folder, then rename `v.X` to
 *   `v.Y`. Only one rename of `v.X` can succeed, and once it has, `v.X` never exists again:
 *   every other writer that expected X gets ENOENT, a mismatch. The rename is also the moment
 *   the new bytes become visible, so a crash leaves X or Y, never a half state.
 * - delete: unlink the marker (again only one caller can), sync the folder, then remove the
 *   data files and the empty folders.
 * - get: read the folder, take the marker, read `d.<marker>`; if a replace removed that file
 *   meanwhile, read again.
 *
 * Reads rely on Linux reading a small folder in one getdents call, under the folder's inode
 * lock that rename(2) also takes (iterate_dir in fs/readdir.c), so a read sees `v.X` or `v.Y`.
 * A read that sees two markers anyway reads again.
 */

/** Attempts of a read or write that lost a race with another writer before it gives up. */
const MAX_ATTEMPTS = 50;

/** A record staged durably in tmp/ (see RecordFiles.prepareCreate). */
export interface StagedRecord {
  /** Renames the record into place; returns its version, or null when the key exists. */
  publish(): Promise<string | null>;
  /** Removes the staged record; does nothing once it was published or discarded. */
  discard(): Promise<void>;
}

export class RecordFiles {
  constructor(
    private readonly io: FsIo,
    private readonly layout: StoreLayout,
  ) {}

  async get(key: string): Promise<StoredRecord | null> {
    const { entry } = this.layout.recordPath(key);

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const version = await this.readMarker(entry);
      if (version === null) return null;

      try {
        const data = await this.io.readFile(join(entry, DATA_PREFIX + version));
        return { data, version };
      } catch (error) {
        if (!hasCode(error, 'ENOENT')) throw error;
      }
    }
    throw new StorageFault(
      'unavailable',
      `fs store: get ${key} failed: the record changed during each of ${MAX_ATTEMPTS} reads`,
    );
  }

  async create(key: string, data: Buffer): Promise<string | null> {
    const staged = await this.prepareCreate(key, data);
    return staged.publish();
  }

  /**
   * Builds the record folder of a create in tmp/ and makes it durable, with the folder of its
   * key; `publish` then renames it into place. No check for an existing key comes first: the
   * rename finds it, and most creates are of new keys.
   */
  async prepareCreate(key: string, data: Buffer): Promise<StagedRecord> {
    const { folder, entry } = this.layout.recordPath(key);
    const version = newVersion();
    const staging = join(this.layout.tmp, tempName());

    await this.io.mkdir(staging);
    try {
      await settleAll([
        this.stageRecord(staging, version, data),
        this.io.prepareFolder(this.layout.records, folder),
      ]);
    } catch (error) {
      await this.io.removeTree(staging).catch(() => undefined);
      throw error;
    }

    let settled = false;
    return {
      publish: async () => {
        if (settled) throw new Error(`create ${key} was already published or discarded`);
        settled = true;
        return this.publishStaged(key, staging, folder, entry, version);
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await this.io.removeTree(staging);
      },
    };
  }

  /** Renames a staged record folder to its key and syncs the folder that contains it. */
  private async publishStaged(
    key: string,
    staging: string,
    folder: string,
    entry: string,
    version: string,
  ): Promise<string | null> {
    let published = false;
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS && !published; attempt++) {
        try {
          await this.io.rename(staging, entry);
          published = true;
        } catch (error) {
          if (hasCode(error, 'ENOENT')) {
            // The key's folder was pruned since it was made; a second ENOENT may mean that the
            // staging folder is gone.
            if (attempt > 0) await this.checkStaging(key, staging);
            await this.io.makeFolders(this.layout.records, folder);
          } else if (hasCode(error, 'ENOTEMPTY', 'EEXIST')) {
            if (await this.clearUnusedEntry(entry)) return null;
          } else {
            throw error;
          }
        }
      }
      if (!published) {
        throw new StorageFault(
          'unavailable',
          `fs store: create ${key} failed: ${entry} was still in use after ${MAX_ATTEMPTS} attempts`,
        );
      }

      await this.io.syncExisting(this.layout.records, folder);
      return version;
    } finally {
      if (!published) await this.io.removeTree(staging).catch(() => undefined);
    }
  }

  async replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    const { entry } = this.layout.recordPath(key);
    const current = await this.readMarker(entry);
    if (current === null) return 'missing';
    if (current !== expectedVersion) return 'mismatch';

    const version = newVersion();
    const dataPath = join(entry, DATA_PREFIX + version);
    try {
      // The new data and its name in the folder are synced together, before the rename.
      await this.io.writeNewFile(dataPath, data, () => this.io.syncDir(entry));
    } catch (error) {
      // The record's folder is gone: a delete removed it since the marker was read, or a
      // create cleared the folder of a record deleted since then.
      if (hasCode(error, 'ENOENT')) return 'missing';
      throw error;
    }

    try {
      await this.io.rename(
        join(entry, MARKER_PREFIX + current),
        join(entry, MARKER_PREFIX + version),
      );
    } catch (error) {
      // Any other error leaves unknown whether the rename happened, so the new data stays.
      if (!hasCode(error, 'ENOENT')) throw error;
      await this.io.unlinkIfPresent(dataPath);
      return this.lostRace(entry);
    }
    // A delete may already have removed the new version and its folder.
    await this.io.syncExisting(this.layout.records, entry);

    await this.io.unlinkIfPresent(join(entry, DATA_PREFIX + current)).catch(() => undefined);
    return version;
  }

  async delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    const { entry } = this.layout.recordPath(key);

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.readMarker(entry);
      if (current === null) return 'missing';
      if (expectedVersion !== undefined && current !== expectedVersion) return 'mismatch';

      if (await this.io.unlinkIfPresent(join(entry, MARKER_PREFIX + current))) {
        // A create may already have cleared and removed the marker-less folder.
        await this.io.syncExisting(this.layout.records, entry);
        await this.removeEntry(entry).catch(() => undefined);
        return 'deleted';
      }
    }
    throw new StorageFault(
      'unavailable',
      `fs store: delete ${key} failed: the record changed during each of ${MAX_ATTEMPTS} attempts`,
    );
  }

  /**
   * Returns the current version of the record stored in the folder `entry`, or null when the
   * record does not exist.
   */
  async readMarker(entry: string): Promise<string | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const names = await this.io.readdirIfPresent(entry);
      if (names === null) return null;

      const markers = names.filter(isMarker);
      if (markers.length <= 1) return markers[0]?.slice(MARKER_PREFIX.length) ?? null;
    }
    throw new StorageFault(
      'unavailable',
      `fs store: ${entry} showed more than one version marker in each of ${MAX_ATTEMPTS} reads`,
    );
  }

  /**
   * Writes a record's marker and data into the staging folder and makes them durable: the
   * data, the marker and the folder's entries are fsynced at once, and all three fsyncs end
   * before the caller renames the folder.
   */
  private async stageRecord(staging: string, version: string, data: Buffer): Promise<void> {
    const marker = await this.io.open(
      join(staging, MARKER_PREFIX + version),
      NEW_FILE_FLAGS,
      FILE_MODE,
    );
    try {
      await this.io.writeNewFile(join(staging, DATA_PREFIX + version), data, () =>
        settleAll([marker.sync(), this.io.syncDir(staging)]),
      );
    } finally {
      await marker.close();
    }
  }

  /** Returns the result of a replace whose marker rename found no `v.X`: changed or gone. */
  private async lostRace(entry: string): Promise<'mismatch' | 'missing'> {
    if ((await this.readMarker(entry)) !== null) return 'mismatch';
    await this.io.pruneFolders(this.layout.records, entry);
    return 'missing';
  }

  /**
   * Removes a record folder that has no marker, with the data files that a delete, a crashed
   * writer or a writer that lost a race left in it. Returns true, removing nothing, when the
   * folder has a marker: the key exists. The removal is safe because a folder without a marker
   * never gets one back, and a create brings a new folder only in place of an empty one. The
   * names listed here are unique, so they never name a file of that new folder.
   */
  private async clearUnusedEntry(entry: string): Promise<boolean> {
    const names = await this.io.readdirIfPresent(entry);
    if (names === null) return false;
    if (names.some(isMarker)) return true;

    for (const name of names) await this.io.unlinkIfPresent(join(entry, name));
    try {
      await this.io.rmdir(entry);
    } catch (error) {
      if (!hasCode(error, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) throw error;
    }
    return false;
  }

  /**
   * Removes the folder of a deleted record and its parents left empty. By now a create may
   * have put a new record in `entry`: clearUnusedEntry then leaves it alone.
   */
  private async removeEntry(entry: string): Promise<void> {
    if (await this.clearUnusedEntry(entry)) return;
    await this.io.pruneFolders(this.layout.records, dirname(entry));
  }

  /** Throws when another process removed the staging folder as stale. */
  private async checkStaging(key: string, staging: string): Promise<void> {
    if ((await this.io.readdirIfPresent(staging)) !== null) return;
    throw new StorageFault(
      'unavailable',
      `fs store: create ${key} failed: another process removed ${staging} while it was in ` +
        'use; check that every process on this store runs on this host',
    );
  }
}

function isMarker(name: string): boolean {
  return name.startsWith(MARKER_PREFIX) && isVersion(name.slice(MARKER_PREFIX.length));
}
