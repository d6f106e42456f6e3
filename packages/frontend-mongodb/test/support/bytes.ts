import type { Readable } from 'node:stream';

/** Yields `data` in parts of `partSize` bytes, as a request body arrives. */
export async function* streamOf(data: Buffer, partSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += partSize) {
    yield data.subarray(offset, offset + partSize);
  }
}

/** Yields `size` bytes made by `byteAt` without holding them all, in parts of 64 KiB. */
export async function* generatedStream(
  size: number,
  byteAt: (offset: number) => number = (offset) => (offset * 31 + (offset >> 16)) & 0xff,
): AsyncGenerator<Uint8Array> {
  const partSize = 64 * 1024;
  for (let offset = 0; offset < size; offset += partSize) {
    const part = Buffer.allocUnsafe(Math.min(partSize, size - offset));
    for (let i = 0; i < part.length; i++) part[i] = byteAt(offset + i);
    yield part;
  }
}

/** Yields `sentBytes` of data, then fails as a client that resets its connection. */
export async function* failingStream(sentBytes: number, error: Error): AsyncGenerator<Uint8Array> {
  yield* generatedStream(sentBytes);
  throw error;
}

export async function readAll(stream: Readable | undefined): Promise<Buffer> {
  if (stream === undefined) throw new Error('no stream to read');
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
