import { constants } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { DirSyncs } from './dir-sync.js';
import type { FsLayer, FsStat } from './fs-layer.js';

/** Mode of the files the driver creates: queue contents are private to the store's user. */
export const FILE_MODE = 0o600;
/** Mode of the folders the driver creates. */
export const FOLDER_MODE = 0o700;
/** Attempts to make a folder chain while other processes remove its empty levels. */
const MAX_FOLDER_ATTEMPTS = 10;
/** Flags of a file that this call alone creates and writes. */
export const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

/** An errno error of one file-system call, with the call and the path it was made on. */
export class FsCallError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly path: string;

  constructor(code: string, syscall: string, path: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`${syscall} ${path}: ${detail}`, { cause });
    this.name = 'FsCallError';
    this.code = code;
    this.syscall = syscall;
    this.path = path;
  }
}

/** Returns whether `error` is an FsCallError with one of `codes`. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof FsCallError && codes.includes(error.code);
}

function toFsCallError(error: unknown, syscall: string, path: string): unknown {
  if (error instanceof FsCallError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  return new FsCallError(code, syscall, path, error);
}

/** Counts of the calls that make writes durable, for metrics and benchmarks. */
export interface FsCounts {
  /** fsync calls on files and folders, whether they succeeded or not. */
  fsyncs: number;
}

/** A file opened through an FsIo; errors name the file's path. */
export class OpenFile {
  constructor(
    private readonly layer: FsLayer,
    readonly fd: number,
    readonly path: string,
    private readonly counts: FsCounts,
  ) {}

  async writeAll(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.byteLength) {
      const chunk = data.subarray(offset);
      offset += await this.call('write', () => this.layer.write(this.fd, chunk));
    }
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.call('read', () => this.layer.read(this.fd, buffer, position));
  }

  sync(): Promise<void> {
    this.counts.fsyncs += 1;
    return this.call('fsync', () => this.layer.fsync(this.fd));
  }

  async size(): Promise<number> {
    const stat = await this.call('fstat', () => this.layer.fstat(this.fd));
    return stat.size;
  }

  close(): Promise<void> {
    return this.call('close', () => this.layer.close(this.fd));
  }

  private async call<T>(syscall: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toFsCallError(error, syscall, this.path);
    }
  }
}

/**
 * The driver's file-system calls over an FsLayer. Every errno error becomes an FsCallError that
 * names the call and the path, and the durable steps (a new file, a folder chain, a directory
 * sync) are written once here.
 */
export class FsIo {
  readonly counts: FsCounts = { fsyncs: 0 };
  private readonly dirSyncs = new DirSyncs((path) => this.syncDirNow(path));
  /** Folders directly under a tree root whose entry this process has made durable. */
  private readonly durableFolders = new Set<string>();

  constructor(readonly layer: FsLayer) {}

  async open(path: string, flags: number, mode?: number): Promise<OpenFile> {
    const fd = await this.call('open', path, () => this.layer.open(path, flags, mode));
    return new OpenFile(this.layer, fd, path, this.counts);
  }

