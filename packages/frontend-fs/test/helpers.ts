import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { type FsDriver, type FsLayer, nodeFsLayer, openFsDriver } from '../src/index.js';

/** Creates an empty folder under the system temp folder; `remove` deletes it. */
export async function tempFolder(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'smtpq-fs-test-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Opens a driver on a new folder; `cleanup` closes it and removes the folder. */
export async function tempDriver(
  layer?: FsLayer,
): Promise<{ driver: FsDriver; dir: string; cleanup: () => Promise<void> }> {
  const folder = await tempFolder();
  const dir = join(folder.path, 'store');
  const driver = await openFsDriver(dir, layer === undefined ? {} : { fs: layer });
  return {
    driver,
    dir,
    cleanup: async () => {
      await driver.close();
      await folder.remove();
    },
  };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads a blob that blobGet returned, as text, or returns null for an absent blob. */
export async function blobText(blob: { stream: Readable } | null): Promise<string | null> {
  return blob === null ? null : (await readAll(blob.stream)).toString();
}

export async function* chunksOf(...chunks: Array<string | Buffer>): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}

/** One file-system call seen by a TracingLayer, at its start or at its end. */
export interface TraceEvent {
  op: keyof FsLayer;
  phase: 'start' | 'done';
  /** The path of the call; for calls on a descriptor, the path it was opened with. */
  path: string;
  /** The second path of a rename. */
  to?: string;
}

/**
 * An FsLayer over node:fs that records every call twice, when it starts and when it ends, so
 * that a test can check that an fsync had finished before a rename began. `fsyncDelayMs`
 * makes each fsync end later, so that an fsync the driver forgot to await ends after the
 * driver's promise resolved.
 */
export class TracingLayer {
  readonly events: TraceEvent[] = [];
  readonly layer: FsLayer;
  private readonly fdPaths = new Map<number, string>();

  constructor(options: { fsyncDelayMs?: number } = {}) {
    const fsyncDelayMs = options.fsyncDelayMs ?? 0;
    const base = nodeFsLayer;
    const trace = async <T>(
      op: keyof FsLayer,
      path: string,
      call: () => Promise<T>,
      to?: string,
    ) => {
      const event: TraceEvent = { op, phase: 'start', path };
      if (to !== undefined) event.to = to;
      this.events.push(event);
      const result = await call();
      this.events.push({ ...event, phase: 'done' });
      return result;
    };
    const pathOf = (fd: number) => this.fdPaths.get(fd) ?? `fd ${fd}`;

    this.layer = {
      open: async (path, flags, mode) => {
        const fd = await trace('open', path, () => base.open(path, flags, mode));
        this.fdPaths.set(fd, path);
        return fd;
      },
      read: (fd, buffer, position) =>
        trace('read', pathOf(fd), () => base.read(fd, buffer, position)),
      write: (fd, data) => trace('write', pathOf(fd), () => base.write(fd, data)),
      fsync: (fd) =>
        trace('fsync', pathOf(fd), async () => {
          await base.fsync(fd);
          if (fsyncDelayMs > 0) await setTimeout(fsyncDelayMs);
        }),
      fstat: (fd) => trace('fstat', pathOf(fd), () => base.fstat(fd)),
      close: async (fd) => {
        await trace('close', pathOf(fd), () => base.close(fd));
        this.fdPaths.delete(fd);
      },
      rename: (from, to) => trace('rename', from, () => base.rename(from, to), to),
      unlink: (path) => trace('unlink', path, () => base.unlink(path)),
      mkdir: (path, mode) => trace('mkdir', path, () => base.mkdir(path, mode)),
      rmdir: (path) => trace('rmdir', path, () => base.rmdir(path)),
      readdir: (path) => trace('readdir', path, () => base.readdir(path)),
      readFile: (path) => trace('readFile', path, () => base.readFile(path)),
      stat: (path) => trace('stat', path, () => base.stat(path)),
    };
  }

  clear(): void {
    this.events.length = 0;
  }

  count(op: keyof FsLayer): number {
    return this.events.filter((event) => event.op === op && event.phase === 'start').length;
  }

  /** Index of the first event that matches, or -1. */
  indexOf(match: (event: TraceEvent) => boolean): number {
    return this.events.findIndex(match);
  }

  /** Indices of all events that match. */
  indicesOf(match: (event: TraceEvent) => boolean): number[] {
    return this.events.flatMap((event, index) => (match(event) ? [index] : []));
  }

  /** Index of the last event that matches, or -1. */
  lastIndexOf(match: (event: TraceEvent) => boolean): number {
    for (let index = this.events.length - 1; index >= 0; index--) {
      if (match(this.events[index] as TraceEvent)) return index;
    }
    return -1;
  }
}

/** Returns an errno error as node:fs throws it. */
export function errnoError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${syscall}`);
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

/**
 * An FsLayer over node:fs whose `fail` hook may throw instead of making a call: it gets the
 * call's name and path, and returns an error to throw or undefined to let the call run.
 */
export function faultyLayer(fail: (op: keyof FsLayer, path: string) => Error | undefined): FsLayer {
  const base = nodeFsLayer;
  const fdPaths = new Map<number, string>();
  const guard = async <T>(op: keyof FsLayer, path: string, call: () => Promise<T>) => {
    const error = fail(op, path);
    if (error !== undefined) throw error;
    return call();
  };
  const pathOf = (fd: number) => fdPaths.get(fd) ?? `fd ${fd}`;

  return {
    open: async (path, flags, mode) => {
      const fd = await guard('open', path, () => base.open(path, flags, mode));
      fdPaths.set(fd, path);
      return fd;
    },
    read: (fd, buffer, position) =>
      guard('read', pathOf(fd), () => base.read(fd, buffer, position)),
    write: (fd, data) => guard('write', pathOf(fd), () => base.write(fd, data)),
    fsync: (fd) => guard('fsync', pathOf(fd), () => base.fsync(fd)),
    fstat: (fd) => guard('fstat', pathOf(fd), () => base.fstat(fd)),
    // Closing always runs, so that an injected fault never leaks a descriptor.
    close: async (fd) => {
      await base.close(fd);
      fdPaths.delete(fd);
    },
    rename: (from, to) => guard('rename', from, () => base.rename(from, to)),
    unlink: (path) => guard('unlink', path, () => base.unlink(path)),
    mkdir: (path, mode) => guard('mkdir', path, () => base.mkdir(path, mode)),
    rmdir: (path) => guard('rmdir', path, () => base.rmdir(path)),
    readdir: (path) => guard('readdir', path, () => base.readdir(path)),
    readFile: (path) => guard('readFile', path, () => base.readFile(path)),
    stat: (path) => guard('stat', path, () => base.stat(path)),
  };
}
