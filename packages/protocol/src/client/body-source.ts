import { createHash, type Hash } from 'node:crypto';
import { fstat, read } from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BodySourceError } from './transport-error.js';

/**
 * A message body to upload: bytes in memory, a file by path, or an open file descriptor. A
 * file or fd is read with positional reads from offset 0, so the caller's file position is
 * left alone and a retry can send the same bytes again.
 */
export type BodySource = Buffer | { path: string } | { fd: number };

/** A request content ready to send as often as a retry needs it. */
export interface PreparedContent {
  length: number;
  sha256: Buffer;
  /** Returns a fresh iteration of the whole content, from its first byte. */
  open(): Buffer | AsyncIterable<Uint8Array>;
  /** Closes the file that was opened by path; an fd stays open for its owner. */
  close(): Promise<void>;
}

/** Bytes read per positional read of a file. */
const CHUNK_BYTES = 256 * 1024;

const readAsync = promisify(read);
const fstatAsync = promisify(fstat);

interface PositionalFile {
  size: number;
  read(buffer: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

function checkRegularFile(stats: { isFile(): boolean }, name: string): void {
  // A pipe or socket has no size and no positions, so its bytes cannot be hashed and re-read.
  if (!stats.isFile()) {
    throw new BodySourceError(`${name} is not a regular file; give a file or a Buffer`);
  }
}

async function openFd(fd: number, name: string): Promise<PositionalFile> {
  const stats = await fstatAsync(fd);
  checkRegularFile(stats, name);
  return {
    size: stats.size,
    read: async (buffer, position) => {
      const { bytesRead } = await readAsync(fd, buffer, 0, buffer.length, position);
      return bytesRead;
    },
    close: async () => {},
  };
}

async function openPath(path: string, name: string): Promise<PositionalFile> {
  const handle = await open(path, 'r');
  try {
    const stats = await handle.stat();
    checkRegularFile(stats, name);
    return {
      size: stats.size,
      read: async (buffer, position) => {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        return bytesRead;
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function describe(source: { path: string } | { fd: number }): string {
  return 'path' in source ? `body file ${source.path}` : `body fd ${source.fd}`;
}

/**
 * Reads `size` bytes of `file` from offset 0, in fresh chunks (the HTTP client keeps a
 * reference to each chunk until the socket has written it). A file that shrank since its size
 * was taken fails, because the request already announced that Content-Length.
 */
async function* readChunks(
  file: PositionalFile,
  size: number,
  name: string,
): AsyncGenerator<Buffer> {
  let position = 0;
  while (position < size) {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - position));
    let bytesRead: number;
    try {
      bytesRead = await file.read(buffer, position);
    } catch (err) {
      const reason = (err as Error).message;
      throw new BodySourceError(`reading ${name} at offset ${position} failed: ${reason}`, {
        cause: err,
      });
    }
    if (bytesRead === 0) {
      throw new BodySourceError(
        `${name} ended at ${position} bytes, but its size was ${size} bytes when the upload began; keep the file unchanged during the upload`,
      );
    }
    position += bytesRead;
    yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }
}

async function hashFile(file: PositionalFile, size: number, hash: Hash, name: string) {
  for await (const chunk of readChunks(file, size, name)) hash.update(chunk);
}

async function* concat(prefix: Buffer, rest: Buffer | AsyncIterable<Uint8Array>) {
  yield prefix;
  if (Buffer.isBuffer(rest)) {
    yield rest;
    return;
  }
  yield* rest;
}

/**
 * Prepares `source` for upload: its length and the SHA-256 of the whole content, computed in
 * one pass over a file before it is streamed in a second pass, so that a large body is never
 * held in memory. `makePrefix`, given the body length, returns bytes sent before the body (the
 * head of a bundle); the length and digest then cover prefix and body.
 */
export async function prepareContent(
  source: BodySource,
  makePrefix?: (bodyLength: number) => Buffer,
): Promise<PreparedContent> {
  if (Buffer.isBuffer(source)) {
    const prefix = makePrefix?.(source.length);
    const hash = createHash('sha256');
    if (prefix !== undefined) hash.update(prefix);
    hash.update(source);
    return {
      length: (prefix?.length ?? 0) + source.length,
      sha256: hash.digest(),
      open: () => (prefix === undefined ? source : concat(prefix, source)),
      close: async () => {},
    };
  }

  const name = describe(source);
  let file: PositionalFile;
  try {
    file = 'path' in source ? await openPath(source.path, name) : await openFd(source.fd, name);
  } catch (err) {
    if (err instanceof BodySourceError) throw err;
    throw new BodySourceError(`opening ${name} failed: ${(err as Error).message}`, { cause: err });
  }

  try {
    const size = file.size;
    const prefix = makePrefix?.(size);
    const hash = createHash('sha256');
    if (prefix !== undefined) hash.update(prefix);
    await hashFile(file, size, hash, name);

    return {
      length: (prefix?.length ?? 0) + size,
      sha256: hash.digest(),
      open: () => {
        const chunks = readChunks(file, size, name);
        return prefix === undefined ? chunks : concat(prefix, chunks);
      },
      close: () => file.close(),
    };
  } catch (err) {
    await file.close();
    throw err;
  }
}