  rename(from: string, to: string): Promise<void> {
    return this.call('rename', `${from} -> ${to}`, () => this.layer.rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return this.call('unlink', path, () => this.layer.unlink(path));
  }

  mkdir(path: string): Promise<void> {
    return this.call('mkdir', path, () => this.layer.mkdir(path, FOLDER_MODE));
  }

  rmdir(path: string): Promise<void> {
    return this.call('rmdir', path, () => this.layer.rmdir(path));
  }

  readdir(path: string): Promise<string[]> {
    return this.call('readdir', path, () => this.layer.readdir(path));
  }

  readFile(path: string): Promise<Buffer> {
    return this.call('readFile', path, () => this.layer.readFile(path));
  }

  stat(path: string): Promise<FsStat> {
    return this.call('stat', path, () => this.layer.stat(path));
  }

  /** Lists a directory, or returns null when it does not exist. */
  async readdirIfPresent(path: string): Promise<string[] | null> {
    const { layer } = this;
    if (layer.readdirIfPresent !== undefined) {
      return this.call('readdir', path, () =>
        (layer.readdirIfPresent as NonNullable<FsLayer['readdirIfPresent']>)(path),
      );
    }
    try {
      return await this.readdir(path);
    } catch (error) {
      if (hasCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    }
  }

  /** Unlinks a file; returns false when it was already absent. */
  async unlinkIfPresent(path: string): Promise<boolean> {
    try {
      await this.unlink(path);
      return true;
    } catch (error) {
      if (hasCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
  }

  /**
   * Makes the entries of a directory durable: created, renamed and removed names. Concurrent
   * calls for one directory share an fsync that started after each of them (see DirSyncs).
   */
  syncDir(path: string): Promise<void> {
    return this.dirSyncs.sync(path);
  }

  private async syncDirNow(path: string): Promise<void> {
    const folder = await this.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }

  /**
   * Syncs the folder `path`. When another process has removed it meanwhile (rmdir of a folder
   * left empty), syncs the nearest folder above it, up to `root`, whose entry changed.
   */
  async syncExisting(root: string, path: string): Promise<void> {
    let level = path;
    for (;;) {
      try {
        await this.syncDir(level);
        return;
      } catch (error) {
        if (!hasCode(error, 'ENOENT') || !level.startsWith(root + sep)) throw error;
        level = dirname(level);
      }
    }
  }

  /**
   * Creates a file that must not exist yet, writes `data` and fsyncs it, together with the
   * `alongside` work (such as the fsync of its folder). On failure the partial file is removed.
   */
  async writeNewFile(
    path: string,
    data: Uint8Array,
    alongside: () => Promise<unknown> = async () => undefined,
  ): Promise<void> {
    const file = await this.open(path, NEW_FILE_FLAGS, FILE_MODE);
    try {
      await file.writeAll(data);
      await settleAll([file.sync(), alongside()]);
    } catch (error) {
      await file.close().catch(() => undefined);
      await this.unlinkIfPresent(path).catch(() => undefined);
      throw error;
    }
    await file.close();
  }

  /**
   * Creates every missing folder from `root` (which exists) down to `folder`, and syncs the
   * parent of each level. A level that another process has just created is synced too, because
   * that process may not have synced it yet. When another process removes an empty level
   * meanwhile (see pruneFolders), the chain is made again.
   *
   * Folders directly under `root` are never pruned, so once this process has synced one's
   * parent after finding it, it stays durable, and later calls skip that fsync.
   */
  async makeFolders(root: string, folder: string): Promise<void> {
    const parts = relative(root, folder)
      .split(sep)
      .filter((part) => part !== '');
    for (let attempt = 1; ; attempt++) {
      try {
        let level = root;
        for (const part of parts) {
          const parent = level;
          level = join(level, part);
          // A first-level folder this process has made durable is never removed.
          if (this.durableFolders.has(level)) continue;
          try {
            await this.mkdir(level);
          } catch (error) {
            if (!hasCode(error, 'EEXIST')) throw error;
          }

          await this.syncDir(parent);
          if (parent === root) this.durableFolders.add(level);
        }
        return;
      } catch (error) {
        if (!hasCode(error, 'ENOENT') || attempt >= MAX_FOLDER_ATTEMPTS) throw error;
        // A level was removed from outside the driver: make every level again.
        for (const level of this.durableFolders) {
          if (level.startsWith(root + sep)) this.durableFolders.delete(level);
        }
      }
    }
  }

  /**
   * Makes sure `folder` exists, creating it as makeFolders does when it does not. A write
   * runs this while it stages its data, so that a new folder costs no extra round of fsyncs.
   */
  async prepareFolder(root: string, folder: string): Promise<void> {
    if ((await this.statIfPresent(folder))?.isDirectory === true) return;
    await this.makeFolders(root, folder);
  }

  /** Returns a path's metadata, or null when it does not exist. */
  async statIfPresent(path: string): Promise<FsStat | null> {
    const { layer } = this;
    if (layer.statIfPresent !== undefined) {
      return this.call('stat', path, () =>
        (layer.statIfPresent as NonNullable<FsLayer['statIfPresent']>)(path),
      );
    }
    try {
      return await this.stat(path);
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  /**
   * Removes `folder` and then each empty parent up to `root`, but never a folder directly under
   * `root` (see makeFolders). It stops at the first folder that is not empty or not there.
   * rmdir never removes a folder with entries, so this is safe while other processes add
   * entries.
   */
  async pruneFolders(root: string, folder: string): Promise<void> {
    let level = folder;
    while (dirname(level) !== root && level.startsWith(root + sep)) {
      try {
        await this.layer.rmdir(level);
      } catch {
        return;
      }
      level = dirname(level);
    }
  }

  /** Removes a file or a folder with its contents; absent paths are not an error. */
  async removeTree(path: string): Promise<void> {
    try {
      await this.unlink(path);
      return;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return;
      if (!hasCode(error, 'EISDIR', 'EPERM')) throw error;
    }

    const names = (await this.readdirIfPresent(path)) ?? [];
    for (const name of names) await this.removeTree(join(path, name));
    try {
      await this.rmdir(path);
    } catch (error) {
      if (!hasCode(error, 'ENOENT')) throw error;
    }
  }

  private async call<T>(syscall: string, path: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toFsCallError(error, syscall, path);
    }
  }
}

/**
 * Waits for every promise, then throws the first rejection. Unlike Promise.all it never returns
 * while a call is still running, so that no descriptor is closed under an fsync in flight.
 */
export async function settleAll(promises: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
  }
}
