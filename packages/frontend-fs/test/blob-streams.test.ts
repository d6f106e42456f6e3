import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StorageFault } from '@smtpq/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FsDriver, openFsDriver } from '../src/index.js';
import { blobText, chunksOf, TracingLayer, tempDriver } from './helpers.js';

let driver: FsDriver;
let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ driver, dir, cleanup } = await tempDriver());
});

afterEach(async () => {
  await cleanup();
});

/** Deterministic bytes: chunk `index` of a pseudo-random sequence. */
function chunkBytes(index: number, size: number): Buffer {
  const chunk = Buffer.alloc(size);
  let seed = index * 2654435761 + 1;
  for (let offset = 0; offset < size; offset += 4) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    chunk.writeUInt32LE(seed, offset);
  }
  return chunk;
}

describe('blob streams', () => {
  it('a 40 MiB blob round-trips byte-identical', async () => {
    const chunkSize = 1024 * 1024;
    const chunks = 40;
    const written = createHash('sha256');
    async function* source(): AsyncIterable<Uint8Array> {
      for (let index = 0; index < chunks; index++) {
        const chunk = chunkBytes(index, chunkSize);
        written.update(chunk);
        yield chunk;
      }
    }

    const put = await driver.blobPut('body/0000abcd/large', source());

    expect(put.size).toBe(chunks * chunkSize);
    const blob = await driver.blobGet('body/0000abcd/large');
    expect(blob?.size).toBe(chunks * chunkSize);
    const read = createHash('sha256');
    let bytes = 0;
    for await (const chunk of blob?.stream ?? []) {
      read.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    expect(bytes).toBe(chunks * chunkSize);
    expect(read.digest('hex')).toBe(written.digest('hex'));
  });

  it('blobPut writes each chunk to disk before the next one arrives', async () => {
    const tmp = join(dir, 'tmp');
    const sizesOnDisk: number[] = [];
    async function* source(): AsyncIterable<Uint8Array> {
      for (let index = 0; index < 3; index++) {
        const names = await readdir(tmp);
        sizesOnDisk.push(
          names.length === 1 ? (await stat(join(tmp, names[0] as string))).size : -1,
        );
        yield Buffer.alloc(256 * 1024, index);
      }
    }

    await driver.blobPut('body/0000abcd/streamed', source());

    // Before chunk n is pulled, the staging file contains the n chunks before it.
    expect(sizesOnDisk).toEqual([0, 256 * 1024, 512 * 1024]);
  });

  it('a failing source rejects with its own error and changes nothing', async () => {
    await driver.blobPut('body/0000abcd/b', chunksOf('old body'));
    const sourceError = new Error('client went away');
    async function* source(): AsyncIterable<Uint8Array> {
      yield Buffer.from('new bytes that must not appear');
      throw sourceError;
    }

    await expect(driver.blobPut('body/0000abcd/b', source())).rejects.toBe(sourceError);

    expect(await blobText(await driver.blobGet('body/0000abcd/b'))).toBe('old body');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('source errno errors pass unchanged', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    async function* source(): AsyncIterable<Uint8Array> {
      yield Buffer.from('partial');
      throw reset;
    }

    const failure = await driver.blobPut('body/0000abcd/b', source()).catch((error) => error);

    expect(failure).toBe(reset);
    expect(failure).not.toBeInstanceOf(StorageFault);
    expect(await driver.blobGet('body/0000abcd/b')).toBeNull();
  });

  it('a stream destroyed early closes its file', async () => {
    const trace = new TracingLayer();
    const traced = await openFsDriver(dir, { fs: trace.layer });
    const entry = join(dir, 'blobs/body/0000abcd/b@');
    await traced.blobPut('body/0000abcd/b', chunksOf(Buffer.alloc(1024 * 1024, 1)));

    for (let round = 0; round < 5; round++) {
      const blob = await traced.blobGet('body/0000abcd/b');
      const stream = blob?.stream as Readable;
      if (round % 2 === 1) stream.read(1);
      stream.destroy();
      await once(stream, 'close');
    }
    await traced.close();

    const opened = trace.events.filter((e) => e.op === 'open' && e.phase === 'done');
    const closed = trace.events.filter((e) => e.op === 'close' && e.phase === 'done');
    expect(opened.filter((e) => e.path === entry)).toHaveLength(5);
    expect(closed.filter((e) => e.path === entry)).toHaveLength(5);
  });
});
