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
}

const openAsync = promisify(fs.open);
const readAsync = promisify(fs.read);
const writeAsync = promisify(fs.write);
const fsyncAsync = promisify(fs.fsync);
const fstatAsync = promisify(fs.fstat);
const closeAsync = promisify(fs.close);

function toFsStat(stats: fs.Stats): FsStat {
  return { size: stats.size, mtimeMs: stats.mtimeMs, isDirectory: stats.isDirectory() };
}

/** The FsLayer over node:fs. */
export const nodeFsLayer: FsLayer = {
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
  readdir: (path) => fs.promises.readdir(path),
  readFile: (path) => fs.promises.readFile(path),
  stat: async (path) => toFsStat(await fs.promises.stat(path)),
};
