import * as fs from 'node:fs';
import { promisify } from 'node:util';

/** File metadata the driver reads. */
export interface FsStat {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

/**
 * Every file-system call the fs driver makes. The default, `nodeFsLayer`, calls node:fs; a test
 * can pass its own layer to trace the calls or to inject errors. Errors are Node's errno errors,
 * with their `code` (ENOENT, ENOSPC, ...). A directory is synced by opening it with
 * `fs.constants.O_RDONLY` and calling `fsync` on that descriptor.
 */
export interface FsLayer {
  /** Opens a file or directory with `fs.constants` flags; returns the descriptor. */
  open(path: string, flags: number, mode?: number): Promise<number>;
  /** Reads into `buffer` from byte `position`; returns the bytes read, 0 at the end. */
  read(fd: number, buffer: Uint8Array, position: number): Promise<number>;
  /** Writes at the current offset; returns the bytes written, which may be fewer. */
  write(fd: number, data: Uint8Array): Promise<number>;
  fsync(fd: number): Promise<void>;
  fstat(fd: number): Promise<FsStat>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Returns the names in a directory, in no particular order. */
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  stat(path: string): Promise<FsStat>;
  /**
   * Optional: `readdir` that returns null for a missing path instead of throwing ENOENT or
   * ENOTDIR. The driver looks up many absent paths, and an error costs more than the call.
   */
  readdirIfPresent?(path: string): Promise<string[] | null>;
  /** Optional: `stat` that returns null for a missing path instead of throwing ENOENT. */
  statIfPresent?(path: string): Promise<FsStat | null>;
}

const openAsync = promisify(fs.open);
const readAsync = promisify(fs.read);
const writeAsync = promisify(fs.write);
const fsyncAsync = promisify(fs.fsync);
const fstatAsync = promisify(fs.fstat);
const closeAsync = promisify(fs.close);
const readdirAsync = promisify(fs.readdir);
const readFileAsync = promisify(fs.readFile);

function toFsStat(stats: fs.Stats): FsStat {
  return { size: stats.size, mtimeMs: stats.mtimeMs, isDirectory: stats.isDirectory() };
}

/** The FsLayer over node:fs, every call in libuv's thread pool. */
export const asyncFsLayer: FsLayer = {
  open: (path, flags, mode) => openAsync(path, flags, mode),
  read: async (fd, buffer, position) => {
    const result = await readAsync(fd, buffer, 0, buffer.byteLength, position);
    return result.bytesRead;
  },
  write: async (fd, data) => {
    const result = await writeAsync(fd, data, 0, data.byteLength, null);
    return result.bytesWritten;
  },
  fsync: (fd) => fsyncAsync(fd),
  fstat: async (fd) => toFsStat(await fstatAsync(fd)),
  close: (fd) => closeAsync(fd),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  mkdir: async (path, mode) => {
    await fs.promises.mkdir(path, { mode });
  },
  rmdir: (path) => fs.promises.rmdir(path),
  readdir: (path) => readdirAsync(path),
  readFile: (path) => readFileAsync(path),
  stat: async (path) => toFsStat(await fs.promises.stat(path)),
};

/**
 * Largest write and file handled on the calling thread. Above it the call goes to the thread
 * pool, so that a large file never stalls the event loop.
 */
const SMALL_BYTES = 64 * 1024;
/**
 * Largest folder read on the calling thread, by its size in bytes: several hundred names on
 * ext4.
 */
const SMALL_FOLDER_BYTES = 16 * 1024;

/**
 * The FsLayer over node:fs used by default. Calls that only touch the page cache and the
 * directory cache (open, close, rename, mkdir, small reads and writes) run on the calling
 * thread: each takes microseconds, while a trip through libuv's thread pool costs tens to
 * hundreds of microseconds on a busy machine. fsync, which waits for the disk, and large
 * folders, files and blob reads go to the thread pool, where concurrent fsyncs can share one
 * journal commit.
 */
export const nodeFsLayer: FsLayer = {
  open: async (path, flags, mode) => fs.openSync(path, flags, mode),
  read: asyncFsLayer.read,
  write: async (fd, data) => {
    if (data.byteLength > SMALL_BYTES) return asyncFsLayer.write(fd, data);
    return fs.writeSync(fd, data, 0, data.byteLength, null);
  },
  fsync: asyncFsLayer.fsync,
  fstat: async (fd) => toFsStat(fs.fstatSync(fd)),
  close: async (fd) => fs.closeSync(fd),
  rename: async (from, to) => fs.renameSync(from, to),
  unlink: async (path) => fs.unlinkSync(path),
  mkdir: async (path, mode) => {
    fs.mkdirSync(path, { mode });
  },
  rmdir: async (path) => fs.rmdirSync(path),
  readdir: async (path) => {
    if (fs.statSync(path).size > SMALL_FOLDER_BYTES) return asyncFsLayer.readdir(path);
    return fs.readdirSync(path);
  },
  readdirIfPresent: async (path) => {
    const stats = fs.statSync(path, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isDirectory()) return null;
    try {
      if (stats.size > SMALL_FOLDER_BYTES) return await asyncFsLayer.readdir(path);
      return fs.readdirSync(path);
    } catch (error) {
      // Removed since the stat.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  },
  statIfPresent: async (path) => {
    const stats = fs.statSync(path, { throwIfNoEntry: false });
    return stats === undefined ? null : toFsStat(stats);
  },
  readFile: async (path) => {
    if (fs.statSync(path).size > SMALL_BYTES) return asyncFsLayer.readFile(path);
    return fs.readFileSync(path);
  },
  stat: async (path) => toFsStat(fs.statSync(path)),
};
