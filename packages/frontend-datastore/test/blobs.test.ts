import { createHash } from 'node:crypto';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, type DatastoreDriver } from '../src/index.js';
import {
  driverOpen,
  freshTarget,
  patterned,
  piecesOf,
  readAll,
  testServerStart,
} from './helpers.js';

let server: RunningTestServer;
const opened: DatastoreDriver[] = [];

beforeAll(async () => {
  server = await testServerStart();
});

afterEach(async () => {
  for (const driver of opened.splice(0)) await driver.close();
});

afterAll(async () => {
  await server?.stop();
});

async function open(): Promise<DatastoreDriver> {
  const driver = await driverOpen(freshTarget('blobs'));
  opened.push(driver);
  return driver;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Streams `size` patterned bytes without holding them all, and hashes what it yields. */
function generated(size: number, seed: number) {
  const hash = createHash('sha256');
  const block = patterned(1024 * 1024 + 7, seed);
  const source = (async function* () {
    let sent = 0;
    while (sent < size) {
      const piece = block.subarray(0, Math.min(block.length, size - sent));
      hash.update(piece);
      sent += piece.length;
      yield Buffer.from(piece);
    }
  })();
  return { source, digest: () => hash.digest('hex') };
}

async function streamDigest(
  stream: AsyncIterable<unknown>,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const piece of stream) {
    hash.update(piece as Uint8Array);
    size += (piece as Uint8Array).length;
  }
  return { size, sha256: hash.digest('hex') };
}

// Field case FC-19: bodies around the entity limit and a large one round-trip, and the
// service's "entity too big" never surfaces.
describe('blob sizes around the entity limit', () => {
  const sizes = [
    CHUNK_BYTES - 1,
    CHUNK_BYTES,
    CHUNK_BYTES + 1,
    1_048_487,
    1_048_576,
    1_048_577,
    40 * 1024 * 1024,
  ];

  for (const size of sizes) {
    it(`a blob of ${size} bytes round-trips`, async () => {
      const driver = await open();
      server.counters.reset();
      const upload = generated(size, size % 251);

      const put = await driver.blobPut('body/0000abcd/000000000001-aa', upload.source);
      const blob = await driver.blobGet('body/0000abcd/000000000001-aa');

      expect(put.size).toBe(size);
      expect(blob?.size).toBe(size);
      expect(await streamDigest(blob?.stream ?? [])).toEqual({ size, sha256: upload.digest() });
      const statuses = Object.values(server.counters.statusCounts());
      expect(statuses.filter((byCode) => byCode.INVALID_ARGUMENT !== undefined)).toEqual([]);
    });
  }

  it('small blob stays in its head', async () => {
    const driver = await open();
    server.counters.reset();
    await driver.blobPut('b/small', piecesOf(patterned(CHUNK_BYTES, 3)));
    // One lookup and one insert of the group's directory entry, one insert of the head.
    expect(server.counters.callCounts()).toEqual({ Lookup: 1, Commit: 2 });
  });
});

describe('interrupted uploads', () => {
  async function* failingAfter(data: Buffer, bytes: number): AsyncGenerator<Uint8Array> {
    yield* piecesOf(data.subarray(0, bytes), 256 * 1024);
    throw new Error('upload cut off by the test');
  }

  it('a cut upload leaves no visible blob and no chunk', async () => {
    const driver = await open();
    const data = patterned(20 * CHUNK_BYTES, 5);

    await expect(
      driver.blobPut('body/0000abcd/000000000002-bb', failingAfter(data, 17 * CHUNK_BYTES + 5)),
    ).rejects.toThrow(/cut off/);

    expect(await driver.blobGet('body/0000abcd/000000000002-bb')).toBeNull();
    expect(await driver.blobList('body/', { limit: 10 })).toEqual([]);
    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 0, chunks: 0 });
  });

  it('orphan sweep keeps live chunks', async () => {
    const driver = await open();
    const kept = patterned(3 * CHUNK_BYTES + 11, 6);
    await driver.blobPut('body/0000abcd/000000000003-cc', piecesOf(kept));

    // Nine chunks in: the first eight are committed. Then the service refuses the delete
    // that would clean them up, and the upload fails.
    const data = patterned(9 * CHUNK_BYTES, 7);
    async function* cutWithRefusedCleanup(): AsyncGenerator<Uint8Array> {
      yield* piecesOf(data, 256 * 1024);
      yield Buffer.from([1]);
      server.injectFault({ method: 'Commit', code: 3, message: 'delete refused by the test' });
      throw new Error('upload cut off by the test');
    }
    await expect(
      driver.blobPut('body/0000abcd/000000000004-dd', cutWithRefusedCleanup()),
    ).rejects.toThrow(/cut off/);
    expect(await driver.blobGet('body/0000abcd/000000000004-dd')).toBeNull();

    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 1, chunks: 8 });
    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 0, chunks: 0 });
    const blob = await driver.blobGet('body/0000abcd/000000000003-cc');
    expect(sha256(await readAll(blob?.stream ?? []))).toBe(sha256(kept));
  });

  it('the sweep leaves young uploads alone', async () => {
    const driver = await open();
    const data = patterned(9 * CHUNK_BYTES, 8);
    async function* cutWithRefusedCleanup(): AsyncGenerator<Uint8Array> {
      yield* piecesOf(data, 256 * 1024);
      yield Buffer.from([1]);
      server.injectFault({ method: 'Commit', code: 3, message: 'delete refused by the test' });
      throw new Error('upload cut off by the test');
    }
    await expect(driver.blobPut('b/young', cutWithRefusedCleanup())).rejects.toThrow(/cut off/);

    expect(await driver.collectOrphanChunks()).toEqual({ uploads: 0, chunks: 0 });
    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 1, chunks: 8 });
  });

  it('a replaced blob leaves no chunk of its old upload', async () => {
    const driver = await open();
    await driver.blobPut('b/replaced', piecesOf(patterned(4 * CHUNK_BYTES, 9)));
    const second = patterned(2 * CHUNK_BYTES + 1, 10);
    await driver.blobPut('b/replaced', piecesOf(second));

    const blob = await driver.blobGet('b/replaced');
    expect(sha256(await readAll(blob?.stream ?? []))).toBe(sha256(second));
    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 0, chunks: 0 });
  });

  it('a deleted blob leaves no chunk', async () => {
    const driver = await open();
    await driver.blobPut('b/deleted', piecesOf(patterned(2 * CHUNK_BYTES + 1, 11)));
    await driver.blobDelete('b/deleted');

    expect(await driver.blobGet('b/deleted')).toBeNull();
    expect(await driver.collectOrphanChunks({ minAgeMs: 0 })).toEqual({ uploads: 0, chunks: 0 });
  });
});
